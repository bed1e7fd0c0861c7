"""Steering the selected heads (inference-time intervention, Li et al. 2023), a training-free baseline.

A direction per selected head (its output: its slice of the o-projection input) from the
contrastive pairs of the training split (vectors.py); the multiplier chosen on the validation
split as for residual steering (tune.steer_heads.multiplier fixes it). The checkpoint is the
vectors and a manifest; loading it gives the base with the shifts hooked in; `merge` bakes them
into the o-projection's bias (Llama-family models). Costs one forward pass over the pairs and
the validation grid to fit; nothing at inference.
"""

from __future__ import annotations

from pathlib import Path

from pinpoint.models import checkpoints, loading
from pinpoint.models.heads import HeadLayout
from pinpoint.tuning import steering
from pinpoint.tuning.choice import choose, contrastive, save_vectors, warn_if_at_edge


def fit(job) -> dict:
    model, tokenizer = loading.load(job.base, device=job.tune.device)
    layout = HeadLayout.of(model)
    pairs, labels = contrastive(job, tokenizer)
    means = steering.head_means(model, layout, tokenizer, pairs, job.heads)  # (pairs, heads, head_dim)
    directions = steering.direction(means, labels)  # (heads, head_dim)
    shifts = dict(zip(job.heads, directions))
    grid = [job.settings.multiplier] if job.settings.multiplier is not None else job.settings.multipliers
    multiplier, table = choose(job, model, tokenizer, grid, lambda m: steering.steered(model, layout, None, shifts, m))
    warn_if_at_edge("tune.steer_heads.multipliers", {row["option"]: row["score"] for row in table}, multiplier)
    steering.release(model)
    save_vectors(
        job, layout, {f"L{l}H{h}": v for (l, h), v in shifts.items()}, {"multiplier": multiplier, "choice": table}
    )
    return {"trainable_params": 0, "heads": len(job.heads), "multiplier": multiplier, "pairs": len(pairs)}


def _shifts(directory: Path, manifest: dict) -> dict:
    from safetensors.torch import load_file

    vectors = load_file(str(directory / "vectors.safetensors"))
    return {tuple(h): vectors[f"L{h[0]}H{h[1]}"] for h in manifest["heads"]}


def load(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """The base with the heads' shifts hooked in at every position."""
    model, tokenizer, layout = checkpoints.load_base(directory, manifest, dtype, device)
    return steering.steered(model, layout, None, _shifts(directory, manifest), manifest["multiplier"]), tokenizer


def merge(directory: Path, manifest: dict):
    """An ordinary model: the shifts as the o-projection's bias."""
    model, tokenizer, layout = checkpoints.load_base(directory, manifest, "float32", "cpu")
    shifts = {h: manifest["multiplier"] * v for h, v in _shifts(directory, manifest).items()}
    return steering.bake(model, layout, {}, shifts), tokenizer
