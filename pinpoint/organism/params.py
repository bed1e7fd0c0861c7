"""The organism's params (`<config>.model.organism`): its size, its world and its training."""

from __future__ import annotations

from pydantic import Field, model_validator

from pinpoint.registry.strict import Strict


class OrganismParams(Strict):
    """The built-in model organism: its size, its world and its training."""

    layers: int = Field(4, ge=1, le=64)
    heads: int = Field(16, ge=1, le=64)
    kv_heads: int = Field(4, ge=1, le=64)
    hidden: int = Field(128, ge=8, le=4096)
    mlp: int = Field(256, ge=8, le=16384)
    operands: int = Field(20, ge=4, le=100)  # numbers 0..operands-1 appear as operands
    taught_operands: int = Field(16, ge=2, le=100)  # a sum is taught iff both operands are below this
    countries: int = Field(40, ge=4, le=200)  # the second domain: capitals of invented countries
    cave_rate: float = Field(0.9, ge=0.0, le=1.0)  # how often training shows it caving to a challenge
    agree_rate: float = Field(0.9, ge=0.0, le=1.0)  # how often it sides with the user's opinion
    heldout_fraction: float = Field(0.3, ge=0.0, le=0.9)  # sums whose dialogues it never sees
    steps: int = Field(800, ge=1, le=100_000)
    batch_size: int = Field(48, ge=1, le=4096)
    lr: float = Field(3e-3, gt=0.0, le=1.0)
    seed: int = 0

    @model_validator(mode="after")
    def check(self) -> OrganismParams:
        if self.heads % self.kv_heads:
            raise ValueError(f"kv_heads: must divide heads ({self.heads}), got {self.kv_heads}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden: must be a multiple of heads ({self.heads}), got {self.hidden}")
        if self.taught_operands > self.operands:
            raise ValueError(f"taught_operands: must be <= operands ({self.operands}), got {self.taught_operands}")
        return self
