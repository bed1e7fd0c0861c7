"""A local jsonl file of facts: lines of {"input", "label", optional "labels", "question", "topic"}."""

from __future__ import annotations

from pathlib import Path

from pinpoint.data.fact import Fact
from pinpoint.data.schema import iter_jsonl
from pinpoint.errors import UserError
from pinpoint.registry.facts import FactSource


def load(src, model_dir: Path) -> list[Fact]:
    """Lines of {"input", "label", optional "labels", "question", "topic"}."""
    path = Path(src.path or "")
    if not path.is_file():
        raise UserError(f"synthesize.sources: jsonl file {str(path)!r} not found")
    facts = []
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("input"), str) or not isinstance(row.get("label"), str):
            raise UserError(f"{path}:{n}: expected an object with string fields 'input' and 'label'")
        labels = row.get("labels") or []
        if not labels and not row["label"].lstrip("-").isdigit():
            raise UserError(
                f"{path}:{n}: a non-numeric label needs 'labels' (the label names) to draw a wrong one from"
            )
        facts.append(
            Fact(
                id=f"{path.stem}-{n}",
                source=f"jsonl:{path.stem}",
                input=row["input"],
                label=row["label"],
                labels=labels,
                question=row.get("question"),
                topic=row.get("topic", "this"),
            )
        )
        if src.limit and len(facts) >= src.limit:
            break
    return facts


SOURCE = FactSource("jsonl", load, "a local jsonl file of facts", needs_path=True)
