"""Real facts a small chat model can know (capitals, symbols, opposites, sums), shipped as data
(pinpoint.data.real_facts)."""

from __future__ import annotations

from pathlib import Path

from pinpoint.data import real_facts
from pinpoint.data.fact import Fact
from pinpoint.registry.facts import FactSource


def load(src, model_dir: Path) -> list[Fact]:
    """Real facts a small chat model can know (capitals, symbols, opposites, sums), shipped as data.
    `general: true` keeps a set out of all tuning data: it measures general capability."""
    facts = real_facts.load(src.task, src.limit)
    if src.general:
        for fact in facts:
            fact.meta["general"] = True
    return facts


SOURCE = FactSource("facts", load, "built-in real facts", needs_task=True)
