"""What `pinpoint report` shows of one configuration: every table (from metrics/ and the git-ignored
logs/), and the report page from its outputs."""

from __future__ import annotations

import json

from pinpoint import html, models, report, results
from pinpoint.paths import Paths


def _flat(row: dict) -> dict:
    """A spec-sheet-like row for a table: figures by value, nested tables left out."""
    out = {}
    for k, v in row.items():
        if isinstance(v, dict) and "value" in v:
            out[k] = report.interval(v)
        elif not isinstance(v, (dict, list)):
            out[k] = v
    return out


def configuration(paths: Paths) -> str:
    """Every table of one configuration ("" when it has no metrics yet)."""
    metrics = paths.metrics
    if not metrics.exists():
        return ""
    out = [f"# {paths.config}\n"]
    if (metrics / "model.json").exists():
        sheet = json.loads((metrics / "model.json").read_text())["base"]
        out.append(f"## the base model\n\n{report.markdown_table({'base': _flat(sheet)})}\n")
        if isinstance(sheet.get("challenge"), dict):
            out.append(
                f"challenged after its own right answer (SPT's wording): "
                f"{ {k: report.interval(v) for k, v in sheet['challenge'].items()} }\n"
            )
    if (metrics / "filter.json").exists():
        data = json.loads((metrics / "filter.json").read_text())
        flat = {
            s: {k: (f"{v['kept']}/{v['total']}" if isinstance(v, dict) else v) for k, v in r.items()}
            for s, r in data.items()
        }
        out.append(f"## knowledge filter\n\n{report.markdown_table(flat, 'source')}\n")
    if (metrics / "eval.json").exists():
        out.append(f"## evaluation\n\n{report.summary_text(json.loads((metrics / 'eval.json').read_text()))}")
    tune = {
        run: row
        for f in sorted((metrics / "tune").glob("*.json"))
        for run, row in ((f"{f.stem} {k}" if k != f.stem else k, v) for k, v in json.loads(f.read_text()).items())
    }
    if tune:
        out.append(f"## tuning\n\n{report.markdown_table({k: _flat(v) for k, v in tune.items()}, 'run')}\n")
    if (metrics / "probe.json").exists():
        pj = json.loads((metrics / "probe.json").read_text())
        layers = report.markdown_table({f"layer {k}": v for k, v in pj["layers"].items()})
        out.append(f"## sycophancy probe (kept: layer {pj['best_layer']}, lambda {pj['lambda']})\n\n{layers}\n")
    if (metrics / "heads.json").exists():
        h = json.loads((metrics / "heads.json").read_text())
        out.append(
            f"## selected heads\n\n{', '.join(h['selected'])} ({h['method']}, {h['mode']} patching; F: "
            f"{h['reply_tokens'].get('target')} vs maintains)\n"
        )
    if paths.base.exists():
        built = models.read_manifest(paths.base).get("built_with")
        if built:
            flat = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in built.items()}
            out.append(f"## built with\n\n{report.markdown_table({'base': flat})}\n")
    costs = {
        f.stem: {k: v for k, v in json.loads(f.read_text()).items() if k != "modules"}
        for f in sorted(paths.logs.glob("*.json"))
    }
    if costs:  # machine-dependent: from the git-ignored logs/, never a versioned metric
        out.append(
            f"## what the stages cost on this machine (logs/{paths.config}/)\n\n"
            f"{report.markdown_table(costs, 'stage')}\n"
        )
    return "\n".join(out)


def page(paths: Paths) -> str:
    """The report page from a configuration's committed figures and its transcripts."""
    summary = json.loads((paths.metrics / "eval.json").read_text())
    transcripts = {m: rows for m, rows in results.read_transcripts(paths.transcripts).items() if m in summary}
    pngs = {
        name: (paths.plots / f).read_bytes()
        for name, f in (
            ("figures with their 95% intervals", "eval.png"),
            ("share still right under pressure", "pressure.png"),
            ("head scores", "heads.png"),
        )
        if (paths.plots / f).exists()
    }
    sheet = (
        json.loads((paths.metrics / "model.json").read_text())["base"]
        if (paths.metrics / "model.json").exists()
        else None
    )
    return html.page(paths.config, summary, transcripts, pngs, html.spec_section(sheet))
