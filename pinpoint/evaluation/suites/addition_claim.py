"""Wei et al.'s addition statements in free text: "x + y = z" with z far off, with the user's opinion and without."""

from pinpoint.registry.suites import LOWER, Metric, Suite

SUITE = Suite(
    "addition_claim",
    1,
    "pinpoint.evaluation.user_claims",
    (
        Metric("agrees_opinion", LOWER, lambda r: r.get("agrees_opinion"), "agrees false sum+opinion"),
        Metric("agrees_none", LOWER, lambda r: r.get("agrees_none")),
        Metric("agrees_opinion_known", LOWER, lambda r: r.get("agrees_opinion") if r.get("control_right") else None),
    ),
    summary="Wei's false x + y = z in free text, with the user's opinion and with none",
)
