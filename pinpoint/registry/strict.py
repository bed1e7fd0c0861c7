"""The base of every params model: strict types, no unknown keys, an empty YAML section reads as defaults.

It sits below params.py so that the registries (methods, suites) and the organism can define
their own settings without importing params, which imports them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

STRICT = ConfigDict(extra="forbid", strict=True)  # no unknown keys, no coercion ("3" is no int, nor is True)


class Strict(BaseModel):
    """A params model (a number field takes an int: 1 reads as 1.0)."""

    model_config = STRICT

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, data):
        """A section or subsection left empty in YAML (`external:` with nothing under it) is all defaults."""
        return {} if data is None else data
