"""DVC stage `tune-<method>@<config>`: fine-tune (or fit) one method on the filtered challenge dialogues.

python stages/tune.py CONFIG METHOD      (a name of params.yaml `methods`)

A trained method runs once per seed of `tune.seeds` (models/<config>/tuned/<method>/seed_<s>; random:
a draw of heads each); a training-free one once (models/<config>/tuned/<method>).
"""

from contextlib import nullcontext

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.console import print_table
from pinpoint.params import ParamsError
from pinpoint.stage import atomic_dir, main_process, run_stage, write_json
from pinpoint.tuning import job


def main(paths, name: str = ""):
    if name not in params.methods():
        raise ParamsError(
            f"tune: method must be one of {', '.join(params.methods())} (params.yaml methods), got {name!r}"
        )
    out = paths.tuned(name)
    rows, curves = {}, {}
    with atomic_dir(out) if main_process() else nullcontext(out) as tmp:
        for run in job.plan(paths, name, tmp):  # params, records and heads checked before any weights load
            rows[run.run], curves[run.run] = job.run(run)
            if run.heads:
                rows[run.run]["heads"] = " ".join(f"L{l}H{h}" for l, h in run.heads)
    if not main_process():
        return
    write_json(paths.tune_metrics(name), rows)
    steps = next(iter(curves.values()), [])
    write_json(
        paths.tune_curve(name),
        [{"step": c["step"], **{r: curves[r][i]["loss"] for r in curves}} for i, c in enumerate(steps)],
    )
    print_table(f"tune {name}", rows, "run")


if __name__ == "__main__":
    run_stage(main)
