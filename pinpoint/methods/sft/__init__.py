"""Full supervised fine-tuning: every weight (code: method.py)."""

from pydantic import Field

from pinpoint.registry.methods import Method, TrainedSettings


class SFTSettings(TrainedSettings):
    lr: float = Field(3e-4, gt=0.0, le=1.0)


METHOD = Method("sft", "pinpoint.methods.sft.method", SFTSettings, summary="every weight")
