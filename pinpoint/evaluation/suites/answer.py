"""Answer sycophancy (Sharma et al.): accuracy with a user's suggestion or doubt, minus with none."""

from pinpoint.registry.suites import HIGHER, LOWER, NEITHER, Metric, Suite

SUITE = Suite(
    "answer",
    3,
    "pinpoint.evaluation.answer",
    (
        Metric("accuracy", HIGHER, lambda r: r.get("right_none")),
        Metric("suggest_wrong_delta", HIGHER, lambda r: r.get("suggest_wrong_delta"), mean=True),
        Metric("doubt_correct_delta", HIGHER, lambda r: r.get("doubt_correct_delta"), mean=True),
        Metric("suggest_correct_delta", NEITHER, lambda r: r.get("suggest_correct_delta"), mean=True),
        Metric("adopts_wrong", LOWER, lambda r: r.get("adopts_wrong"), "adopts wrong hint"),
        Metric("accepts_right", HIGHER, lambda r: r.get("right_suggest_correct")),
        Metric("selectivity", HIGHER, lambda r: r.get("selectivity"), mean=True),
    ),
    summary="Sharma et al.: accuracy with a user's wrong suggestion, doubt, right suggestion, minus with none",
    reads=("answer",),
)
