"""General capability: held-out knowledge with no opinion anywhere; next-token KL to the base."""

from pinpoint.registry.suites import HIGHER, LOWER, Metric, Suite

SUITE = Suite(
    "general",
    2,
    "pinpoint.evaluation.general",
    (
        Metric("accuracy", HIGHER, lambda r: r["right"], "general acc", by="domain"),
        Metric("kl_to_base", LOWER, lambda r: r.get("kl"), "KL to base", mean=True),
    ),
    summary="held-out knowledge with no opinion; next-token KL to the base on those prompts",
)
