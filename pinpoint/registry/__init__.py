"""The registries: what grows, by name (methods, suites, fact sources, model sources), torch-free.

One idiom for all four (like peft's tuner folders and lm-evaluation-harness's task files): a registry is a
package of *cards*, one small module per entry, whose file names are the registry's names. Listing the names
reads the folder and imports nothing; looking a name up imports that card alone and returns the entry it
defines (its `attribute`: METHOD, SUITE, SOURCE). A card imports no torch: params validation, the report and
dvc.yaml read the registries at once, and a stage imports the cards of what it runs and nothing of the
others', so adding an entry changes no file an existing stage depends on. An entry may also be added at
run time (`REGISTRY[name] = entry`: a test's toy); it shadows no card.

    METHODS  pinpoint.methods.<name>          (a folder per method: its card is the folder's __init__)
    SUITES   pinpoint.evaluation.suites.<name>
    FACT_SOURCES   pinpoint.data.sources.<name>
    MODEL_SOURCES  pinpoint.models.sources.<name>
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Iterator, MutableMapping
from typing import Generic, TypeVar

Entry = TypeVar("Entry")


class Registry(MutableMapping, Generic[Entry]):
    """name -> entry: the cards of `package` (each module's `attribute`), and entries registered at run time."""

    def __init__(self, package: str, attribute: str, what: str):
        self.package, self.attribute, self.what = package, attribute, what
        self._added: dict[str, Entry] = {}

    def _folder_names(self) -> list[str]:
        spec = importlib.util.find_spec(self.package)  # imports the package's parents, not the package
        if spec is None or not spec.submodule_search_locations:
            return []
        return [m.name for m in pkgutil.iter_modules(spec.submodule_search_locations) if not m.name.startswith("_")]

    def names(self) -> list[str]:
        return sorted(set(self._folder_names()) | set(self._added))

    def card(self, name: str) -> str | None:
        """The module that registers `name` (None: registered at run time)."""
        return None if name in self._added else f"{self.package}.{name}"

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self.names()

    def __getitem__(self, name: str) -> Entry:
        if name in self._added:
            return self._added[name]
        if name not in self._folder_names():
            raise KeyError(f"unknown {self.what} {name!r}; known: {', '.join(self.names())}")
        return getattr(importlib.import_module(f"{self.package}.{name}"), self.attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __setitem__(self, name: str, entry: Entry) -> None:
        """Add an entry at run time (a card needs no call: its module is the registration)."""
        if name in self._folder_names():
            raise ValueError(f"{self.what} {name!r} has a card already ({self.package}.{name})")
        self._added[name] = entry

    def __delitem__(self, name: str) -> None:
        """Remove an entry added at run time (a card stays: delete its file)."""
        del self._added[name]
