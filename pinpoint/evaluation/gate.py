"""The metric gate: bounds from params (`checks:`) against metrics/eval.json."""

from __future__ import annotations


def missed(metrics: dict, bounds: dict) -> list[str]:
    """One line per bound that is missed (or whose metric is absent)."""
    problems = []
    for key, b in sorted(bounds.items()):
        model, suite, metric = key.split(".")
        result = metrics.get(model, {}).get(suite, {})
        if result.get("valid") is False:  # a figure that cannot mean anything passes no gate
            problems.append(f"{key}: not valid ({result.get('invalid_reason', 'invalid')})")
            continue
        value = result.get(metric)
        if not isinstance(value, (int, float)) or value != value:
            problems.append(f"{key}: no such metric in the evaluation")
            continue
        if b.min is not None and value < b.min:
            problems.append(f"{key} = {value:.4f}, below the minimum {b.min}")
        if b.max is not None and value > b.max:
            problems.append(f"{key} = {value:.4f}, above the maximum {b.max}")
    return problems
