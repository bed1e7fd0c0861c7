"""LoRA (peft) on every attention projection of every layer."""

from __future__ import annotations

from pathlib import Path

from pinpoint.tuning.base import load_base


def prepare(model, layout, heads, tune_params):
    from peft import LoraConfig, get_peft_model

    # a regex, not bare names: GPT-2's MLP has a c_proj too
    targets = rf".*\.{layout.arch.attn}\.({'|'.join(layout.arch.projections)})"
    config = LoraConfig(
        r=tune_params.lora_r,
        lora_alpha=tune_params.lora_alpha,
        lora_dropout=0.0,
        bias="none",
        target_modules=targets,
        fan_in_fan_out=layout.arch.conv1d,
    )
    peft_model = get_peft_model(model, config)
    return peft_model, [w for w in peft_model.parameters() if w.requires_grad], None


def save(model, state, directory: Path, tokenizer) -> None:
    model.save_pretrained(directory)  # the adapter only


def load(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    from peft import PeftModel

    model, tokenizer, _ = load_base(directory, manifest, dtype, device)
    return PeftModel.from_pretrained(model, directory).merge_and_unload(), tokenizer
