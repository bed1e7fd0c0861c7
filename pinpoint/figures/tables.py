"""Tables for people: the summary of eval.json (figures with their 95% intervals, and each model's
paired difference to the base), the stage tables printed at the end of a stage.

A result the evaluation marked not valid is never shown as a number: tables say "n/a (reason)".
A figure on fewer than 30 items carries a dagger; a difference whose interval excludes zero a star.
"""

from __future__ import annotations

from pinpoint.console import markdown_table, print_table  # noqa: F401  (re-exported for the report's callers)
from pinpoint.registry.suites import summary_metrics

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
    columns = []
    for suite, metric in summary_metrics():
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
    return (
        f"{summary_table(results)}\n\n{difference_table(results)}\n\n"
        + (f"{notes}\n\n" if notes else "")
        + f"95% intervals: Wilson for a rate, bootstrap for a mean; differences are paired over the items both "
        f"models were scored on (bootstrap; {REAL_MARK}: the interval excludes 0); {FEW_MARK}: fewer than 30 items.\n"
    )


def seeds_table(results: dict, suite: str, metric: str) -> dict[str, dict]:
    """Each seed's figure of one metric, per model trained with several."""
    out = {}
    for model, parts in results.items():
        fig = parts.get(suite, {}).get(metric, {})
        if fig.get("seeds"):
            out[model] = {f"seed {i}": v for i, v in enumerate(fig["seeds"])} | {"range": fig["seed_range"]}
    return out
