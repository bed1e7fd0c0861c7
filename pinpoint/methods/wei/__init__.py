"""Wei et al.'s synthetic-data intervention: every weight fine-tuned on a user's claims -- right or wrong, the
reply the truth -- over facts the model knows (the filter), mixed with general examples (code: method.py)."""

from pydantic import Field

from pinpoint.registry.methods import Method, TrainedSettings


class WeiSettings(TrainedSettings):
    lr: float = Field(3e-4, gt=0.0, le=1.0)
    # general examples (a claim's fact asked plainly) per claim: Wei et al. mixed instruction data with theirs 5:1
    mix: float = Field(5.0, ge=0.0, le=100.0)


METHOD = Method(
    "wei",
    "pinpoint.methods.wei.method",
    WeiSettings,
    data="claims",
    summary="every weight, on a user's claims the model knows the truth of (Wei et al.)",
)
