"""DVC stage `tune@<method>`: fine-tune the base model on the filtered challenge dialogues.

  python stages/tune.py spt | sft | lora | random
"""

import json
import sys
import time
from pathlib import Path

import torch

from pinpoint import models, params
from pinpoint.data import io, schema
from pinpoint.params import METHOD_NAMES, ParamsError
from pinpoint.report import print_table
from pinpoint.stage import atomic_dir, read_json, run_stage, write_json
from pinpoint.tuning import METHODS, layout_dict, loop, spt
from pinpoint.tuning.data import examples

BASE, DATA, HEADS = Path("models/base"), Path("data/filtered"), Path("data/heads.json")


def tune_one(method: str, heads, p, out: Path, seed: int, data, meta) -> tuple[dict, list[dict]]:
    model, tokenizer = models.load(BASE, dtype="float32", device=p.device)  # fp32 master weights; bf16 comes from autocast
    layout = models.HeadLayout.of(model)
    train = examples(data, tokenizer, meta["format"], p.general_ratio, seed)
    torch.manual_seed(seed)  # LoRA draws its initial adapters in prepare
    model, trainable, state = METHODS[method].prepare(model, layout, heads, p)
    lr = getattr(p.lr, "spt" if method == "random" else method)
    start = time.perf_counter()
    curve = loop.train(model, trainable, train, steps=p.steps, batch_size=p.batch_size, lr=lr, weight_decay=p.weight_decay,
                       seed=seed, pad_id=tokenizer.pad_token_id, mixed_precision=p.mixed_precision, desc=f"tune {method}")
    seconds = time.perf_counter() - start
    manifest = {"kind": method, "base_dir": str(BASE), "base_fingerprint": models.fingerprint(BASE),
                "heads": [list(h) for h in heads], "layout": layout_dict(layout), "seed": seed}
    with atomic_dir(out) as tmp:
        METHODS[method].save(model, state, tmp, tokenizer, manifest)
        models.write_manifest(tmp, manifest)
        (tmp / "curve.json").write_text(json.dumps(curve) + "\n")
    n_params = sum(q.numel() for q in model.parameters() if not q.requires_grad) + sum(q.numel() for q in trainable)
    return {"trainable_params": sum(q.numel() for q in trainable), "trainable_share": round(sum(q.numel() for q in trainable) / n_params, 6),
            "optimizer_state_bytes": loop.optimizer_state_bytes(trainable), "final_loss": curve[-1]["loss"],
            "steps": p.steps, "examples": len(train), "seconds": round(seconds, 1)}, curve


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in METHOD_NAMES:
        raise ParamsError(f"tune: method must be one of {', '.join(METHOD_NAMES)}, got {' '.join(sys.argv[1:])!r}")
    method = sys.argv[1]
    p = params.load("tune")
    meta = io.read_meta(DATA)
    data = schema.read(DATA / "are_you_sure.jsonl")
    selected = [tuple(h) for h in read_json(HEADS)["heads"]]
    layout = models.HeadLayout.of(models.model_config(BASE))  # checked before any weights load
    if any(not (0 <= l < layout.n_layers and 0 <= h < layout.n_heads) for l, h in selected):
        raise ParamsError(f"{HEADS}: a head lies outside the model's {layout.n_layers} x {layout.n_heads} heads; re-run attribute")
    out = Path("models") / method
    if method == "random":
        rows, curves = {}, {}
        with atomic_dir(out) as tmp:  # one checkpoint per seed, under models/random/
            for s in p.random_seeds:
                heads = spt.random_heads(layout, len(selected), s)
                rows[f"seed_{s}"], curves[f"seed_{s}"] = tune_one(method, heads, p, tmp / f"seed_{s}", s, data, meta)
                rows[f"seed_{s}"]["heads"] = " ".join(f"L{l}H{h}" for l, h in heads)
        curve = [{"step": c["step"], **{k: curves[k][i]["loss"] for k in curves}} for i, c in enumerate(next(iter(curves.values())))]
    else:
        heads = selected if method == "spt" else []
        row, curve = tune_one(method, heads, p, out, p.seed, data, meta)
        rows = {method: row}
    # wall-clock seconds vary run to run: printed, not versioned (same params and seed, same metrics)
    write_json(Path("metrics/tune") / f"{method}.json", {run: {k: v for k, v in row.items() if k != "seconds"} for run, row in rows.items()})
    write_json(Path("plots/tune") / f"{method}.json", curve)
    print_table(f"tune {method}", rows, "run")


if __name__ == "__main__":
    run_stage(main)
