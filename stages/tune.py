"""DVC stage `tune@<config>-<method>`: fine-tune the base model on the filtered challenge dialogues.

python stages/tune.py CONFIG spt | sft | lora | random
"""

import json
from contextlib import nullcontext
from pathlib import Path

import torch

from pinpoint import models, params
from pinpoint.data import io, schema
from pinpoint.heads import HeadLayout
from pinpoint.params import ParamsError
from pinpoint.report import print_table
from pinpoint.stage import atomic_dir, main_process, read_json, run_stage, write_json
from pinpoint.tuning import METHODS, loop, spt
from pinpoint.tuning import base as checkpoint
from pinpoint.tuning.data import examples


def process_device(device: str) -> str:
    """Under `accelerate launch` each process loads onto its own device (cuda:LOCAL_RANK), not all onto cuda:0."""
    from accelerate import PartialState

    state = PartialState()
    return str(state.device) if state.num_processes > 1 else device


def tune_one(paths, method: str, heads, tune, out: Path, seed: int, data, meta) -> tuple[dict, list[dict]]:
    # fp32 master weights (bf16 via autocast); under `accelerate launch`, each process on its own device
    model, tokenizer = models.load(paths.base, dtype="float32", device=process_device(tune.device))
    layout = HeadLayout.of(model)
    train = examples(data, tokenizer, meta["format"], tune.general_ratio, seed)
    torch.manual_seed(seed)  # LoRA draws its initial adapters in prepare
    model, trainable, state = METHODS[method].prepare(model, layout, heads, tune)
    lr = tune.learning_rate(method)
    curve = loop.train(
        model,
        trainable,
        train,
        steps=tune.steps,
        batch_size=tune.batch_size,
        lr=lr,
        weight_decay=tune.weight_decay,
        seed=seed,
        pad_id=tokenizer.pad_token_id,
        mixed_precision=tune.mixed_precision,
        desc=f"tune {method}",
    )
    with atomic_dir(out) if main_process() else nullcontext(out) as tmp:  # every process trained the same weights
        METHODS[method].save(model, state, tmp, tokenizer)
        models.write_manifest(tmp, checkpoint.manifest(method, paths.base, out, layout, heads, seed))
        (tmp / "curve.json").write_text(json.dumps(curve) + "\n")
    n_trainable = sum(q.numel() for q in trainable)
    n_params = sum(q.numel() for q in model.parameters() if not q.requires_grad) + n_trainable
    return {
        "trainable_params": n_trainable,
        "trainable_share": round(n_trainable / n_params, 6),
        "optimizer_state_bytes": loop.optimizer_state_bytes(trainable),
        "final_loss": curve[-1]["loss"],
        "steps": tune.steps,
        "examples": len(train),
    }, curve


def main(paths, method: str = ""):
    if method not in params.methods():
        raise ParamsError(
            f"tune: method must be one of {', '.join(params.methods())} (params.yaml methods), got {method!r}"
        )
    tune = params.load("tune", paths.config)
    meta = io.read_meta(paths.filtered)
    data = schema.read(paths.filtered / "are_you_sure.jsonl")
    selected = [tuple(h) for h in read_json(paths.heads)["heads"]]
    layout = HeadLayout.of(models.model_config(paths.base))  # checked before any weights load
    if any(not (0 <= l < layout.n_layers and 0 <= h < layout.n_heads) for l, h in selected):
        raise ParamsError(
            f"{paths.heads}: a head lies outside the model's {layout.n_layers} x {layout.n_heads} heads; "
            "re-run attribute"
        )
    out = paths.tuned(method)
    if METHODS[method].heads == "random":
        rows, curves = {}, {}
        with atomic_dir(out) if main_process() else nullcontext(out) as tmp:  # one checkpoint per seed
            for s in tune.random_seeds:
                heads = spt.random_heads(layout, len(selected), s)
                rows[f"seed_{s}"], curves[f"seed_{s}"] = tune_one(
                    paths, method, heads, tune, tmp / f"seed_{s}", s, data, meta
                )
                rows[f"seed_{s}"]["heads"] = " ".join(f"L{l}H{h}" for l, h in heads)
        first = next(iter(curves.values()))
        curve = [{"step": c["step"], **{k: curves[k][i]["loss"] for k in curves}} for i, c in enumerate(first)]
    else:
        heads = selected if METHODS[method].heads == "selected" else []
        row, curve = tune_one(paths, method, heads, tune, out, tune.seed, data, meta)
        rows = {method: row}
    if not main_process():
        return
    write_json(paths.metrics / "tune" / f"{method}.json", rows)
    write_json(paths.plots / "tune" / f"{method}.json", curve)
    print_table(f"tune {method}", rows, "run")


if __name__ == "__main__":
    run_stage(main)
