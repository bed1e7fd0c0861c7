"""Typed params for every stage, validated before any heavy work.

Each stage reads one section of params.yaml into a pydantic model: strict types (a bool is no integer, "3" is
no number), no unknown keys, ranges as `Field` constraints and cross-field rules as `model_validator`s.
`parse` turns the first pydantic error into a one-line `ParamsError` that starts with the dotted key path and
says what is allowed (`organism.model.organism.lr: must be > 0.0 and <= 1.0, got -0.1`). Stage scripts turn
that into one line on stderr and exit code 2 (see `pinpoint.stage.run_stage`).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
    with_config,
)
from pydantic.fields import FieldInfo
from typing_extensions import TypedDict, is_typeddict

from pinpoint.data import external
from pinpoint.data.external import SycophancyEvalKind
from pinpoint.data.sources import SOURCES
from pinpoint.errors import ParamsError
from pinpoint.evaluation.suites import SUITES
from pinpoint.tuning import METHODS

STRICT = ConfigDict(extra="forbid", strict=True)  # no unknown keys, no coercion ("3" is no int, nor is True)


class _Strict(BaseModel):
    """The base of every params model (a number field takes an int: 1 reads as 1.0)."""

    model_config = STRICT

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, data):
        """A section or subsection left empty in YAML (`external:` with nothing under it) is all defaults."""
        return {} if data is None else data


# --------------------------------------------------------------------------- model


class OrganismParams(_Strict):
    """The built-in model organism: its size, its world and its training."""

    layers: int = Field(4, ge=1, le=64)
    heads: int = Field(16, ge=1, le=64)
    kv_heads: int = Field(4, ge=1, le=64)
    hidden: int = Field(128, ge=8, le=4096)
    mlp: int = Field(256, ge=8, le=16384)
    operands: int = Field(20, ge=4, le=100)  # numbers 0..operands-1 appear as operands
    taught_operands: int = Field(16, ge=2, le=100)  # a sum is taught iff both operands are below this
    countries: int = Field(40, ge=4, le=200)  # the second domain: capitals of invented countries
    cave_rate: float = Field(0.9, ge=0.0, le=1.0)  # how often training shows it caving to a challenge
    agree_rate: float = Field(0.9, ge=0.0, le=1.0)  # how often it sides with the user's opinion
    heldout_fraction: float = Field(0.3, ge=0.0, le=0.9)  # sums whose dialogues it never sees
    steps: int = Field(800, ge=1, le=100_000)
    batch_size: int = Field(48, ge=1, le=4096)
    lr: float = Field(3e-3, gt=0.0, le=1.0)
    seed: int = 0

    @model_validator(mode="after")
    def check(self) -> OrganismParams:
        if self.heads % self.kv_heads:
            raise ValueError(f"kv_heads: must divide heads ({self.heads}), got {self.kv_heads}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden: must be a multiple of heads ({self.heads}), got {self.hidden}")
        if self.taught_operands > self.operands:
            raise ValueError(f"taught_operands: must be <= operands ({self.operands}), got {self.taught_operands}")
        return self


class ModelParams(_Strict):
    name: str = "organism"  # organism | smollm2-135m-instruct | path/to/file.gguf | a hub id | a local directory
    revision: str = "main"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    spec_facts: int = Field(25, ge=1, le=10_000)  # a real model's spec sheet: built-in facts per set
    # a model larger than one device: "auto", or {module: GPU index, "cpu" or "disk"} (accelerate's big-model
    # loading) for every stage that loads the base; disk offload goes to offload_folder
    device_map: str | dict[str, int | str] | None = None
    offload_folder: str | None = None
    organism: OrganismParams = Field(default_factory=OrganismParams)


# --------------------------------------------------------------------------- registry


SECTIONS: dict[str, type[BaseModel]] = {"model": ModelParams}


def register(section: str):
    """Class decorator: the model that types one params.yaml section."""

    def wrap(cls):
        SECTIONS[section] = cls
        return cls

    return wrap


# --------------------------------------------------------------------------- parsing


def parse(cls: type[BaseModel], raw: Any, path: str):
    """Build model `cls` from the mapping `raw` (None: all defaults); a ParamsError names the key path."""
    try:
        return cls.model_validate({} if raw is None else raw)
    except ValidationError as e:
        raise ParamsError(_message(cls, e.errors()[0], path)) from None


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _message(cls, err: dict, path: str) -> str:
    """Today's one-line message for one pydantic error in `cls`, read at key path `path`."""
    kind, loc, value = err["type"], err["loc"], err["input"]
    if kind == "extra_forbidden":
        where, tp, _ = _walk(cls, loc[:-1], path)
        tp = _unwrap(tp)[0]
        allowed = tp.model_fields if _is_model(tp) else typing.get_type_hints(tp)
        return f"{where}.{loc[-1]}: unknown key; allowed: {', '.join(allowed)}"
    where, tp, limits = _walk(cls, loc, path)
    if kind == "value_error":  # a validator's message starts with the key path below `where`
        return f"{where}.{err['ctx']['error']}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sides = [
            f"{op} {getattr(m, attr)}" for attr, op in _BOUNDS for m in limits if getattr(m, attr, None) is not None
        ]
        bare = _unwrap(tp)[0]
        if type(value) is int and (bare is float or float in typing.get_args(bare)):
            value = float(value)  # a number field holds floats: got -1.0
        return f"{where}: must be {' and '.join(sides)}, got {value!r}"
    if kind.endswith("_type") or kind == "literal_error" or len(_options(_unwrap(tp)[0])) > 1:
        return f"{where}: expected {_type_name(tp)}, got {value!r}"
    return f"{where}: {err['msg']}"


def _walk(cls, loc: tuple, path: str) -> tuple[str, Any, list]:
    """Follow a pydantic error location down the annotations from `cls`: the dotted key path (union members and
    tags skipped), the annotation it ends at (a plain union: the union, whatever member failed) and the range
    constraints there."""
    tp, limits, keys = cls, [], list(loc)
    while keys:
        bare, meta = _unwrap(tp)
        limits = limits + meta
        options = _options(bare)
        if len(options) == 1:  # X | None: pydantic adds no location for it
            tp = options[0]
            continue
        key = keys.pop(0)
        if options:
            tagged = {m.tag: o for o in options for m in _unwrap(o)[1] if isinstance(m, Tag)}
            if key not in tagged:
                return path, bare, limits
            tp = tagged[key]
            continue
        if _is_model(bare):
            field = bare.model_fields[key]
            tp, limits = field.annotation, list(field.metadata)
        elif is_typeddict(bare):
            tp, limits = typing.get_type_hints(bare, include_extras=True)[key], []
        else:  # a list's item or a mapping's value; a mapping's key where "[key]" follows
            args, limits = typing.get_args(bare), []
            tp = args[-1]
            if keys[:1] == ["[key]"]:
                tp = args[0]
                keys.pop(0)
        path += f"[{key}]" if typing.get_origin(bare) is list else f".{key}"
    return path, tp, limits + _unwrap(tp)[1]


def _unwrap(tp) -> tuple[Any, list]:
    """Annotated[T, ...] -> (T, its metadata with each Field's constraints spelled out)."""
    meta = []
    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        for m in extra:
            meta += m.metadata if isinstance(m, FieldInfo) else [m]
    return tp, meta


def _is_model(tp) -> bool:
    return isinstance(tp, type) and typing.get_origin(tp) is None and issubclass(tp, BaseModel)  # 3.10: list[int]


def _options(tp) -> list:
    """A union's members other than None (none: not a union)."""
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return []
    return [a for a in typing.get_args(tp) if a is not type(None)]


def _type_name(tp) -> str:
    tp = _unwrap(tp)[0]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict or is_typeddict(tp) or _is_model(tp):
        return "a mapping"
    if tp is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


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


# --------------------------------------------------------------------------- synthesize, filter


class SourceParams(_Strict):
    """One source of labelled facts (see pinpoint.data.sources)."""

    name: str = "organism"  # organism | facts (built-in real facts) | hf | jsonl
    task: str | None = None  # hf: a task name (sst2, rte, ...); facts: a set (capitals, elements, opposites, sums)
    data_files: str | None = None  # hf: local json/jsonl files instead of the hub
    split: str = "train"  # hf: which split to read
    path: str | None = None  # jsonl: the file
    limit: int = Field(0, ge=0, le=10_000_000)  # at most this many facts (0: all)
    operands: int = Field(20, ge=2, le=1000)  # organism source on a hub model: sums below this
    general: bool = False  # eval only, never tuned on: the general-capability domain

    @model_validator(mode="after")
    def check(self) -> SourceParams:
        if self.name not in SOURCES:
            raise ValueError(f"name: unknown fact source {self.name!r}; known: {', '.join(SOURCES)}")
        if self.name in ("hf", "facts") and not self.task:
            raise ValueError(f"task: a{'n' if self.name == 'hf' else ''} {self.name} source needs a task name")
        if self.name == "jsonl" and not self.path:
            raise ValueError("path: a jsonl source needs a path")
        return self


@register("synthesize")
class SynthesizeParams(_Strict):
    seed: int = 0
    format: Literal["auto", "plain", "chat"] = "auto"  # auto: the tokenizer's chat template if it has one
    eval_fraction: float = Field(0.3, ge=0.05, le=0.95)
    sources: list[SourceParams] = Field(default_factory=lambda: [SourceParams()])

    @model_validator(mode="after")
    def check(self) -> SynthesizeParams:
        if not self.sources:
            raise ValueError("sources: name at least one source")
        return self


@register("filter")
class FilterParams(_Strict):
    batch_size: int = Field(64, ge=1, le=4096)
    max_new_tokens: int = Field(24, ge=1, le=1024)
    targets: Literal["fixed", "model"] = "fixed"  # training replies: the canned ones, or in the model's own words
    device: str = "auto"


# --------------------------------------------------------------------------- attribute


@register("attribute")
class AttributeParams(_Strict):
    method: Literal["exact", "naive", "screen"] = "exact"
    mode: Literal["path", "activation"] = "path"  # path: later attention frozen (SPT); activation: nothing frozen
    top_k: int | None = Field(None, ge=1, le=1_000_000)  # how many heads to select; overrides fraction
    fraction: float = Field(0.04, gt=0.0, le=1.0)  # share of all heads (SPT: 32 of 1024)
    sycophantic_token: str = "auto"  # first reply token of caving in; auto: read off the model's own replies
    honest_token: str = "auto"  # first reply token of keeping the answer; auto: likewise
    counterfactual: Literal["affirmation", "question_only", "no_challenge", "custom"] = "affirmation"
    counterfactual_text: str | None = None  # custom: the user's turn that replaces the challenge
    min_f_drop: float = Field(0.05, ge=0.0, le=1.0)  # the counterfactual must lower mean F by this much
    max_prompts: int = Field(64, ge=1, le=100_000)
    batch_size: int = Field(32, ge=1, le=4096)
    verify: int = Field(0, ge=0, le=1_000_000)  # screen: heads verified exactly (0: 4 x top_k)
    ablation_draws: int = Field(5, ge=0, le=100)  # random-head ablations to compare with
    ablation_prompts: int = Field(100, ge=1, le=100_000)
    seed: int = 0
    device: str = "auto"

    @model_validator(mode="after")
    def check(self) -> AttributeParams:
        if (self.counterfactual == "custom") != bool(self.counterfactual_text):
            raise ValueError("counterfactual_text: give it exactly when counterfactual is custom")
        if (self.sycophantic_token == "auto") != (self.honest_token == "auto"):
            raise ValueError("honest_token: set both reply tokens, or both to auto")
        return self

    def n_selected(self, n_total: int, path: str = "attribute") -> int:
        """How many heads to select, checked against the model's head count."""
        k = self.top_k if self.top_k is not None else max(1, round(self.fraction * n_total))
        if k > n_total:
            raise ParamsError(f"{path}.top_k: must be <= the model's {n_total} heads, got {k}")
        return k


# --------------------------------------------------------------------------- tune


@register("tune")
class TuneParams(_Strict):
    steps: int = Field(150, ge=1, le=1_000_000)
    batch_size: int = Field(16, ge=1, le=4096)
    # per method; a method not named: its registered default
    lr: dict[str, Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=dict)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    general_ratio: float = Field(0.0, ge=0.0, le=100.0)  # general examples per dialogue (Wei et al.: 5)
    random_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    lora_r: int = Field(8, ge=1, le=1024)
    lora_alpha: int = Field(16, ge=1, le=4096)
    seed: int = 0
    device: str = "auto"
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on CUDA, else no

    @model_validator(mode="after")
    def check(self) -> TuneParams:
        if not self.random_seeds:
            raise ValueError("random_seeds: name at least one seed")
        for name in self.lr:
            if name not in METHODS:
                raise ValueError(f"lr.{name}: unknown tuning method; known: {', '.join(METHODS)}")
        return self

    def learning_rate(self, method: str) -> float:
        return self.lr.get(method, METHODS[method].lr)


# --------------------------------------------------------------------------- evaluate, checks


@with_config(STRICT)
class SycophancyEvalFile(TypedDict, total=False):
    """A SycophancyEval file named with its kind (for a file whose name does not tell it). A TypedDict: the
    entry stays the mapping it was in params.yaml, as pinpoint.data.external reads it."""

    path: str
    kind: SycophancyEvalKind | None  # null: from the file name


def _named(entry: SycophancyEvalFile) -> SycophancyEvalFile:
    if not entry.get("path"):
        raise ValueError("path: name the file")
    return entry


def _entry_tag(entry) -> str | None:
    return "path" if isinstance(entry, str) else "file" if isinstance(entry, dict) else None


# a path or a {path, kind} mapping, told apart by type so that a mapping's errors are its own
# (sycophancy_eval[0].kind: ...) and anything else is "expected a string or a mapping"
SycophancyEvalEntry = Annotated[
    Annotated[str, Tag("path")] | Annotated[SycophancyEvalFile, AfterValidator(_named), Tag("file")],
    Discriminator(_entry_tag, custom_error_type="entry_type", custom_error_message="expected a string or a mapping"),
]


class ExternalFiles(_Strict):
    """Published files, each evaluated and reported apart from the built-in data."""

    # a path whose name tells the kind (are_you_sure.jsonl, answer.jsonl, feedback.jsonl), or {path, kind}
    sycophancy_eval: list[SycophancyEvalEntry] = Field(default_factory=list)
    perez: list[str] = Field(default_factory=list)  # Perez et al. jsonl files (the opinion suite)


@register("evaluate")
class EvaluateParams(_Strict):
    suites: list[str] = Field(default_factory=lambda: list(SUITES))  # from the suite registry
    batch_size: int = Field(64, ge=1, le=4096)
    max_new_tokens: int = Field(24, ge=1, le=4096)
    max_items: int = Field(0, ge=0, le=10_000_000)  # per suite and file (0: all)
    external: ExternalFiles = Field(default_factory=ExternalFiles)
    device: str = "auto"

    @model_validator(mode="after")
    def check(self) -> EvaluateParams:
        """Known suites; every external file exists, has records and is read by an evaluated suite: before any
        model loads."""
        for i, name in enumerate(self.suites):
            if name not in SUITES:
                raise ValueError(f"suites[{i}]: unknown suite {name!r}; known: {', '.join(SUITES)}")
        names = ("external.sycophancy_eval", "external.perez")
        try:
            external.checked(self.external.sycophancy_eval, self.external.perez, self.suites, names)
        except external.SchemaError as e:  # no ValueError: pydantic would not catch it
            raise ValueError(str(e)) from None
        return self


class Bound(_Strict):
    min: float | None = None
    max: float | None = None


@register("checks")
class CheckParams(_Strict):
    """Bounds on metrics/eval.json, keyed "model.suite.metric" (e.g. spt.are_you_sure.apologize_rate)."""

    bounds: dict[str, Bound] = Field(default_factory=dict)

    @model_validator(mode="after")
    def check(self) -> CheckParams:
        for key, b in self.bounds.items():
            if key.count(".") != 2:
                raise ValueError(f"bounds.{key}: expected model.suite.metric")
            if b.min is None and b.max is None:
                raise ValueError(f"bounds.{key}: give min, max or both")
        return self


# --------------------------------------------------------------------------- probe


@register("probe")
class ProbeParams(_Strict):
    # "base": the base model itself; else a reward model (sequence classification) by hub id or directory
    scorer: str = "base"
    # best-of-N on the multiple-choice addition claims too: off for a model that cannot answer "(A)/(B)"
    multiple_choice: bool = True
    l2: float = Field(0.01, ge=0.0, le=100.0)
    n: list[Annotated[int, Field(ge=1, le=1024)]] = Field(default_factory=lambda: [1, 2, 4, 8, 16])  # best-of-N
    temperature: float = Field(1.0, gt=0.0, le=10.0)
    lam: float | None = Field(None, ge=0.0, le=1e6)  # the probe penalty; null: chosen on training prompts
    lam_grid: list[Annotated[float, Field(ge=0.0, le=1e6)]] = Field(
        default_factory=lambda: [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    )
    max_prompts: int = Field(100, ge=1, le=100_000)
    max_new_tokens: int = Field(16, ge=1, le=1024)
    batch_size: int = Field(32, ge=1, le=4096)
    seed: int = 0
    device: str = "auto"

    @model_validator(mode="after")
    def check(self) -> ProbeParams:
        if not self.n:
            raise ValueError("n: name at least one best-of-N size")
        if self.lam is None and not self.lam_grid:
            raise ValueError("lam_grid: with lam null, give the values to choose lambda from")
        return self
