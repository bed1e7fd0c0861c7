"""How far a figure could move by chance: 95% intervals and paired comparisons.

  rate(values)          a proportion with its Wilson interval (statsmodels): right at small n
                        and at 0 or 1, where the normal approximation gives [0, 0]
  mean(values)          a mean with a percentile bootstrap interval (scipy), for KL and readouts
  paired(a, b)          the difference a - b on the items both were scored on, with a paired
                        bootstrap interval: items are resampled with both their values, so the
                        interval is that of the difference, not of two independent figures.
                        For 0/1 values McNemar's exact test adds a p-value (statsmodels); it
                        uses only the items whose outcome differs, which is what a paired rate
                        comparison turns on, but it gives no interval, hence the bootstrap.

A figure on fewer than FEW items is marked `few`: its interval is wide, and the figure is
no evidence either way. Bootstraps are seeded and run on integers (values scaled to 1e-9 and
rounded), so every resample's sum is exact and the same lock gives the same bits anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FEW = 30  # below this many items a figure says so
RESAMPLES = 2000
SCALE = 10**9  # bootstrap in integer units of 1e-9: exact sums in any order


@dataclass(frozen=True)
class Figure:
    """A measured value, its n and its 95% interval."""

    value: float
    low: float
    high: float
    n: int

    def as_json(self) -> dict:
        """{"value", "ci95", "n"} (and "few": true under FEW items); NaN as null."""
        out = {"value": _round(self.value), "ci95": [_round(self.low), _round(self.high)], "n": self.n}
        return out | ({"few": True} if self.n < FEW else {})


@dataclass(frozen=True)
class Comparison(Figure):
    """a - b on the n items both were scored on; p: McNemar's exact test (0/1 values), else None."""

    p: float | None = None

    def as_json(self) -> dict:
        return super().as_json() | ({"p_mcnemar": _round(self.p)} if self.p is not None else {})


def _round(x: float | None, digits: int = 4):
    return None if x is None or x != x else round(float(x), digits)


NAN = float("nan")


def rate(values: Sequence[bool | int]) -> Figure:
    """The share of true values, with Wilson's 95% interval."""
    from statsmodels.stats.proportion import proportion_confint

    n, k = len(values), int(sum(bool(v) for v in values))
    if n == 0:
        return Figure(NAN, NAN, NAN, 0)
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return Figure(k / n, float(low), float(high), n)


def _integers(values: Sequence[float]):
    import numpy as np

    return np.round(np.asarray(values, dtype=np.float64) * SCALE).astype(np.int64)


def _bootstrap(units, seed: int) -> tuple[float, float]:
    """Percentile interval of the mean of integer `units` (one per item), resampled by item."""
    import numpy as np
    from scipy.stats import bootstrap

    if len(units) < 2 or np.all(units == units[0]):
        v = float(units[0]) / SCALE if len(units) else NAN
        return v, v
    result = bootstrap(
        (units,),
        lambda x, axis: np.sum(x, axis=axis) / x.shape[axis],  # exact: integer sums
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=True,
    )
    return float(result.confidence_interval.low) / SCALE, float(result.confidence_interval.high) / SCALE


def mean(values: Sequence[float], seed: int = 0) -> Figure:
    """The mean, with a seeded percentile bootstrap 95% interval."""
    if not values:
        return Figure(NAN, NAN, NAN, 0)
    units = _integers(values)
    low, high = _bootstrap(units, seed)
    return Figure(float(units.sum()) / SCALE / len(units), low, high, len(units))


def paired(a: Mapping[str, float], b: Mapping[str, float], seed: int = 0) -> Comparison:
    """a - b over the items (keys) both have, with a paired bootstrap interval and, for 0/1 values,
    McNemar's exact p-value."""
    shared = sorted(set(a) & set(b))
    if not shared:
        return Comparison(NAN, NAN, NAN, 0)
    diffs = _integers([a[k] for k in shared]) - _integers([b[k] for k in shared])
    low, high = _bootstrap(diffs, seed)
    p = None
    if all(a[k] in (0, 1) and b[k] in (0, 1) for k in shared):
        from statsmodels.stats.contingency_tables import mcnemar

        only_a = sum(a[k] == 1 and b[k] == 0 for k in shared)
        only_b = sum(a[k] == 0 and b[k] == 1 for k in shared)
        both = sum(a[k] == 1 and b[k] == 1 for k in shared)
        p = float(mcnemar([[both, only_a], [only_b, len(shared) - both - only_a - only_b]], exact=True).pvalue)
    return Comparison(float(diffs.sum()) / SCALE / len(shared), low, high, len(shared), p)


def excludes_zero(figure: Figure) -> bool:
    """Does the 95% interval lie on one side of zero?"""
    return figure.low > 0 or figure.high < 0
