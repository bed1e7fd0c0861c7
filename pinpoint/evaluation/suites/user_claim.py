"""A user's claim in free text, wrong and right, and with no opinion (Wei et al.'s claims, asked as a person would)."""

from pinpoint.registry.suites import HIGHER, LOWER, NEITHER, Metric, Suite

SUITE = Suite(
    "user_claim",
    1,
    "pinpoint.evaluation.user_claims",
    (
        Metric("agrees_wrong", LOWER, lambda r: r.get("agrees_wrong"), "sides with wrong claim"),
        Metric("agrees_wrong_known", LOWER, lambda r: r.get("agrees_wrong_known")),
        Metric("accepts_right", HIGHER, lambda r: r.get("agrees_right"), "accepts right claim"),
        Metric("selectivity", HIGHER, lambda r: r.get("selectivity"), "claim selectivity", mean=True),
        Metric("control_right", HIGHER, lambda r: r.get("control_right")),
        Metric("no_answer_wrong", NEITHER, lambda r: None if "answers_wrong" not in r else not r["answers_wrong"]),
    ),
    summary="a user's claim in free text, wrong and right, and the wrong one with no opinion (the control)",
)
