"""DVC stage `tune-<method>@<config>`: fine-tune (or fit) one method on the filtered challenge dialogues.

python stages/tune.py CONFIG METHOD      (a name of params.yaml `methods`)

A trained method runs once per seed of `tune.seeds` (models/<config>/tuned/<method>/seed_<s>; random:
a draw of heads each); a training-free one once (models/<config>/tuned/<method>).
"""

from contextlib import nullcontext

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import models, params
from pinpoint.console import print_table
from pinpoint.data import io, schema
from pinpoint.heads import HeadLayout
from pinpoint.params import ParamsError
from pinpoint.stage import atomic_dir, main_process, read_json, run_stage, write_json
from pinpoint.tuning import METHODS, spt, train


def heads_for(method, top_k: int | None, paths, layout: HeadLayout, seed: int) -> list[tuple[int, int]]:
    """The heads a method gets: attribute's selection (or the top k of its ranking: `tune.spt.top_k`, for every
    method that takes heads), as many random ones, or none."""
    if method.heads == "none":
        return []
    found = read_json(paths.heads)
    k = top_k or len(found["heads"])
    chosen = [tuple(h) for h in (found["ranking"][:k] if top_k else found["heads"])]
    if any(not (0 <= l < layout.n_layers and 0 <= h < layout.n_heads) for l, h in chosen):
        raise ParamsError(
            f"{paths.heads}: a head lies outside the model's {layout.n_layers} x {layout.n_heads} heads; "
            "re-run attribute"
        )
    return spt.random_heads(layout, len(chosen), seed) if method.heads == "random" else chosen


def main(paths, name: str = ""):
    if name not in params.methods():
        raise ParamsError(
            f"tune: method must be one of {', '.join(params.methods())} (params.yaml methods), got {name!r}"
        )
    method, tune = METHODS[name], params.load("tune", paths.config, method=name)
    top_k = params.load("tune", paths.config, method="spt").spt.top_k if method.heads != "none" else None
    budget = params.load("replies", paths.config).max_new_tokens
    fmt = io.read_meta(paths.filtered)["format"]
    records = schema.read(paths.filtered / "are_you_sure.jsonl")
    layout = HeadLayout.of(models.model_config(paths.base))  # checked before any weights load
    out = paths.tuned(name)
    seeds = tune.seeds if method.trains else [None]
    rows, curves = {}, {}
    with atomic_dir(out) if main_process() else nullcontext(out) as tmp:
        for seed in seeds:
            run = f"seed_{seed}" if seed is not None else name
            where = tmp / run if seed is not None else tmp
            where.mkdir(parents=True, exist_ok=True)
            job = train.Job(
                method,
                tune,
                paths.base,
                where,
                out / run if seed is not None else out,
                heads_for(method, top_k, paths, layout, seed or 0),
                seed or 0,
                records,
                fmt,
                paths.pairs if paths.pairs.exists() else None,
                budget,
            )
            rows[run], curves[run] = train.run(job)
            if job.heads:
                rows[run]["heads"] = " ".join(f"L{l}H{h}" for l, h in job.heads)
    if not main_process():
        return
    write_json(paths.metrics / "tune" / f"{name}.json", rows)
    steps = next(iter(curves.values()), [])
    write_json(
        paths.plots / "tune" / f"{name}.json",
        [{"step": c["step"], **{r: curves[r][i]["loss"] for r in curves}} for i, c in enumerate(steps)],
    )
    print_table(f"tune {name}", rows, "run")


if __name__ == "__main__":
    run_stage(main)
