"""Wei et al.'s filtering ablation: the intervention on every synthesized claim, those about facts the model does
not know kept (their claim: the filter is what makes the intervention work). Wei's settings and code."""

from pinpoint.methods.wei import WeiSettings
from pinpoint.registry.methods import Method

METHOD = Method(
    "wei_unfiltered",
    "pinpoint.methods.wei.method",
    WeiSettings,
    settings_of="wei",
    data="claims",
    unfiltered=True,
    summary="Wei et al.'s intervention, facts the model does not know kept (their ablation)",
)
