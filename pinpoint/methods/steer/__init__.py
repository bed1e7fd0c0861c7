"""Residual steering, contrastive activation addition (Rimsky et al.): trains nothing (code: method.py)."""

from pydantic import Field

from pinpoint.registry.methods import Method, Settings


class SteerSettings(Settings):
    """Contrastive activation addition (Rimsky et al.): honest minus sycophantic, at one layer."""

    layer: int | None = Field(None, ge=0, le=1000)  # null: chosen on the validation split
    multiplier: float | None = Field(None, ge=-100.0, le=100.0)  # null: chosen on the validation split
    multipliers: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0])  # the grid for the choice
    layers: int = Field(4, ge=1, le=64)  # layers tried in the choice: the best-separating ones
    max_pairs: int = Field(200, ge=2, le=100_000)


METHOD = Method(
    "steer", "pinpoint.methods.steer.method", SteerSettings, trains=False, summary="residual steering (CAA)"
)
