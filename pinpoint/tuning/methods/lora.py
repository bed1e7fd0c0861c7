"""LoRA (peft) on every attention projection (pinpoint.tuning.lora)."""

from pydantic import Field

from pinpoint.tuning import Method, TrainedSettings, register


class LoRASettings(TrainedSettings):
    lr: float = Field(1e-3, gt=0.0, le=1.0)
    r: int = Field(8, ge=1, le=1024)
    alpha: int = Field(16, ge=1, le=4096)


METHOD = register(
    Method("lora", "pinpoint.tuning.lora", LoRASettings, summary="LoRA on every attention projection", card=__name__)
)
