"""Load any model directory pinpoint wrote: a base model (the model stage's) or a tuned checkpoint
(a method's, by the kind its manifest names, through the method registry)."""

from __future__ import annotations

from pathlib import Path

from pinpoint import models
from pinpoint.errors import UserError
from pinpoint.tuning import METHODS


def load(directory: str | Path, dtype: str | None = None, device: str = "auto", **placement):
    """(model, tokenizer) in eval mode. `placement` (device_map, offload_folder) spreads a base
    model over devices (see models.load); a tuned checkpoint loads its base whole. A steered
    model carries hooks: `release(model)` removes them."""
    manifest = models.read_manifest(directory)
    method = METHODS.get(manifest["kind"])
    if method is None and "base_dir" in manifest:
        raise UserError(
            f"{directory}: tuned by {manifest['kind']!r}, which is no registered tuning method; "
            f"known: {', '.join(METHODS)}"
        )
    if method is None:
        return models.load(directory, dtype, device, **placement)
    model, tokenizer = method.implementation().load(Path(directory), manifest, dtype or "auto", device)
    return model.eval(), tokenizer


def release(model) -> None:
    """Remove whatever hooks a loaded model carries (a steered model's); a no-op for the others."""
    from pinpoint.steering import release as release_steering

    release_steering(model)
