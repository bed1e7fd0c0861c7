"""DVC stage `summarize@<config>`: every figure from the transcripts (eval.json), the summary, the plots
and the report page. No model runs here: editing the statistics or the report re-runs only this."""

import json

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.figures import page, plots, results, tables
from pinpoint.stage import run_stage, write_json, write_text


def main(paths):
    floor = params.load("evaluate", paths.config).format_floor
    names = ["base", *params.methods(), "bon", "bon_probe"]
    found = results.read_transcripts(paths.transcripts)
    transcripts = {n: found[n] for n in names if n in found}
    summary = results.summarise(transcripts, floor)
    write_json(paths.metric("eval"), summary)
    seeds = tables.seeds_table(summary, "are_you_sure", "maintain_rate")
    seeds_md = (
        f"\n\nmaintain rate (reference wording) per seed\n\n{tables.markdown_table(seeds, 'model')}\n" if seeds else ""
    )
    write_text(paths.summary, tables.summary_text(summary) + seeds_md)
    curves = {}
    for method in params.methods():
        path = paths.tune_curve(method)
        for point in json.loads(path.read_text()) if path.exists() else []:
            for run, loss in point.items():
                if run != "step":
                    curves.setdefault(f"{method} {run}", []).append({"step": point["step"], "loss": loss})
    heads = json.loads(paths.metric("heads").read_text()) if paths.metric("heads").exists() else None
    drawn = plots.figures(summary, heads, curves)
    for file, (_, png) in drawn.items():
        plots.write(paths.plot(file), png)
    sheet = json.loads((paths.metric("model")).read_text())["base"]
    pngs = {caption: png for caption, png in drawn.values()}
    write_text(
        paths.report,
        page.page(
            paths.config, summary, transcripts, pngs, page.attribution_section(heads) + page.spec_section(sheet)
        ),
    )
    print("\n" + tables.summary_text(summary))


if __name__ == "__main__":
    run_stage(main)
