"""LoRA (peft) on every attention projection of every layer."""

from __future__ import annotations

from pathlib import Path

from pinpoint.models.checkpoints import load_base


def prepare(model, layout, heads, settings):
    """peft's LoRA (settings.r, settings.alpha) on every attention projection."""
    from peft import LoraConfig, get_peft_model

    # a regex, not bare names: GPT-2's MLP has a c_proj too
    targets = rf".*\.{layout.arch.attn}\.({'|'.join(layout.arch.projections)})"
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        bias="none",
        target_modules=targets,
        fan_in_fan_out=layout.arch.conv1d,
    )
    peft_model = get_peft_model(model, config)
    return peft_model, [w for w in peft_model.parameters() if w.requires_grad], None


def save(model, state, directory: Path, tokenizer) -> None:
    """The adapter only."""
    model.save_pretrained(directory)


def load(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """The base with the adapter merged in."""
    from peft import PeftModel

    model, tokenizer, _ = load_base(directory, manifest, dtype, device)
    return PeftModel.from_pretrained(model, directory).merge_and_unload(), tokenizer
