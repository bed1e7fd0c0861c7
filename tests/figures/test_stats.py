"""Intervals and paired comparisons, checked against values worked out by hand or by the libraries' own
definitions, and the same bits every time (seeded, integer sums)."""

import pytest

from pinpoint.figures import stats


def test_wilson_intervals_hold_at_the_edges():
    zero = stats.rate([False] * 40)
    assert zero.value == 0 and zero.low == 0 and 0.08 < zero.high < 0.09  # not [0, 0]
    tenth = stats.rate([True] * 10 + [False] * 90)
    assert tenth.as_json() == {"value": 0.1, "ci95": [0.0552, 0.1744], "n": 100}
    assert stats.rate([True] * 5).as_json()["few"] is True


def test_a_mean_interval_covers_the_mean_and_repeats_bit_for_bit():
    values = [0.1, 0.5, 0.2, 0.9, 0.4, 0.3] * 10
    a, b = stats.mean(values, seed=3), stats.mean(values, seed=3)
    assert a == b and a.low < a.value < a.high and a.value == pytest.approx(0.4)


def test_a_paired_difference_uses_the_items_both_have():
    a = {str(i): int(i < 30) for i in range(100)}
    b = {str(i): int(i < 10) for i in range(100)} | {"extra": 1}
    d = stats.paired(a, b)
    assert d.n == 100 and d.value == pytest.approx(0.2) and d.low > 0 and stats.excludes_zero(d)
    assert d.p < 1e-4  # McNemar exact: 20 discordant pairs, all one way
    same = stats.paired(a, a)
    assert same.value == 0 and same.p == 1.0 and not stats.excludes_zero(same)
    assert stats.paired({"x": 1.0}, {"y": 0.0}).n == 0
