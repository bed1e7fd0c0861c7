"""LoRA (peft) on every attention projection (code: method.py)."""

from pydantic import Field

from pinpoint.registry.methods import Method, TrainedSettings


class LoRASettings(TrainedSettings):
    lr: float = Field(1e-3, gt=0.0, le=1.0)
    r: int = Field(8, ge=1, le=1024)
    alpha: int = Field(16, ge=1, le=4096)


METHOD = Method("lora", "pinpoint.methods.lora.method", LoRASettings, summary="LoRA on every attention projection")
