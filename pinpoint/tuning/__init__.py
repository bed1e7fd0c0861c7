"""The method registry: every tuning method and training-free baseline by name, with its own settings.

Names and settings only (like peft's PeftType -> config): nothing here imports torch or a
method's code, so params validates `methods` and `<config>.tune.<method>` against this module
alone, and a stage that trains one method depends on that method's module and nothing of the
others'. A method's code lives in `module` and defines

    trains: True    prepare(model, layout, heads, settings) -> (model, trainable params, state)
                    save(model, state, directory, tokenizer)
    trains: False   fit(job) -> summary    (writes the checkpoint; no optimizer, no seeds)
    both            load(directory, manifest, dtype, device) -> (model, tokenizer)

Adding a method is its module plus one `register(...)` line below; params, dvc.yaml (`pinpoint
dag`), evaluation and the report follow `params.yaml: methods`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from pinpoint.strict import Strict


class Settings(Strict):
    """A method's own section of `<config>.tune` (the shared keys are in params.TuneParams)."""


class TrainedSettings(Settings):
    lr: float = Field(1e-3, gt=0.0, le=1.0)


class SPTSettings(TrainedSettings):
    """Supervised pinpoint tuning; `random` (the same on random heads) reads these too."""

    lr: float = Field(2e-3, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1, le=100_000)  # heads tuned: the top k of attribute's ranking (null: its k)
    projections: Literal["qo", "o"] = "qo"  # a head's q rows (and k/v without GQA) and o columns, or o columns only


class SFTSettings(TrainedSettings):
    lr: float = Field(3e-4, gt=0.0, le=1.0)


class LoRASettings(TrainedSettings):
    lr: float = Field(1e-3, gt=0.0, le=1.0)
    r: int = Field(8, ge=1, le=1024)
    alpha: int = Field(16, ge=1, le=4096)


SYSTEM_PROMPT = (
    "You are a careful assistant. If the user doubts or disputes an answer of yours that is correct, "
    "keep it and say why. If your answer was wrong, correct it. Never change a correct answer just "
    "because the user disagrees."
)


class PromptSettings(Settings):
    system: str = Field(SYSTEM_PROMPT, min_length=1)  # the system message (a chat template without one: README)


class SteerSettings(Settings):
    """Contrastive activation addition (Rimsky et al.): honest minus sycophantic, at one layer."""

    layer: int | None = Field(None, ge=0, le=1000)  # null: chosen on the validation split
    multiplier: float | None = Field(None, ge=-100.0, le=100.0)  # null: chosen on the validation split
    multipliers: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0])  # the grid for the choice
    layers: int = Field(4, ge=1, le=64)  # layers tried in the choice: the best-separating ones
    max_pairs: int = Field(200, ge=2, le=100_000)


class SteerHeadsSettings(Settings):
    """Inference-time intervention (Li et al.) on the selected heads' outputs."""

    multiplier: float | None = Field(None, ge=-100.0, le=100.0)  # null: chosen on the validation split
    multipliers: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0, 16.0])
    max_pairs: int = Field(200, ge=2, le=100_000)


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

    @property
    def section(self) -> str:
        """The `<config>.tune.<section>` key holding its settings."""
        return self.settings_of or self.name

    def implementation(self):
        return importlib.import_module(self.module)


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method: params, dvc.yaml's stages (`pinpoint dag`), evaluation and the report follow."""
    METHODS[method.name] = method
    return method


register(Method("spt", "pinpoint.tuning.spt", SPTSettings, "selected", summary="the selected heads' slices"))
register(Method("sft", "pinpoint.tuning.sft", SFTSettings, summary="every weight"))
register(Method("lora", "pinpoint.tuning.lora", LoRASettings, summary="LoRA on every attention projection"))
register(
    Method("random", "pinpoint.tuning.spt", SPTSettings, "random", settings_of="spt", summary="SPT on random heads")
)
register(Method("prompt", "pinpoint.tuning.prompt", PromptSettings, trains=False, summary="a system message"))
register(Method("steer", "pinpoint.tuning.steer", SteerSettings, trains=False, summary="residual steering (CAA)"))
register(
    Method(
        "steer_heads",
        "pinpoint.tuning.steer_heads",
        SteerHeadsSettings,
        "selected",
        trains=False,
        summary="steering the selected heads (ITI)",
    )
)


def method(name: str) -> Method:
    """The registered method `name` (a KeyError names the known ones)."""
    if name not in METHODS:
        raise KeyError(f"unknown tuning method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]
