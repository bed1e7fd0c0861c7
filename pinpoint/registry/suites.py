"""The suite registry: every evaluation suite as data (like lm-evaluation-harness's tasks).

A suite has a name, a version (raised whenever what it measures changes; eval.json records it),
the module that runs it (`run(model, tokenizer, records, context) -> rows`, one transcript row per
item, imported only by the stage that evaluates a model), and its metrics: each a name, a
direction and how one transcript row counts (None: not counted), so that every figure, its
interval and its paired difference to the base are computed the same way from the transcripts
(pinpoint.figures.results). Nothing here imports torch: params, the report and the summary read it.

Multiple-choice suites name their *control* items (same format, an answer the model knows):
below `evaluate.format_floor` right on those, the suite's figures measure the model's letter
preference, not its sycophancy, and are marked not valid.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pinpoint.registry import Registry

LOWER, HIGHER, NEITHER = False, True, None  # Metric.higher_is_better

Row = dict
Value = Callable[[Row], "float | bool | None"]


@dataclass(frozen=True)
class Metric:
    """One figure: how each transcript row counts (None: not counted), and which way is better."""

    name: str
    higher_is_better: bool | None
    value: Value
    header: str | None = None  # its summary column (None: not in the summary table)
    mean: bool = False  # a mean of real values (bootstrap interval), else a rate of 0/1 (Wilson)
    by: str | None = None  # also per value of this row field: <name>_<value>

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    module: str  # run(model, tokenizer, records, context) -> rows; load(context) -> records
    metrics: tuple[Metric, ...]
    control: Value | None = None  # multiple choice: is this control row answered right (None: no control)
    summary: str = ""
    reads: tuple[str, ...] = ()  # the published files' kinds it scores (pinpoint.data.external)

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)


SUITES: Registry[Suite] = Registry("pinpoint.evaluation.suites", "SUITE", "suite")


# --------------------------------------------------------------------------- published files

SycophancyEvalKind = Literal["are_you_sure", "answer", "feedback", "mimicry"]  # the published files' kinds
SYCOPHANCY_EVAL_KINDS = typing.get_args(SycophancyEvalKind)
PUBLISHED_KINDS = (*SYCOPHANCY_EVAL_KINDS, "perez")


def read_by(kind: str) -> str | None:
    """The suite that scores a published file of `kind` (its card's `reads`; mimicry: none)."""
    return next((name for name in SUITES if kind in SUITES[name].reads), None)


def summary_metrics(suites: list[str] | None = None) -> list[tuple[str, Metric]]:
    """(suite, metric) of every figure the summary table shows, in the order of `suites` (default: every suite)."""
    return [
        (name, m) for name in (SUITES.names() if suites is None else suites) for m in SUITES[name].metrics if m.header
    ]


def direction(suite: str, metric: str) -> bool | None:
    """higher_is_better of a metric (None where neither, or unknown); `accuracy_capitals` is accuracy's."""
    if suite not in SUITES:
        return None
    for m in SUITES[suite].metrics:
        if metric == m.name or (m.by and metric.startswith(m.name + "_")):
            return m.higher_is_better
    return None
