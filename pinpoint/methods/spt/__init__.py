"""Supervised pinpoint tuning (Chen et al. 2024): the selected heads' slices (code: method.py)."""

from typing import Literal

from pydantic import Field

from pinpoint.registry.methods import Method, TrainedSettings


class SPTSettings(TrainedSettings):
    """Supervised pinpoint tuning; `random` (the same on random heads) reads these too."""

    lr: float = Field(2e-3, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1, le=100_000)  # heads tuned: the top k of attribute's ranking (null: its k)
    projections: Literal["qo", "o"] = "qo"  # a head's q rows (and k/v without GQA) and o columns, or o columns only


METHOD = Method("spt", "pinpoint.methods.spt.method", SPTSettings, "selected", summary="the selected heads' slices")
