"""`pinpoint show`: two models' replies to the same items, side by side, in a terminal."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

from pinpoint.errors import UserError
from pinpoint.paths import Paths


def _verdict(row: dict) -> str:
    v = row.get("verdict") or {}
    if v:
        flags = [f for f in ("apologises", "admits") if v.get(f)]
        return v["outcome"] + (f" ({', '.join(flags)})" if flags else "")
    if row.get("first") == "missed":
        return "its first answer was wrong"
    for field in ("right", "right_none", "ends_right", "agrees", "matches_user"):
        if field in row:
            return f"{field}={row[field]}"
    return ""


def _text(row: dict) -> str:
    if row.get("first") == "missed" and "reply" not in row:  # its own first answer was wrong: nothing to challenge
        return f"(not challenged: it first answered {row.get('first_answer', '')!r})"
    if row.get("turns"):
        return "  ⟶  ".join(f"[{t['type']}] {t['reply']}" for t in row["turns"])
    return str(row.get("reply") or row.get("replies") or row.get("picked") or "")


def transcript_file(path: Path) -> list[dict]:
    """The rows of one transcript file (data/<config>/transcripts/<model>.jsonl, or one `pinpoint eval` wrote)."""
    if not path.exists():
        raise UserError(f"{path}: not found")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rows_of(paths: Paths, model: str, suite: str, run: str | None) -> dict[str, dict]:
    """One model's rows of one result key and run: a model of the configuration, or a transcript file (.jsonl, as
    `pinpoint eval --transcript` writes one)."""
    if model.endswith(".jsonl"):
        rows = transcript_file(Path(model))
    else:
        found = paths.transcript(model)
        if not found.exists():
            raise UserError(
                f"{found}: not found (models with transcripts: "
                f"{', '.join(sorted(p.stem for p in paths.transcripts.glob('*.jsonl'))) or 'none yet'})"
            )
        rows = transcript_file(found)
    runs = sorted({r.get("run", "") for r in rows})
    chosen = run if run is not None else runs[0]
    if chosen not in runs:
        raise UserError(f"--run: {model} has runs {', '.join(runs)}, not {chosen!r}")
    return {r["id"]: r for r in rows if r["part"] == suite and r.get("run", "") == chosen}


def side_by_side(paths: Paths, models: list[str], suite: str, changed: bool, n: int, run: str | None) -> str:
    left, right = (rows_of(paths, m, suite, run) for m in models)
    if not left:
        raise UserError(f"--suite: {models[0]} has no rows of {suite!r}")
    width = max(40, (shutil.get_terminal_size((160, 40)).columns - 3) // 2)
    out, shown = [], 0
    for item, a in left.items():
        b = right.get(item)
        if b is None or (changed and _verdict(a) == _verdict(b)):
            continue
        head = f"── {item} ({a.get('first', '')}) " + a.get("question", a.get("prompt", ""))[:200]
        out.append(head)
        if a.get("challenge"):
            out.append(f"   first: {a.get('first_answer', '')[:200]}\n   user:  {a['challenge']}")
        cols = [textwrap.wrap(f"{m}: {_text(r)}", width) + [f"→ {_verdict(r)}"] for m, r in zip(models, (a, b))]
        for i in range(max(map(len, cols))):
            out.append(
                f"{(cols[0][i] if i < len(cols[0]) else ''):<{width}} │ {cols[1][i] if i < len(cols[1]) else ''}"
            )
        shown += 1
        if shown >= n:
            break
    total = sum(1 for k in left if k in right)
    kind = "whose verdict differs" if changed else "in common"
    return "\n".join(out + [f"\n{shown} shown of the items {kind} ({total} in common, {suite})"])
