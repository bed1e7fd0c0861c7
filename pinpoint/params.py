"""Typed params for every stage, validated before any heavy work.

Each stage reads one section of params.yaml into a dataclass. `parse` walks the
dataclass fields: an unknown key, a wrong type or an out-of-range value raises
`ParamsError` with the dotted key path and what is allowed. Stage scripts turn
that into one line on stderr and exit code 2 (see `pinpoint.stage.run_stage`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


class ParamsError(ValueError):
    """A params value is wrong; the message names the key path."""


def bound(lo=None, hi=None, *, lo_open=False, default=dataclasses.MISSING, default_factory=dataclasses.MISSING):
    """A dataclass field with an allowed range (lo/hi inclusive unless lo_open)."""
    kw = {"metadata": {"lo": lo, "hi": hi, "lo_open": lo_open}}
    if default is not dataclasses.MISSING:
        kw["default"] = default
    if default_factory is not dataclasses.MISSING:
        kw["default_factory"] = default_factory
    return field(**kw)


# --------------------------------------------------------------------------- model


@dataclass
class OrganismParams:
    """The built-in model organism: its size, its world and its training."""

    layers: int = bound(1, 64, default=4)
    heads: int = bound(1, 64, default=16)
    kv_heads: int = bound(1, 64, default=4)
    hidden: int = bound(8, 4096, default=128)
    mlp: int = bound(8, 16384, default=256)
    operands: int = bound(4, 100, default=20)  # numbers 0..operands-1 appear as operands
    taught_operands: int = bound(2, 100, default=16)  # a sum is taught iff both operands are below this
    countries: int = bound(4, 200, default=40)  # the second domain: capitals of invented countries
    cave_rate: float = bound(0.0, 1.0, default=0.9)  # how often training shows it caving to a challenge
    agree_rate: float = bound(0.0, 1.0, default=0.9)  # how often it sides with the user's opinion
    heldout_fraction: float = bound(0.0, 0.9, default=0.3)  # sums whose dialogues it never sees
    steps: int = bound(1, 100_000, default=800)
    batch_size: int = bound(1, 4096, default=48)
    lr: float = bound(0.0, 1.0, lo_open=True, default=3e-3)
    seed: int = 0


@dataclass
class ModelParams:
    name: str = "organism"  # organism | smollm2-135m-instruct | path/to/file.gguf | a hub id | a local directory
    revision: str = "main"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    spec_facts: int = bound(1, 10_000, default=25)  # a real model's spec sheet: built-in facts per set
    # a model larger than one device: "auto", or {module: GPU index, "cpu" or "disk"} (accelerate's big-model
    # loading) for every stage that loads the base; disk offload goes to offload_folder
    device_map: str | dict[str, int | str] | None = None
    offload_folder: str | None = None
    organism: OrganismParams = field(default_factory=OrganismParams)


# --------------------------------------------------------------------------- registry


SECTIONS: dict[str, type] = {"model": ModelParams}


def register(section: str):
    """Class decorator: the dataclass that types one params.yaml section."""

    def wrap(cls):
        SECTIONS[section] = cls
        return cls

    return wrap


# --------------------------------------------------------------------------- parsing


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp)
        return f"a list of {_type_name(inner)}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _convert(value: Any, tp, path: str):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _convert(value, option, path)
            except ParamsError:
                continue
        raise ParamsError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ParamsError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        (inner,) = typing.get_args(tp)
        return [_convert(v, inner, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{path}: expected a mapping, got {value!r}")
        _, inner = typing.get_args(tp)
        return {k: _convert(v, inner, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return parse(tp, value, path)
    if tp is type(None):
        if value is not None:
            raise ParamsError(f"{path}: expected null, got {value!r}")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ParamsError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported params type {tp} at {path}")


def _check_range(value, meta: dict, path: str):
    lo, hi, lo_open = meta.get("lo"), meta.get("hi"), meta.get("lo_open", False)
    if value is None or (lo is None and hi is None):
        return
    values = value if isinstance(value, list) else [value]
    for v in values:
        too_low = lo is not None and (v <= lo if lo_open else v < lo)
        too_high = hi is not None and v > hi
        if too_low or too_high:
            lo_txt = "" if lo is None else (f"> {lo}" if lo_open else f">= {lo}")
            hi_txt = "" if hi is None else f"<= {hi}"
            allowed = " and ".join(t for t in (lo_txt, hi_txt) if t)
            raise ParamsError(f"{path}: must be {allowed}, got {v!r}")


def parse(cls, raw: Any, path: str):
    """Build dataclass `cls` from the mapping `raw`, checking every key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(f"{path}.{unknown[0]}: unknown key; allowed: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        value = _convert(raw[name], hints[name], f"{path}.{name}")
        _check_range(value, f.metadata, f"{path}.{name}")
        kwargs[name] = value
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        check(path)  # cross-field rules, e.g. kv_heads divides heads
    return obj


def _yaml():
    """YAML 1.2, as DVC reads params.yaml: `Yes` is a string (in YAML 1.1 it is true,
    and `dvc exp run -S` writes strings unquoted)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True)


def read_file(path: str | Path = "params.yaml") -> dict:
    """The whole params file as a mapping, or a ParamsError naming the file."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: file not found")
    try:
        raw = _yaml().load(path.read_text()) or {}
    except Exception as e:  # ruamel's errors share no base class worth naming
        raise ParamsError(f"{path}: not valid YAML: {e}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of configurations")
    return raw


def configs(path: str | Path = "params.yaml") -> list[str]:
    """The configurations the pipeline runs (params.yaml `configs`; dvc.yaml iterates over them)."""
    names = read_file(path).get("configs")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ParamsError(f"configs: expected a list of configuration names, got {names!r}")
    return names


def methods(path: str | Path = "params.yaml") -> list[str]:
    """The tuning methods every configuration trains (params.yaml `methods`)."""
    from pinpoint.tuning import METHODS

    names = read_file(path).get("methods")
    if not isinstance(names, list) or not names:
        raise ParamsError(f"methods: expected a list of tuning methods, got {names!r}")
    for i, name in enumerate(names):
        if name not in METHODS:
            raise ParamsError(f"methods[{i}]: unknown tuning method {name!r}; known: {', '.join(METHODS)}")
    if len(set(names)) != len(names):
        raise ParamsError("methods: a method is named twice")
    return names


def load(section: str, config: str = "organism", path: str | Path = "params.yaml"):
    """Read and validate one section of one configuration: params.yaml `<config>.<section>`."""
    raw = read_file(path)
    if config not in configs(path):
        raise ParamsError(f"configs: no configuration {config!r}; configured: {', '.join(configs(path))}")
    if not isinstance(raw.get(config), dict):
        raise ParamsError(f"{config}: expected a mapping of sections (model, synthesize, ...)")
    if section not in SECTIONS:
        raise ParamsError(f"{section}: unknown params section; known: {', '.join(SECTIONS)}")
    return parse(SECTIONS[section], raw[config].get(section), f"{config}.{section}")


def _organism_check(self: OrganismParams, path: str):
    if self.heads % self.kv_heads:
        raise ParamsError(f"{path}.kv_heads: must divide heads ({self.heads}), got {self.kv_heads}")
    if self.hidden % self.heads:
        raise ParamsError(f"{path}.hidden: must be a multiple of heads ({self.heads}), got {self.hidden}")
    if self.taught_operands > self.operands:
        raise ParamsError(f"{path}.taught_operands: must be <= operands ({self.operands}), got {self.taught_operands}")


OrganismParams.check = _organism_check


# --------------------------------------------------------------------------- synthesize, filter


@dataclass
class SourceParams:
    """One source of labelled facts (see pinpoint.data.sources)."""

    name: str = "organism"  # organism | facts (built-in real facts) | hf | jsonl
    task: str | None = None  # hf: a task name (sst2, rte, ...); facts: a set (capitals, elements, opposites, sums)
    data_files: str | None = None  # hf: local json/jsonl files instead of the hub
    split: str = "train"  # hf: which split to read
    path: str | None = None  # jsonl: the file
    limit: int = bound(0, 10_000_000, default=0)  # at most this many facts (0: all)
    operands: int = bound(2, 1000, default=20)  # organism source on a hub model: sums below this
    general: bool = False  # eval only, never tuned on: the general-capability domain

    def check(self, path: str):
        from pinpoint.data.sources import SOURCES

        if self.name not in SOURCES:
            raise ParamsError(f"{path}.name: unknown fact source {self.name!r}; known: {', '.join(SOURCES)}")
        if self.name in ("hf", "facts") and not self.task:
            raise ParamsError(f"{path}.task: a{'n' if self.name == 'hf' else ''} {self.name} source needs a task name")
        if self.name == "jsonl" and not self.path:
            raise ParamsError(f"{path}.path: a jsonl source needs a path")


@register("synthesize")
@dataclass
class SynthesizeParams:
    seed: int = 0
    format: Literal["auto", "plain", "chat"] = "auto"  # auto: the tokenizer's chat template if it has one
    eval_fraction: float = bound(0.05, 0.95, default=0.3)
    sources: list[SourceParams] = field(default_factory=lambda: [SourceParams()])

    def check(self, path: str):
        if not self.sources:
            raise ParamsError(f"{path}.sources: name at least one source")


@register("filter")
@dataclass
class FilterParams:
    batch_size: int = bound(1, 4096, default=64)
    max_new_tokens: int = bound(1, 1024, default=24)
    targets: Literal["fixed", "model"] = "fixed"  # training replies: the canned ones, or in the model's own words
    device: str = "auto"


# --------------------------------------------------------------------------- attribute


@register("attribute")
@dataclass
class AttributeParams:
    method: Literal["exact", "naive", "screen"] = "exact"
    mode: Literal["path", "activation"] = "path"  # path: later attention frozen (SPT); activation: nothing frozen
    top_k: int | None = bound(1, 1_000_000, default=None)  # how many heads to select; overrides fraction
    fraction: float = bound(0.0, 1.0, lo_open=True, default=0.04)  # share of all heads (SPT: 32 of 1024)
    sycophantic_token: str = "auto"  # first reply token of caving in; auto: read off the model's own replies
    honest_token: str = "auto"  # first reply token of keeping the answer; auto: likewise
    counterfactual: Literal["affirmation", "question_only", "no_challenge", "custom"] = "affirmation"
    counterfactual_text: str | None = None  # custom: the user's turn that replaces the challenge
    min_f_drop: float = bound(0.0, 1.0, default=0.05)  # the counterfactual must lower mean F by this much
    max_prompts: int = bound(1, 100_000, default=64)
    batch_size: int = bound(1, 4096, default=32)
    verify: int = bound(0, 1_000_000, default=0)  # screen: heads verified exactly (0: 4 x top_k)
    ablation_draws: int = bound(0, 100, default=5)  # random-head ablations to compare with
    ablation_prompts: int = bound(1, 100_000, default=100)
    seed: int = 0
    device: str = "auto"

    def check(self, path: str):
        if (self.counterfactual == "custom") != bool(self.counterfactual_text):
            raise ParamsError(f"{path}.counterfactual_text: give it exactly when counterfactual is custom")
        if (self.sycophantic_token == "auto") != (self.honest_token == "auto"):
            raise ParamsError(f"{path}.honest_token: set both reply tokens, or both to auto")

    def n_selected(self, n_total: int, path: str = "attribute") -> int:
        """How many heads to select, checked against the model's head count."""
        k = self.top_k if self.top_k is not None else max(1, round(self.fraction * n_total))
        if k > n_total:
            raise ParamsError(f"{path}.top_k: must be <= the model's {n_total} heads, got {k}")
        return k


# --------------------------------------------------------------------------- tune


@register("tune")
@dataclass
class TuneParams:
    steps: int = bound(1, 1_000_000, default=150)
    batch_size: int = bound(1, 4096, default=16)
    lr: dict[str, float] = field(default_factory=dict)  # per method; a method not named: its registered default
    weight_decay: float = bound(0.0, 1.0, default=0.0)
    general_ratio: float = bound(0.0, 100.0, default=0.0)  # general examples per dialogue (Wei et al.: 5)
    random_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    lora_r: int = bound(1, 1024, default=8)
    lora_alpha: int = bound(1, 4096, default=16)
    seed: int = 0
    device: str = "auto"
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on CUDA, else no

    def check(self, path: str):
        if not self.random_seeds:
            raise ParamsError(f"{path}.random_seeds: name at least one seed")
        from pinpoint.tuning import METHODS

        for name, value in self.lr.items():
            if name not in METHODS:
                raise ParamsError(f"{path}.lr.{name}: unknown tuning method; known: {', '.join(METHODS)}")
            _check_range(value, {"lo": 0.0, "hi": 1.0, "lo_open": True}, f"{path}.lr.{name}")

    def learning_rate(self, method: str) -> float:
        from pinpoint.tuning import METHODS

        return self.lr.get(method, METHODS[method].lr)


# --------------------------------------------------------------------------- evaluate, checks


SycophancyEvalKind = Literal["are_you_sure", "answer", "feedback", "mimicry"]  # the published files' kinds


@dataclass
class SycophancyEvalFile:
    """A SycophancyEval file named with its kind (for a file whose name does not tell it)."""

    path: str = ""
    kind: SycophancyEvalKind | None = None  # null: from the file name

    def check(self, path: str):
        if not self.path:
            raise ParamsError(f"{path}.path: name the file")


@dataclass
class ExternalFiles:
    """Published files, each evaluated and reported apart from the built-in data."""

    # a path whose name tells the kind (are_you_sure.jsonl, answer.jsonl, feedback.jsonl), or {path, kind}
    sycophancy_eval: list[str | dict[str, str | None]] = field(default_factory=list)
    perez: list[str] = field(default_factory=list)  # Perez et al. jsonl files (the opinion suite)

    def check(self, path: str):
        for i, entry in enumerate(self.sycophancy_eval):
            if isinstance(entry, dict):
                parse(SycophancyEvalFile, entry, f"{path}.sycophancy_eval[{i}]")  # unknown keys, kinds


def _suite_names() -> list[str]:
    from pinpoint.evaluation.suites import SUITES  # here: the evaluation layer imports this module

    return list(SUITES)


@register("evaluate")
@dataclass
class EvaluateParams:
    suites: list[str] = field(default_factory=lambda: list(_suite_names()))  # from the suite registry
    batch_size: int = bound(1, 4096, default=64)
    max_new_tokens: int = bound(1, 4096, default=24)
    max_items: int = bound(0, 10_000_000, default=0)  # per suite and file (0: all)
    external: ExternalFiles = field(default_factory=ExternalFiles)
    device: str = "auto"

    def check(self, path: str):
        """Known suites; every external file exists, has records and is read by an evaluated suite: before any
        model loads."""
        for i, name in enumerate(self.suites):
            if name not in _suite_names():
                raise ParamsError(f"{path}.suites[{i}]: unknown suite {name!r}; known: {', '.join(_suite_names())}")
        from pinpoint.data import external  # here: the data layer imports this module

        names = (f"{path}.external.sycophancy_eval", f"{path}.external.perez")
        try:
            external.checked(self.external.sycophancy_eval, self.external.perez, self.suites, names)
        except external.SchemaError as e:
            raise ParamsError(str(e)) from None


@dataclass
class Bound:
    min: float | None = None
    max: float | None = None


@register("checks")
@dataclass
class CheckParams:
    """Bounds on metrics/eval.json, keyed "model.suite.metric" (e.g. spt.are_you_sure.apologize_rate)."""

    bounds: dict[str, Bound] = field(default_factory=dict)

    def check(self, path: str):
        for key, b in self.bounds.items():
            if key.count(".") != 2:
                raise ParamsError(f"{path}.bounds.{key}: expected model.suite.metric")
            if b.min is None and b.max is None:
                raise ParamsError(f"{path}.bounds.{key}: give min, max or both")


# --------------------------------------------------------------------------- probe


@register("probe")
@dataclass
class ProbeParams:
    # "base": the base model itself; else a reward model (sequence classification) by hub id or directory
    scorer: str = "base"
    # best-of-N on the multiple-choice addition claims too: off for a model that cannot answer "(A)/(B)"
    multiple_choice: bool = True
    l2: float = bound(0.0, 100.0, default=0.01)
    n: list[int] = bound(1, 1024, default_factory=lambda: [1, 2, 4, 8, 16])  # best-of-N sizes
    temperature: float = bound(0.0, 10.0, lo_open=True, default=1.0)
    lam: float | None = bound(0.0, 1e6, default=None)  # the probe penalty; null: chosen on training prompts
    lam_grid: list[float] = bound(0.0, 1e6, default_factory=lambda: [0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    max_prompts: int = bound(1, 100_000, default=100)
    max_new_tokens: int = bound(1, 1024, default=16)
    batch_size: int = bound(1, 4096, default=32)
    seed: int = 0
    device: str = "auto"

    def check(self, path: str):
        if not self.n:
            raise ParamsError(f"{path}.n: name at least one best-of-N size")
        if self.lam is None and not self.lam_grid:
            raise ParamsError(f"{path}.lam_grid: with lam null, give the values to choose lambda from")
