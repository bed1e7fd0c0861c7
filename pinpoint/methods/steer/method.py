"""Residual steering (contrastive activation addition, Rimsky et al. 2024), a training-free baseline.

A direction per decoder layer from the contrastive pairs of the training split (vectors.py);
the layer and the multiplier are chosen on the validation split (tune.steer.layer / .multiplier
fix them instead): of the `layers` layers that separate the two groups best, and each multiplier
of the grid, the pair whose steered model keeps right answers and corrects wrong ones the most
often (are_you_sure.validation_score). The checkpoint is the chosen layer's vector and a manifest;
loading it gives the base with the shift hooked in (steering.steered; checkpoints.release removes
it); `merge` bakes it into the MLP output bias of that layer (Llama-family models).
Costs one forward pass over the pairs and the validation grid to fit; nothing at inference.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pinpoint.models import checkpoints, loading
from pinpoint.models.heads import HeadLayout
from pinpoint.tuning import steering
from pinpoint.tuning.choice import choose, contrastive, save_vectors, warn_if_at_edge


def fit(job) -> dict:
    model, tokenizer = loading.load(job.base, device=job.tune.device)
    layout = HeadLayout.of(model)
    pairs, labels = contrastive(job, tokenizer)
    means = steering.residual_means(model, layout, tokenizer, pairs)  # (pairs, layers, d)
    directions = steering.direction(means, labels)  # (layers, d)
    order = torch.argsort(steering.separation(means, labels, directions), descending=True).tolist()
    layers = [job.settings.layer] if job.settings.layer is not None else order[: job.settings.layers]
    grid = [job.settings.multiplier] if job.settings.multiplier is not None else job.settings.multipliers
    options = [(l, m) for l in layers for m in grid]
    (layer, multiplier), table = choose(
        job, model, tokenizer, options, lambda o: steering.steered(model, layout, {o[0]: directions[o[0]]}, None, o[1])
    )
    at_layer = {row["option"][1]: row["score"] for row in table if row["option"][0] == layer}
    warn_if_at_edge("tune.steer.multipliers", at_layer, multiplier)
    steering.release(model)
    save_vectors(
        job, layout, {"vector": directions[layer]}, {"layer": layer, "multiplier": multiplier, "choice": table}
    )
    return {"trainable_params": 0, "layer": layer, "multiplier": multiplier, "pairs": len(pairs)}


def load(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """The base with the shift hooked in at every position."""
    from safetensors.torch import load_file

    model, tokenizer, layout = checkpoints.load_base(directory, manifest, dtype, device)
    vector = load_file(str(directory / "vectors.safetensors"))["vector"]
    return steering.steered(model, layout, {manifest["layer"]: vector}, None, manifest["multiplier"]), tokenizer


def merge(directory: Path, manifest: dict):
    """An ordinary model: the shift as the bias of the layer's MLP output projection."""
    from safetensors.torch import load_file

    model, tokenizer, layout = checkpoints.load_base(directory, manifest, "float32", "cpu")
    vector = load_file(str(directory / "vectors.safetensors"))["vector"]
    return steering.bake(model, layout, {manifest["layer"]: manifest["multiplier"] * vector}, {}), tokenizer
