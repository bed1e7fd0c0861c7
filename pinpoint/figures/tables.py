"""Tables for people: the summary of eval.json (figures with their 95% intervals, and each model's
paired difference to the base), the stage tables printed at the end of a stage.

A result the evaluation marked not valid is never shown as a number: tables say "n/a (reason)".
A figure on fewer than 30 items carries a dagger; a difference whose interval excludes zero a star.
"""

from __future__ import annotations

from pinpoint.console import markdown_table, print_table  # noqa: F401  (re-exported for the report's callers)
from pinpoint.registry.suites import SUITES, summary_metrics

FEW_MARK, REAL_MARK = "†", "*"


def interval(fig: dict, digits: int = 3) -> str:
    """'0.494 [0.390, 0.590]' (a dagger under 30 items)."""
    if fig.get("value") is None:
        return "—"
    low, high = fig.get("ci95") or (None, None)
    text = (
        f"{fig['value']:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
        if low is not None
        else f"{fig['value']:.{digits}f}"
    )
    return text + (FEW_MARK if fig.get("few") else "")


def difference(fig: dict) -> str:
    """'+0.120 [0.050, 0.190]*': a star where the interval excludes zero."""
    if fig.get("value") is None:
        return "—"
    low, high = fig.get("ci95") or (None, None)
    real = low is not None and (low > 0 or high < 0)
    return (
        f"{fig['value']:+.3f} [{low:+.3f}, {high:+.3f}]"
        + (REAL_MARK if real else "")
        + (FEW_MARK if fig.get("few") else "")
    )


def summary_columns(results: dict) -> list[tuple[str, str, str]]:
    """(result key, metric, header) of the summary: the built-in data's, then each external file's
    (result key suite@file) apart, so no column pools the two."""
    keys = dict.fromkeys(k for parts in results.values() for k in parts)
    present = {k.split("@", 1)[0] for k in keys}  # load only the cards of suites the results hold
    columns = []
    for suite, metric in summary_metrics([s for s in SUITES.names() if s in present]):
        for key in [suite, *(k for k in keys if k.startswith(f"{suite}@"))]:
            if any(metric.name in r.get(key, {}) for r in results.values()):
                label = metric.header if key == suite else f"{metric.header} [{key.split('@', 1)[1]}]"
                columns.append((key, metric.name, f"{label} {metric.arrow}".strip()))
    return columns


def cell(result: dict, metric: str, show) -> str:
    """A figure, "n/a" where its result is not valid (the table's notes say why), "" where it is absent."""
    if result.get("valid") is False:
        return "n/a"
    if metric not in result:
        return ""
    return show(result[metric])


def invalid_notes(results: dict) -> str:
    """Why each n/a is one: "- addition (base, spt): it answers 49% of ... control items ...", one line per reason."""
    reasons: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for model, parts in results.items():
        for key, result in parts.items():
            if result.get("valid") is False:
                why = result.get("invalid_reason", "not valid")
                reasons.setdefault((key, _generic(why)), []).append((model, why))
    return "\n".join(
        f"- n/a, {key} ({', '.join(m for m, _ in found)}): {_ranged(generic, [why for _, why in found])}"
        for (key, generic), found in reasons.items()
    )


PERCENT = r"\d+(?:\.\d+)?%"


def _generic(reason: str) -> str:
    """A reason with its per-model figures taken out, so that models that fail alike share a line."""
    import re

    return re.sub(PERCENT, "N%", re.sub(r"of \d+ control", "of the control", reason))


def _ranged(generic: str, reasons: list[str]) -> str:
    """The shared reason with each of its figures as the range over the models ("26.3-27.4%")."""
    import re

    columns = list(zip(*(re.findall(PERCENT, r) for r in reasons)))
    for values in columns:
        numbers = sorted(float(v[:-1]) for v in values)
        shown = f"{numbers[0]:g}%" if numbers[0] == numbers[-1] else f"{numbers[0]:g}-{numbers[-1]:g}%"
        generic = generic.replace("N%", shown, 1)
    return generic


def summary_table(results: dict) -> str:
    """Every model's summary figures with their intervals."""
    columns = summary_columns(results)
    rows = {m: {h: cell(parts.get(k, {}), name, interval) for k, name, h in columns} for m, parts in results.items()}
    return markdown_table(rows, "model")


def difference_table(results: dict, other: str = "base") -> str:
    """Each model's paired difference to `other` on the summary figures."""
    columns = summary_columns(results)
    rows = {}
    for model, parts in results.items():
        if model == other:
            continue
        rows[model] = {
            h: cell(parts.get(k, {}), name, lambda fig, o=other: difference(fig.get("vs", {}).get(o, {})))
            for k, name, h in columns
        }
    return markdown_table(rows, f"Δ vs {other}")


def summary_text(results: dict) -> str:
    """metrics/<config>/summary.md: both tables and how to read them."""
    notes = invalid_notes(results)
    matrix = generalisation_table(results)
    matrix = f"generalisation: each method against each suite family (difference to the base)\n\n{matrix}\n\n"
    return (
        f"{summary_table(results)}\n\n{difference_table(results)}\n\n"
        + (matrix if generalisation_table(results) else "")
        + (f"{notes}\n\n" if notes else "")
        + f"95% intervals: Wilson for a rate, bootstrap for a mean; differences are paired over the items both "
        f"models were scored on (bootstrap; {REAL_MARK}: the interval excludes 0); {FEW_MARK}: fewer than 30 items.\n"
    )


# the generalisation matrix's columns: (family, result key, metric), each a difference to the base; the first five
# are how much a method changed sycophancy in each family, the last three the other side of the trade (selectivity:
# accepting a right correction or claim minus giving in to a wrong one) and what it cost
FAMILIES = (
    ("challenge: maintains ↑", "are_you_sure", "maintain_rate"),
    ("pressure: holds ↑", "pressure", "holds_rate"),
    ("opinion: sides with wrong ↓", "user_claim", "agrees_wrong"),
    ("addition: agrees false+opinion ↓", "addition_claim", "agrees_opinion"),
    ("answer: adopts wrong hint ↓", "answer", "adopts_wrong"),
    ("challenge selectivity ↑", "are_you_sure", "selectivity"),
    ("claim selectivity ↑", "user_claim", "selectivity"),
    ("general accuracy ↑", "general", "accuracy"),
)


def generalisation_table(results: dict, other: str = "base") -> str:
    """Each model against each suite family (see FAMILIES), as its paired difference to `other` with its interval:
    where a method trained on challenges, or on claims, moves sycophancy, and what it gives up."""
    rows = {}
    for model, parts in results.items():
        if model == other:
            continue
        rows[model] = {
            header: cell(parts.get(key, {}), name, lambda fig: difference(fig.get("vs", {}).get(other, {})))
            for header, key, name in FAMILIES
            if any(name in r.get(key, {}) for r in results.values())
        }
    return markdown_table(rows, f"Δ vs {other}") if rows else ""


def seeds_table(results: dict, suite: str, metric: str) -> dict[str, dict]:
    """Each seed's figure of one metric, per model trained with several."""
    out = {}
    for model, parts in results.items():
        fig = parts.get(suite, {}).get(metric, {})
        if fig.get("seeds"):
            out[model] = {f"seed {i}": v for i, v in enumerate(fig["seeds"])} | {"range": fig["seed_range"]}
    return out


def attribution_text(heads: dict) -> str:
    """What attribution found, as a reader should take it: the heads only where the attribution is valid, else
    "not valid" and why; the counterfactual's effect, the stability, the faithfulness curve, the ground truth."""
    effect = heads["counterfactual"]["effect"]
    lines = [
        f"attributed: {heads['quantity']} against the counterfactual {heads['counterfactual']['choice']!r} "
        f"({heads['method']}, {heads['mode']} patching; prompts {heads.get('prompts')}); its effect {interval(effect)}"
    ]
    if heads.get("valid"):
        lines.append(f"selected heads: {', '.join(heads['selected'])} (valid: {heads['why']})")
    else:
        lines.append(
            f"not valid: {heads['why']} (the top {len(heads['selected'])} by score, not to be relied on: "
            f"{', '.join(heads['selected'])})"
        )
    stable = heads.get("stability", {})
    if stable:
        jac, rank = stable.get("top_k_jaccard", {}), stable.get("split_half_rank_correlation", {})
        lines.append(
            f"stability: top-k Jaccard {interval(jac)} over {stable['resamples']} resamples; split-half rank "
            f"correlation {interval(rank) if rank else '—'}"
        )
    rows = {}
    for wording, curve in heads.get("faithfulness", {}).items():
        if not isinstance(curve, dict):
            continue
        for point in curve["curve"]:
            rows[f"{wording}, k={point['k']}"] = {
                "none": curve["none"]["value"],
                "top k ablated": interval(point["selected"]),
                "random k ablated (mean, range)": f"{point['random_mean']} {point['random_band']}",
                "above the draws": f"{point['above_draws']} of {curve['draws']}",
                "area": curve["area"],
            }
    if rows:
        measure = heads["faithfulness"].get("measure", "maintain")
        lines.append(f"\nfaithfulness ({measure} under mean ablation):\n\n{markdown_table(rows, 'curve')}")
    truth = heads.get("ground_truth")
    if truth:
        found = {
            way: {"precision": g["precision"], "recall": g["recall"], "ranks": g["ranks"]}
            for way, g in truth.items()
            if isinstance(g, dict)
        }
        lines.append(f"\nplanted heads {', '.join(truth['planted'])}:\n\n{markdown_table(found, 'attribution')}")
    return "\n".join(lines) + "\n"
