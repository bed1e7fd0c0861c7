"""Full supervised fine-tuning: every parameter trains; the checkpoint is a whole HF model."""

from __future__ import annotations

from pathlib import Path


def prepare(model, layout, heads, p):
    for param in model.parameters():
        param.requires_grad_(True)
    return model, [q for q in model.parameters()], None


def save(model, state, directory: Path, tokenizer, manifest: dict) -> None:
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    manifest["kind"] = "full"  # loads like any HF directory


def load(model, layout, directory: Path, manifest: dict):
    raise AssertionError("an SFT checkpoint is a full model and loads as kind 'full'")
