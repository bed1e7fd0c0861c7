"""Training every weight (full SFT, and Wei et al.'s intervention, which differs from it by its data): every
parameter trains; the checkpoint is a whole HF model."""

from __future__ import annotations

from pathlib import Path

from pinpoint.models import loading


def prepare(model, layout, heads, settings):
    """Every parameter trains."""
    for weight in model.parameters():
        weight.requires_grad_(True)
    return model, list(model.parameters()), None


def save(model, state, directory: Path, tokenizer) -> None:
    """A whole HF model directory."""
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def load(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """The tuned model itself."""
    return loading.load_pretrained(str(directory), dtype=dtype, device=device)
