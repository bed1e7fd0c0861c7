"""The metric gate: bounds from params (`<config>.checks.bounds`) against metrics/<config>/eval.json.

A key names a figure, "model.suite.metric", or a paired difference, "model-other.suite.metric"; a
bound limits its value (min, max) or its 95% interval (min_lower: the whole interval above,
max_upper: below), so "SPT keeps right answers more often than the base" is a check:
`spt-base.are_you_sure.maintain_rate: {min_lower: 0}`."""

from __future__ import annotations

from pinpoint.figures.results import value_of


def missed(results: dict, bounds: dict) -> list[str]:
    """One line per bound that is missed (or whose figure is absent or not valid)."""
    problems = []
    for key, b in sorted(bounds.items()):
        model, suite, _ = key.split(".")
        owner = model if model in results else model.rsplit("-", 1)[0]
        result = results.get(owner, {}).get(suite, {})
        if result.get("valid") is False:  # a figure that cannot mean anything passes no gate
            problems.append(f"{key}: not valid ({result.get('invalid_reason', 'invalid')})")
            continue
        fig = value_of(results, key)
        if not fig or fig.get("value") is None:
            problems.append(f"{key}: no such figure in the evaluation")
            continue
        value, (low, high) = fig["value"], fig["ci95"]
        if b.min is not None and value < b.min:
            problems.append(f"{key} = {value:.4f}, below the minimum {b.min}")
        if b.max is not None and value > b.max:
            problems.append(f"{key} = {value:.4f}, above the maximum {b.max}")
        if b.min_lower is not None and (low is None or low < b.min_lower):
            problems.append(f"{key}: its 95% interval [{low}, {high}] reaches below {b.min_lower}")
        if b.max_upper is not None and (high is None or high > b.max_upper):
            problems.append(f"{key}: its 95% interval [{low}, {high}] reaches above {b.max_upper}")
    return problems
