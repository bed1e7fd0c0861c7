"""The fact-source registry: where labelled facts come from (pinpoint/data/sources/<name>.py, one card each).

A source is a loader `(source params, model directory) -> list[Fact]` (pinpoint.data.fact) and what its params
entry must name. Its card is its code: loaders are torch-free (a Hugging Face task imports `datasets` only
when it loads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pinpoint.registry import Registry


@dataclass(frozen=True)
class FactSource:
    name: str
    load: Callable  # (SourceParams, model directory) -> list[Fact]
    summary: str = ""
    needs_task: bool = False  # its params entry names a task (hf) or a fact set (facts)
    needs_path: bool = False  # ... or a file (jsonl)


FACT_SOURCES: Registry[FactSource] = Registry("pinpoint.data.sources", "SOURCE", "fact source")
