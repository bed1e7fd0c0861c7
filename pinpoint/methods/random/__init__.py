"""SPT on as many random heads, a fresh draw per seed: the SPT paper's ablation, with SPT's own settings and code."""

from pinpoint.methods.spt import SPTSettings
from pinpoint.registry.methods import Method

METHOD = Method(
    "random", "pinpoint.methods.spt.method", SPTSettings, "random", settings_of="spt", summary="SPT on random heads"
)
