"""Supervised pinpoint tuning: only the selected heads' slices train (pinpoint.tuning.head_deltas).

The `random` baseline is the same method on as many heads drawn at random (SPT's ablation:
HeadLayout.random_heads).
Everything below the lowest selected head stays frozen, so training computes those layers
once per example and never runs backward through them (loop.py, prefix.py).
A checkpoint is deltas.safetensors (a few KB to MB) plus the manifest: the heads, the
head layout and the fingerprint of the base model they belong to.
"""

from __future__ import annotations

from pathlib import Path

from pinpoint.models.checkpoints import load_base
from pinpoint.models.heads import HeadLayout
from pinpoint.tuning import head_deltas

DELTAS = "deltas.safetensors"


def prepare(model, layout: HeadLayout, heads, settings):
    """Zero deltas on the heads' slices (settings.projections: "qo" or "o"); only they train."""
    wrapped = head_deltas.attach(model, layout, heads, settings.projections)
    return model, head_deltas.delta_parameters(wrapped), wrapped


def save(model, wrapped, directory: Path, tokenizer) -> None:
    """The checkpoint: the deltas and the slices they sit at."""
    from safetensors.torch import save_file

    save_file(head_deltas.state_dict(wrapped), str(directory / DELTAS))


def load(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """The base with the deltas merged in: an ordinary model."""
    from safetensors.torch import load_file

    model, tokenizer, layout = load_base(directory, manifest, dtype, device)
    heads = [tuple(h) for h in manifest["heads"]]
    wrapped = head_deltas.attach(model, layout, heads, manifest.get("projections", "qo"))
    head_deltas.load_state_dict(wrapped, load_file(str(directory / DELTAS)))
    for weight in model.parameters():
        weight.requires_grad_(False)
    return head_deltas.merge(model, layout, wrapped), tokenizer  # evaluation runs on plain weights
