"""Full supervised fine-tuning: every weight (pinpoint.tuning.sft)."""

from pydantic import Field

from pinpoint.tuning import Method, TrainedSettings, register


class SFTSettings(TrainedSettings):
    lr: float = Field(3e-4, gt=0.0, le=1.0)


METHOD = register(Method("sft", "pinpoint.tuning.sft", SFTSettings, summary="every weight", card=__name__))
