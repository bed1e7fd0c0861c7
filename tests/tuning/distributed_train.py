"""Train each tuning method for a few steps on a saved tiny model; what tests/tuning/test_distributed.py
launches as two processes (and runs in-process, as one).

  python -m torch.distributed.run --nproc_per_node 2 tests/tuning/distributed_train.py \
      MODEL_DIR OUT_DIR fast|plain METHOD...

Every process trains; only the main one writes OUT_DIR/METHOD/{curve.json, state.json, trained.safetensors}
(the parameters that trained), atomically, as the tune stage does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from conftest import ragged_examples  # noqa: E402  (this script's folder is on sys.path)
from pinpoint.models.heads import HeadLayout
from pinpoint.stage import atomic_dir
from pinpoint.tuning import job as train
from pinpoint.tuning import loop

STEPS, BATCH = 4, 5  # 5 rows over 2 processes: an uneven split (3 and 2 rows, different token counts)


def train_one(model_dir: Path, method: str, fast: bool = True):
    """(loss curve, {name: trained tensor}) for one method, as the tune stage prepares it."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    layout = HeadLayout.of(model)
    heads = {"spt": [(1, 2), (2, 0)], "random": layout.random_heads(2, seed=1)}.get(method, [])
    torch.manual_seed(0)  # LoRA draws its initial adapters in prepare
    model, trainable, _ = train.prepare(method, model, layout, heads)
    # lr 1e-3: Adam moves a weight by ~lr whatever its gradient: rounding in a near-zero one stays < 1e-5
    recipe = loop.Recipe(steps=STEPS, lr=1e-3, weight_decay=0.1, mixed_precision="no", desc=method)
    curve = train.train_examples(
        model, trainable, ragged_examples(), recipe, train.Batching(BATCH, 0), train.LossPath(fast)
    )
    trained = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    return curve, trained


def write(out: Path, curve: list[dict], trained: dict[str, torch.Tensor]) -> None:
    """Only the main process writes: the others trained the same weights."""
    from accelerate import PartialState
    from safetensors.torch import save_file

    if not PartialState().is_main_process:
        return
    with atomic_dir(out) as tmp:
        (tmp / "curve.json").write_text(json.dumps(curve) + "\n")
        (tmp / "state.json").write_text(json.dumps({"num_processes": PartialState().num_processes}) + "\n")
        save_file(trained, str(tmp / "trained.safetensors"))


def main(model_dir: str, out_dir: str, path: str, *methods: str) -> None:
    for method in methods:
        write(Path(out_dir) / method, *train_one(Path(model_dir), method, fast=path == "fast"))


if __name__ == "__main__":
    main(*sys.argv[1:])
