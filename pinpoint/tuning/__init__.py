"""The method registry: every tuning method and training-free baseline by name, with its own settings.

Names and settings only (like peft's PeftType -> config): nothing here imports torch or a
method's code. Each method registers itself from its own module in pinpoint/tuning/methods/ (its
name, its settings class, where its code lives), which METHODS imports the first time the method is
asked for; the names are the modules there, listed without importing them. So params validates
`methods` by name, a stage that runs one method imports that method's settings and code and nothing
of the others', and adding a method changes no file an existing stage depends on. A method's code
lives in `module` and defines

    trains: True    prepare(model, layout, heads, settings) -> (model, trainable params, state)
                    save(model, state, directory, tokenizer)
    trains: False   fit(job) -> summary    (writes the checkpoint; no optimizer, no seeds)
    both            load(directory, manifest, dtype, device) -> (model, tokenizer)

Adding a method is its code (pinpoint/tuning/<name>.py) and its registration (pinpoint/tuning/methods/
<name>.py: a settings class and one `register(...)`); params, dvc.yaml (`pinpoint dag`), evaluation
and the report follow `params.yaml: methods`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from pinpoint.strict import Strict


class Settings(Strict):
    """A method's own section of `<config>.tune` (the shared keys are in params.TuneParams)."""


class TrainedSettings(Settings):
    lr: float = Field(1e-3, gt=0.0, le=1.0)


Heads = Literal["selected", "random", "none"]


@dataclass(frozen=True)
class Method:
    name: str
    module: str  # the module that implements it (imported only where it runs)
    settings: type[Settings]
    heads: Heads = "none"  # which heads it is given: attribute's selection, random ones, none
    trains: bool = True  # False: training-free (one deterministic fit, no seeds)
    settings_of: str | None = None  # read another method's settings (random: SPT's, for a matched ablation)
    summary: str = ""  # one line for tables and --help
    card: str | None = None  # the module that registers it (pinpoint.tuning.methods.<name>); None: at run time

    @property
    def section(self) -> str:
        """The `<config>.tune.<section>` key holding its settings."""
        return self.settings_of or self.name

    def implementation(self):
        return importlib.import_module(self.module)


CARDS = "pinpoint.tuning.methods"  # one module per method, each registering it


class Registry(MutableMapping):
    """name -> Method. The names are the modules of pinpoint/tuning/methods/ (read off the folder) and any
    method registered at run time (a test's toy); a method's module is imported when it is first looked up."""

    def __init__(self):
        self._methods: dict[str, Method] = {}

    def names(self) -> list[str]:
        folder = Path(__file__).parent / "methods"
        cards = [m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_")]
        return sorted(set(cards) | set(self._methods))

    def __contains__(self, name) -> bool:
        return name in self.names()

    def __getitem__(self, name: str) -> Method:
        if name not in self._methods and name in self.names():
            importlib.import_module(f"{CARDS}.{name}")  # it registers itself
        if name not in self._methods:
            raise KeyError(f"unknown tuning method {name!r}; known: {', '.join(self.names())}")
        return self._methods[name]

    def __setitem__(self, name: str, method: Method) -> None:
        self._methods[name] = method

    def __delitem__(self, name: str) -> None:
        del self._methods[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


METHODS = Registry()


def register(method: Method) -> Method:
    """Add a method: params, dvc.yaml's stages (`pinpoint dag`), evaluation and the report follow."""
    METHODS[method.name] = method
    return method


def method(name: str) -> Method:
    """The registered method `name` (a KeyError names the known ones)."""
    if name not in METHODS:
        raise KeyError(f"unknown tuning method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]
