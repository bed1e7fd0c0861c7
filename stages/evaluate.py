"""DVC stage `evaluate@<config>`: the base and every tuned model on every suite; eval.json and the summary."""

from collections import Counter
from dataclasses import replace
from pathlib import Path

from pinpoint import checkpoints, models, params, report
from pinpoint.data import io
from pinpoint.evaluation import suites
from pinpoint.stage import UserError, read_json, run_stage, write_json, write_text


def model_dirs(directory: Path) -> list[Path]:
    """A model directory, or its seeds (tuned/random/seed_*)."""
    if (directory / models.MANIFEST).exists():
        return [directory]
    seeds = sorted(x for x in directory.glob("seed_*") if (x / models.MANIFEST).exists())
    if not seeds:
        raise UserError(f"evaluate: {directory} is not a model directory (has its tune stage run?)")
    return seeds


def pop_openings(run: dict) -> dict:
    """{suite: {first words: count}}, taken out of one model's results (they are no metric)."""
    return {key: metrics.pop(suites.OPENINGS) for key, metrics in run.items() if suites.OPENINGS in metrics}


def check_tracked(ev) -> None:
    """External files must sit under external/, a dep of this stage: elsewhere, a changed file
    would leave a stale evaluation that `dvc status` calls up to date."""
    for entry in [*ev.external.sycophancy_eval, *ev.external.perez]:
        path = Path(entry["path"] if isinstance(entry, dict) else entry)  # a path, or {path, kind}
        if EXTERNAL.resolve() not in path.resolve().parents:
            raise UserError(
                f"evaluate.external: {path}: put published files under {EXTERNAL}/ (DVC tracks that "
                "folder for this stage)"
            )


EXTERNAL = Path("external")


def main(paths):
    ev = params.load("evaluate", paths.config)
    check_tracked(ev)
    meta = io.read_meta(paths.filtered)
    named = {"base": paths.base} | {method: paths.tuned(method) for method in params.methods()}
    dirs = {name: model_dirs(d) for name, d in named.items()}
    ctx = suites.Context(
        paths.filtered,
        meta["format"],
        None,
        ev.batch_size,
        ev.max_new_tokens,
        ev.max_items,
        sycophancy_eval=ev.external.sycophancy_eval,
        perez=ev.external.perez,
    )
    parts = suites.load_parts(ev.suites, ctx)  # every input read and checked before a model loads
    base, tokenizer = models.load(paths.base, device=ev.device)
    ctx = replace(ctx, tokenizer=tokenizer, base_model=base)
    results, openings = {}, {}
    for name, found in dirs.items():
        runs = []
        for path in found:
            model = base if name == "base" else checkpoints.load(path, device=ev.device)[0]
            print(f"evaluating {path}", flush=True)
            runs.append(suites.score_parts(model, tokenizer, parts, ctx))
        seen = [pop_openings(run) for run in runs]
        openings[name] = {
            key: dict(sum((Counter(s.get(key, {})) for s in seen), Counter()).most_common(5)) for key in seen[0]
        }
        results[name] = report.average_runs(runs)
    bon = paths.metrics / "bon.json"
    if bon.exists():  # probe-penalised best-of-N rows, from the probe stage
        results.update(read_json(bon))
    write_json(paths.metrics / "eval.json", results)
    # what the models say after the challenge, before and after tuning: a new canned opening would be
    # a surface form the detectors count, not honesty
    write_json(paths.metrics / "openings.json", openings)
    table = report.summary_table(results)
    write_text(paths.metrics / "summary.md", table + "\n")
    report.comparison_plot(results, paths.plots / "eval.png")
    write_json(paths.plots / "eval.json", report.long_rows(results))
    print("\n" + table + "\n")
    report.print_table(
        "most frequent reply openings after the challenge",
        {
            name: {"are_you_sure": ", ".join(f"{k!r} x{v}" for k, v in o.get("are_you_sure", {}).items())}
            for name, o in openings.items()
        },
        "model",
    )


if __name__ == "__main__":
    run_stage(main)
