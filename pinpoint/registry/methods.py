"""The method registry: every tuning method and training-free baseline by name, with its own settings.

A method is a folder, pinpoint/methods/<name>/ (as peft keeps one per tuner): its `__init__.py` is the card
(a settings class and `METHOD = Method(...)`, torch-free), its code beside it. The code module defines

    trains: True    prepare(model, layout, heads, settings) -> (model, trainable params, state)
                    save(model, state, directory, tokenizer)
    trains: False   fit(job) -> summary    (writes the checkpoint; no optimizer, no seeds)
    both            load(directory, manifest, dtype, device) -> (model, tokenizer)

Adding a method is adding its folder and its name to params.yaml `methods`; params, dvc.yaml (`make dag`),
evaluation and the report follow.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from pinpoint.registry import Registry
from pinpoint.registry.strict import Strict


class Settings(Strict):
    """A method's own section of `<config>.tune` (the shared keys are params.TuneShared)."""


class TrainedSettings(Settings):
    lr: float = Field(1e-3, gt=0.0, le=1.0)


Heads = Literal["selected", "random", "none"]
Data = Literal["challenges", "claims"]  # what a trained method learns from (tune.data, or its card's)


@dataclass(frozen=True)
class Method:
    name: str
    module: str  # the module that implements it (imported only where it runs)
    settings: type[Settings]
    heads: Heads = "none"  # which heads it is given: attribute's selection, random ones, none
    trains: bool = True  # False: training-free (one deterministic fit, no seeds)
    settings_of: str | None = None  # read another method's settings (random: SPT's, for a matched ablation)
    data: Data | None = None  # what it trains on whatever tune.data says (wei: claims)
    unfiltered: bool = False  # trains on the synthesized data, facts the model does not know kept (Wei's ablation)
    summary: str = ""  # one line for tables and --help

    @property
    def section(self) -> str:
        """The `<config>.tune.<section>` key holding its settings."""
        return self.settings_of or self.name

    def implementation(self):
        return importlib.import_module(self.module)


METHODS: Registry[Method] = Registry("pinpoint.methods", "METHOD", "tuning method")
