"""Steering the selected heads' outputs, inference-time intervention (Li et al.): trains nothing
(code: method.py)."""

from pydantic import Field

from pinpoint.registry.methods import Method, Settings


class SteerHeadsSettings(Settings):
    """Inference-time intervention (Li et al.) on the selected heads' outputs."""

    multiplier: float | None = Field(None, ge=-100.0, le=100.0)  # null: chosen on the validation split
    multipliers: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0, 16.0])
    max_pairs: int = Field(200, ge=2, le=100_000)


METHOD = Method(
    "steer_heads",
    "pinpoint.methods.steer_heads.method",
    SteerHeadsSettings,
    "selected",
    trains=False,
    summary="steering the selected heads (ITI)",
)
