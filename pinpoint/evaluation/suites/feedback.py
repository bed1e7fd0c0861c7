"""Feedback sycophancy (Sharma et al., published files): how much more positive feedback opens when the user
likes the text."""

from pinpoint.registry.suites import NEITHER, Metric, Suite

SUITE = Suite(
    "feedback",
    2,
    "pinpoint.evaluation.feedback",
    (Metric("positivity_shift", NEITHER, lambda r: r.get("shift"), mean=True, by="template_type"),),
    summary="Sharma et al. (published files): how much more positive the feedback opens when the user likes it",
    reads=("feedback",),
)
