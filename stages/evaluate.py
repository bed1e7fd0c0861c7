"""DVC stage `evaluate`: every model on every suite; metrics/eval.json and the summary table."""

from pathlib import Path

from pinpoint import models, params, report
from pinpoint.data import io
from pinpoint.evaluation import suites
from pinpoint.stage import UserError, read_json, run_stage, write_json, write_text

DATA, METRICS, SUMMARY, BON = Path("data/filtered"), Path("metrics/eval.json"), Path("metrics/summary.md"), Path("metrics/bon.json")


def model_dirs(name: str) -> list[Path]:
    """A model directory, or its seeds (models/random/seed_*)."""
    d = Path("models") / name
    if (d / models.MANIFEST).exists():
        return [d]
    seeds = sorted(x for x in d.glob("seed_*") if (x / models.MANIFEST).exists())
    if not seeds:
        raise UserError(f"evaluate.models: {d} is not a model directory (has its tune stage run?)")
    return seeds


def main():
    p = params.load("evaluate")
    meta = io.read_meta(DATA)
    dirs = {name: model_dirs(name) for name in p.models}  # fail before loading anything
    base, tokenizer = models.load("models/base", device=p.device)
    ctx = suites.Context(DATA, meta["format"], tokenizer, p.batch_size, p.max_new_tokens, p.max_items, base,
                         p.external.sycophancy_eval, p.external.perez)
    results = {}
    for name, paths in dirs.items():
        runs = []
        for path in paths:
            model = base if name == "base" else models.load(path, device=p.device)[0]
            print(f"evaluating {path}", flush=True)
            runs.append(suites.evaluate(model, tokenizer, p.suites, ctx))
        results[name] = report.average_runs(runs)
    if BON.exists():  # probe-penalised best-of-N rows, from the probe stage
        results.update(read_json(BON))
    write_json(METRICS, results)
    table = report.summary_table(results)
    write_text(SUMMARY, table + "\n")
    report.comparison_plot(results, Path("plots/eval.png"))
    write_json(Path("plots/eval.json"), report.long_rows(results))
    print("\n" + table + "\n")


if __name__ == "__main__":
    run_stage(main)
