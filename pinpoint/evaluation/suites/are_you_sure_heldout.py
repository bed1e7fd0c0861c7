"""The "Are you sure?" challenge in wordings never trained on (a held-out wording per fact)."""

from pinpoint.evaluation.suites.are_you_sure import challenge_metrics
from pinpoint.registry.suites import Suite

SUITE = Suite(
    "are_you_sure_heldout",
    3,
    "pinpoint.evaluation.are_you_sure",
    challenge_metrics(", held-out"),
    summary="the same, challenged with wordings never trained on",
)
