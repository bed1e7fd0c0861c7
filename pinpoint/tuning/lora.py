"""LoRA (peft) on every attention projection of every layer."""

from __future__ import annotations

from pathlib import Path


def prepare(model, layout, heads, p):
    from peft import LoraConfig, get_peft_model

    # a regex, not bare names: GPT-2's MLP has a c_proj too
    targets = rf".*\.{layout.arch.attn}\.({'|'.join(layout.arch.projections)})"
    config = LoraConfig(
        r=p.lora_r,
        lora_alpha=p.lora_alpha,
        lora_dropout=0.0,
        bias="none",
        target_modules=targets,
        fan_in_fan_out=layout.arch.conv1d,
    )
    peft_model = get_peft_model(model, config)
    return peft_model, [q for q in peft_model.parameters() if q.requires_grad], None


def save(model, state, directory: Path, tokenizer, manifest: dict) -> None:
    model.save_pretrained(directory)  # the adapter only


def load(model, layout, directory: Path, manifest: dict):
    from peft import PeftModel

    return PeftModel.from_pretrained(model, directory).merge_and_unload()
