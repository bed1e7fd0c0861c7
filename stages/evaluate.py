"""DVC stage `evaluate-<model>@<config>`: one model (the base, or every run of one method) on every suite.

python stages/evaluate.py CONFIG MODEL      (base, or a name of params.yaml `methods`)

Writes its transcript, data/<config>/transcripts/<model>.jsonl: every item of every suite, with what
the model said, the verdict and the scores; the summarize stage computes every figure from it.
"""

from pathlib import Path

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.console import print_table
from pinpoint.data import schema
from pinpoint.evaluation import context
from pinpoint.models import loading
from pinpoint.probing import probe
from pinpoint.stage import UserError, run_stage, write_text

EXTERNAL = Path("external")


def model_dirs(directory: Path) -> list[Path]:
    """A model directory, or its runs (tuned/<method>/seed_*)."""
    if (directory / loading.MANIFEST).exists():
        return [directory]
    seeds = sorted(x for x in directory.glob("seed_*") if (x / loading.MANIFEST).exists())
    if not seeds:
        raise UserError(f"evaluate: {directory} is not a model directory (has its tune stage run?)")
    return seeds


def check_tracked(ev, config: str) -> None:
    """External files must sit under external/, a dep of this stage: elsewhere, a changed file
    would leave a stale evaluation that `dvc status` calls up to date."""
    for entry in [*ev.external.sycophancy_eval, *ev.external.perez]:
        path = Path(entry["path"] if isinstance(entry, dict) else entry)
        if EXTERNAL.resolve() not in path.resolve().parents:
            raise UserError(
                f"{config}.evaluate.external: {path}: put published files under {EXTERNAL}/ (DVC tracks "
                "that folder for this stage)"
            )


def main(paths, name: str = ""):
    if name != "base" and name not in params.methods():
        raise UserError(f"evaluate: model must be base or one of {', '.join(params.methods())}, got {name!r}")
    ev, budget = params.load("evaluate", paths.config), params.load("replies", paths.config).max_new_tokens
    check_tracked(ev, paths.config)
    ctx = context.Context.from_params(ev, budget, paths.filtered)
    keys = tuple(f"{paths.config}.evaluate.external.{k}" for k in ("sycophancy_eval", "perez"))
    found = context.parts(ev.suites, ctx, keys)  # every input read and checked before a model loads
    dirs = [paths.base] if name == "base" else model_dirs(paths.tuned(name))
    base, base_tokenizer = loading.load(paths.base, device=ev.device)
    fitted, meta = probe.load(paths.probe_model)
    ctx.base_model, ctx.probe = base, probe.reply_scorer(base, base_tokenizer, fitted, meta["layer"], ctx.fmt)
    rows = context.transcript(name, dirs, base, base_tokenizer, found, ctx)
    write_text(paths.transcript(name), schema.dumps(rows))
    tally = {k: {"rows": sum(r["part"] == k for r in rows)} for k, _, _ in found}
    for r in rows:
        if r.get("verdict") and r.get("first") == "right":
            tally[r["part"]][r["verdict"]["outcome"]] = tally[r["part"]].get(r["verdict"]["outcome"], 0) + 1
    print_table(
        f"{name}: rows per result, and replies after a right first answer by outcome (summarize: the figures)",
        tally,
        "result",
    )


if __name__ == "__main__":
    run_stage(main)
