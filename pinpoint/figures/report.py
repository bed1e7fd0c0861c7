"""What `pinpoint report` shows of one configuration: every table, from metrics/ and the git-ignored logs/."""

from __future__ import annotations

import json

from pinpoint.figures import tables
from pinpoint.manifest import read_manifest
from pinpoint.paths import Paths


def _flat(row: dict) -> dict:
    """A spec-sheet-like row for a table: figures by value, nested tables left out."""
    out = {}
    for k, v in row.items():
        if isinstance(v, dict) and "value" in v:
            out[k] = tables.interval(v)
        elif not isinstance(v, (dict, list)):
            out[k] = v
    return out


def configuration(paths: Paths) -> str:
    """Every table of one configuration ("" when it has no metrics yet)."""
    metrics = paths.metrics
    if not metrics.exists():
        return ""
    out = [f"# {paths.config}\n"]
    if paths.metric("model").exists():
        sheet = json.loads(paths.metric("model").read_text())["base"]
        out.append(f"## the base model\n\n{tables.markdown_table({'base': _flat(sheet)})}\n")
        if isinstance(sheet.get("challenge"), dict):
            out.append(
                f"challenged after its own right answer (SPT's wording): "
                f"{ {k: tables.interval(v) for k, v in sheet['challenge'].items()} }\n"
            )
    if paths.metric("filter").exists():
        data = json.loads(paths.metric("filter").read_text())
        flat = {
            s: {k: (f"{v['kept']}/{v['total']}" if isinstance(v, dict) else v) for k, v in r.items()}
            for s, r in data.items()
        }
        out.append(f"## knowledge filter\n\n{tables.markdown_table(flat, 'source')}\n")
    if paths.metric("eval").exists():
        out.append(f"## evaluation\n\n{tables.summary_text(json.loads(paths.metric('eval').read_text()))}")
    tune = {
        run: row
        for f in sorted(paths.tune_metrics("*").parent.glob("*.json"))
        for run, row in ((f"{f.stem} {k}" if k != f.stem else k, v) for k, v in json.loads(f.read_text()).items())
    }
    if tune:
        out.append(f"## tuning\n\n{tables.markdown_table({k: _flat(v) for k, v in tune.items()}, 'run')}\n")
    if paths.metric("probe").exists():
        pj = json.loads(paths.metric("probe").read_text())
        layers = tables.markdown_table({f"layer {k}": v for k, v in pj["layers"].items()})
        out.append(f"## sycophancy probe (kept: layer {pj['best_layer']}, lambda {pj['lambda']})\n\n{layers}\n")
    if paths.metric("heads").exists():
        out.append(f"## attribution\n\n{tables.attribution_text(json.loads(paths.metric('heads').read_text()))}")
    if paths.base.exists():
        built = read_manifest(paths.base).get("built_with")
        if built:
            flat = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in built.items()}
            out.append(f"## built with\n\n{tables.markdown_table({'base': flat})}\n")
    costs = {
        f.stem: {k: v for k, v in json.loads(f.read_text()).items() if k != "modules"}
        for f in sorted(paths.logs.glob("*.json"))
    }
    if costs:  # machine-dependent: from the git-ignored logs/, never a versioned metric
        out.append(
            f"## what the stages cost on this machine (logs/{paths.config}/)\n\n"
            f"{tables.markdown_table(costs, 'stage')}\n"
        )
    return "\n".join(out)
