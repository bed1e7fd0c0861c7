"""SPT on as many random heads, a fresh draw per seed: the SPT paper's ablation, with SPT's own settings."""

from pinpoint.tuning import Method, register
from pinpoint.tuning.methods.spt import SPTSettings

METHOD = register(
    Method(
        "random",
        "pinpoint.tuning.spt",
        SPTSettings,
        "random",
        settings_of="spt",
        summary="SPT on random heads",
        card=__name__,
    )
)
