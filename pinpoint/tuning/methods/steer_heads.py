"""Steering the selected heads' outputs, inference-time intervention (Li et al.): trains nothing
(pinpoint.tuning.steer_heads)."""

from pydantic import Field

from pinpoint.tuning import Method, Settings, register


class SteerHeadsSettings(Settings):
    """Inference-time intervention (Li et al.) on the selected heads' outputs."""

    multiplier: float | None = Field(None, ge=-100.0, le=100.0)  # null: chosen on the validation split
    multipliers: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0, 16.0])
    max_pairs: int = Field(200, ge=2, le=100_000)


METHOD = register(
    Method(
        "steer_heads",
        "pinpoint.tuning.steer_heads",
        SteerHeadsSettings,
        "selected",
        trains=False,
        summary="steering the selected heads (ITI)",
        card=__name__,
    )
)
