"""Supervised pinpoint tuning: only the selected heads' slices train (see head_deltas.py).

The `random` baseline is the same method on as many heads drawn at random (SPT's ablation).
Everything below the lowest selected head stays frozen, so training computes those layers
once per example and never runs backward through them (loop.py, prefix.py).
A checkpoint is deltas.safetensors (a few KB to MB) plus the manifest: the heads, the
head layout and the fingerprint of the base model they belong to.
"""

from __future__ import annotations

import random
from pathlib import Path

from pinpoint.models import HeadLayout
from pinpoint.tuning import head_deltas

DELTAS = "deltas.safetensors"


def random_heads(layout: HeadLayout, k: int, seed: int) -> list[tuple[int, int]]:
    every = [(l, h) for l in range(layout.n_layers) for h in range(layout.n_heads)]
    return sorted(random.Random(f"random-heads|{seed}").sample(every, k))


def prepare(model, layout: HeadLayout, heads, p):
    wrapped = head_deltas.attach(model, layout, heads)
    return model, head_deltas.delta_parameters(wrapped), wrapped


def save(model, wrapped, directory: Path, tokenizer, manifest: dict) -> None:
    from safetensors.torch import save_file

    save_file(head_deltas.state_dict(wrapped), str(directory / DELTAS))


def load(model, layout: HeadLayout, directory: Path, manifest: dict):
    from safetensors.torch import load_file

    heads = [tuple(h) for h in manifest["heads"]]
    wrapped = head_deltas.attach(model, layout, heads)
    head_deltas.load_state_dict(wrapped, load_file(str(directory / DELTAS)))
    for p in model.parameters():
        p.requires_grad_(False)
    return head_deltas.merge(model, layout, wrapped)  # evaluation runs on plain weights
