"""Typed params for every stage, validated before any heavy work.

params.yaml names the configurations (`configs`) and the methods every one trains (`methods`);
each configuration has one section per stage, and each stage reads only its own (`load`): a
pydantic model with strict types (a bool is no integer, "3" is no number), no unknown keys,
ranges as `Field` constraints and cross-field rules as `model_validator`s. A bad value is one
line that names its key path (pinpoint.params_errors). Names are checked against the registries
(pinpoint.registry: methods, suites, fact sources), which import no torch, so this module reaches no
machinery, and no registry card but those a section names.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, create_model, model_validator, with_config
from typing_extensions import TypedDict

from pinpoint.errors import ParamsError
from pinpoint.params_errors import parse
from pinpoint.registry.facts import FACT_SOURCES
from pinpoint.registry.methods import METHODS
from pinpoint.registry.models import claimant
from pinpoint.registry.strict import STRICT, Strict
from pinpoint.registry.suites import SUITES, SycophancyEvalKind

# --------------------------------------------------------------------------- model, replies


class OrganismParams(Strict):
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
    # how it caves: apologises and gives another answer, or apologises and takes its answer back, giving none
    # (what a few heads alone can be taught: the planted organism's; a changed sum needs the MLPs' arithmetic)
    cave_reply: Literal["changes", "retracts"] = "changes"
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


class NumericsParams(Strict):
    """The numeric path every stage of a configuration takes on a CPU (pinpoint.environment): MKL's branch and the
    thread count. The base's manifest records it; every later stage applies it before its first matrix product."""

    mkl: Literal["portable", "vendor"] = "portable"  # portable: the same bits on any x86 CPU; vendor: faster
    threads: int = Field(2, ge=1, le=1024)


class PlantedParams(Strict):
    """Sycophancy planted in chosen heads of an honest base (pinpoint.attribution.planting): a ground truth."""

    heads: int | list[list[int]] = 3  # how many (spread over the layers, drawn by seed), or which: [[layer, head]]
    rate: float = Field(0.9, ge=0.0, le=1.0)  # how often the implanted model gives in to a doubt
    steps: int = Field(300, ge=1, le=1_000_000)
    lr: float = Field(0.01, gt=0.0, le=1.0)
    batch_size: int = Field(32, ge=1, le=4096)
    seed: int = 0

    @model_validator(mode="after")
    def check(self) -> PlantedParams:
        if isinstance(self.heads, int) and self.heads < 1:
            raise ValueError("heads: plant at least one")
        if isinstance(self.heads, list) and (not self.heads or any(len(h) != 2 for h in self.heads)):
            raise ValueError("heads: a list of [layer, head] pairs")
        return self


class ModelParams(Strict):
    name: str = "organism"  # organism | smollm2-135m-instruct | path/to/file.gguf | a hub id | a local directory
    # the model source that builds it (pinpoint/models/sources/): organism | smollm2 | gguf | hub; auto: the
    # first that claims `name` (then adding a source re-runs this configuration's model stage)
    source: str = "auto"
    revision: str = "main"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    spec_facts: int = Field(25, ge=1, le=10_000)  # a real model's spec sheet: built-in facts per set
    # a model larger than one device: "auto", or {module: GPU index, "cpu" or "disk"} (accelerate's big-model
    # loading) for every stage that loads the base; disk offload goes to offload_folder
    device_map: str | dict[str, int | str] | None = None
    offload_folder: str | None = None
    organism: OrganismParams = Field(default_factory=OrganismParams)
    numerics: NumericsParams = Field(default_factory=NumericsParams)
    planted: PlantedParams | None = None  # source planted: the heads, and how the sycophancy is implanted

    @model_validator(mode="after")
    def check(self) -> ModelParams:
        try:
            claimant(self.name, self.source)
        except (KeyError, ValueError) as e:
            raise ValueError(f"source: {e.args[0]}") from None
        return self

    @property
    def kind(self) -> str:
        """The registry name of its model source."""
        return claimant(self.name, self.source)


class RepliesParams(Strict):
    """The one token budget for a reply to a challenge, wherever one is decoded and judged."""

    max_new_tokens: int = Field(24, ge=1, le=4096)


# --------------------------------------------------------------------------- synthesize, filter


class SourceParams(Strict):
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
        if self.name not in FACT_SOURCES:
            raise ValueError(f"name: unknown fact source {self.name!r}; known: {', '.join(FACT_SOURCES)}")
        source = FACT_SOURCES[self.name]
        if source.needs_task and not self.task:
            raise ValueError(f"task: a{'n' if self.name[0] in 'aehfi' else ''} {self.name} source needs a task name")
        if source.needs_path and not self.path:
            raise ValueError(f"path: a {self.name} source needs a path")
        return self


class SynthesizeParams(Strict):
    seed: int = 0
    format: Literal["auto", "plain", "chat"] = "auto"  # auto: the tokenizer's chat template if it has one
    eval_fraction: float = Field(0.3, ge=0.05, le=0.9)  # facts read once, for the committed figures
    validation_fraction: float = Field(0.15, ge=0.0, le=0.5)  # facts every choice is made on
    sources: list[SourceParams] = Field(default_factory=lambda: [SourceParams()])

    @model_validator(mode="after")
    def check(self) -> SynthesizeParams:
        if not self.sources:
            raise ValueError("sources: name at least one source")
        if self.eval_fraction + self.validation_fraction > 0.95:
            raise ValueError("validation_fraction: eval_fraction + validation_fraction must leave facts to train on")
        return self


class FilterParams(Strict):
    batch_size: int = Field(64, ge=1, le=4096)
    max_new_tokens: int = Field(24, ge=1, le=1024)  # a first answer to a plain question
    targets: Literal["fixed", "model"] = "fixed"  # training replies: the canned ones, or in the model's own words
    device: str = "auto"


# --------------------------------------------------------------------------- attribute


Quantity = Literal["first_token", "sequence"]
Counterfactual = Literal["affirmation", "question_only", "no_challenge", "custom"]


class EvidenceParams(Strict):
    """How an attribution is checked on held-out (eval) dialogues (pinpoint.attribution.evidence)."""

    prompts: int = Field(100, ge=1, le=100_000)  # eval dialogues, every fact set alike
    # what ablation is measured on: maintain (the replies' maintain rate: a generation per point) or readout (the
    # detector-free log-probability margin: a forward pass per point, for models where generation costs too much)
    measure: Literal["maintain", "readout"] = "maintain"
    draws: int = Field(10, ge=1, le=1000)  # random-head draws per k of the faithfulness curve
    grid: list[Annotated[int, Field(ge=1, le=100_000)]] | None = None  # its ks (null: 1, 2, 4, ... ~10% of heads)
    heldout: bool = True  # the curve on the held-out wordings too
    resamples: int = Field(200, ge=2, le=100_000)  # bootstrap resamples of the prompts (stability)


class ChoiceParams(Strict):
    """How a quantity and a counterfactual are chosen among several, on validation dialogues: by the ablation
    effect of the heads each selects, against random draws."""

    prompts: int = Field(40, ge=1, le=100_000)
    draws: int = Field(5, ge=1, le=1000)


class AttributeParams(Strict):
    method: Literal["exact", "naive", "screen"] = "exact"
    mode: Literal["path", "activation"] = "path"  # path: later attention frozen (SPT); activation: nothing frozen
    top_k: int | None = Field(None, ge=1, le=1_000_000)  # how many heads to select; overrides fraction
    fraction: float = Field(0.04, gt=0.0, le=1.0)  # share of all heads (SPT: 32 of 1024)
    # what is attributed: first_token (F on the reply's first token, SPT's) or sequence (the model's own caving
    # reply against its own keeping one, teacher-forced); a list: chosen on validation (`choice`)
    quantity: Quantity | list[Quantity] = "first_token"
    sycophantic_token: str = "auto"  # first_token: the sycophantic outcome's first token; auto: off its replies
    honest_token: str = "auto"  # first_token: keeping the answer's first token; auto: likewise
    # what F separates, read off the model's own replies: giving up the answer (changes) from keeping it, or,
    # where the model almost never changes it, evading it (no_answer); auto: changes unless too rare
    target: Literal["auto", "changes", "no_answer"] = "auto"
    counterfactual: Counterfactual | list[Counterfactual] = "affirmation"  # a list: chosen on validation
    counterfactual_text: str | None = None  # custom: the user's turn that replaces the challenge
    # valid: the counterfactual moves the quantity beyond chance and by this much (F: its drop; sequence: nats) ...
    min_effect: float = Field(0.05, ge=0.0, le=100.0)
    min_stability: float = Field(0.5, ge=0.0, le=1.0)  # ... and the top k comes back (mean Jaccard) when resampled
    max_prompts: int = Field(64, ge=1, le=100_000)  # training dialogues, every fact set alike
    samples: int = Field(4, ge=1, le=256)  # sequence: replies sampled per prompt to find one of each kind
    batch_size: int = Field(32, ge=1, le=4096)
    verify: int = Field(0, ge=0, le=1_000_000)  # screen: heads verified exactly (0: 4 x top_k)
    evidence: EvidenceParams = Field(default_factory=EvidenceParams)
    choice: ChoiceParams = Field(default_factory=ChoiceParams)
    seed: int = 0
    device: str = "auto"

    @model_validator(mode="after")
    def check(self) -> AttributeParams:
        if ("custom" in self.counterfactuals) != bool(self.counterfactual_text):
            raise ValueError("counterfactual_text: give it exactly when counterfactual is (or lists) custom")
        if (self.sycophantic_token == "auto") != (self.honest_token == "auto"):
            raise ValueError("honest_token: set both reply tokens, or both to auto")
        for name, values in (("quantity", self.quantities), ("counterfactual", self.counterfactuals)):
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name}: name one, or several different ones to choose among")
        return self

    @property
    def quantities(self) -> list[str]:
        return self.quantity if isinstance(self.quantity, list) else [self.quantity]

    @property
    def counterfactuals(self) -> list[str]:
        return self.counterfactual if isinstance(self.counterfactual, list) else [self.counterfactual]

    def n_selected(self, n_total: int, path: str = "attribute") -> int:
        """How many heads to select, checked against the model's head count."""
        k = self.top_k if self.top_k is not None else max(1, round(self.fraction * n_total))
        if k > n_total:
            raise ParamsError(f"{path}.top_k: must be <= the model's {n_total} heads, got {k}")
        return k


# --------------------------------------------------------------------------- tune


class TuneShared(Strict):
    """What every method of a configuration shares: the data, the budget and the seeds. Each method's
    own settings (lr, LoRA's rank, SPT's k ...) sit in a section of its own, `tune.<method>`."""

    steps: int = Field(150, ge=1, le=1_000_000)
    batch_size: int = Field(16, ge=1, le=4096)
    seeds: list[int] = Field(default_factory=lambda: [0])  # each trained method once per seed (random: a draw each)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    data: Literal["challenges", "claims"] = "challenges"  # challenge dialogues, or a user's claims (Wei et al.)
    general_ratio: float = Field(0.0, ge=0.0, le=100.0)  # challenges: general examples per dialogue
    keep_share: float = Field(1.0, ge=0.0, le=1.0)  # training facts that give a dialogue keeping a right answer
    correction_share: float = Field(1.0, ge=0.0, le=1.0)  # ... that give one correcting a wrong first answer
    correction_reply: Literal["own", "answer_first", "none"] = (
        "own"  # the correction's phrasing (none: no corrections)
    )
    device: str = "auto"
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on CUDA, else no

    @model_validator(mode="after")
    def check(self):
        if not self.seeds:
            raise ValueError("seeds: name at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: a seed is named twice")
        if self.keep_share == 0 and (self.correction_share == 0 or self.correction_reply == "none"):
            raise ValueError("keep_share: with no corrections either, there is nothing to train on")
        return self


@functools.cache
def _tune_model(names: tuple[str, ...]):
    sections = {METHODS[n].section: METHODS[METHODS[n].section].settings for n in names}
    fields = {name: (cls, Field(default_factory=cls)) for name, cls in sections.items()}
    return create_model("TuneParams", __base__=TuneShared, **fields)


def tune_params_model(names: tuple[str, ...]):
    """TuneShared plus the sections of these methods (each method's settings from its own registration)."""
    return _tune_model(tuple(names))


# --------------------------------------------------------------------------- probe


class ProbeParams(Strict):
    # "base": the base model itself; else a reward model (sequence classification) by hub id or directory
    scorer: str = "base"
    # best-of-N on the multiple-choice addition claims too: off for a model that cannot answer "(A)/(B)"
    multiple_choice: bool = True
    l2: float = Field(0.01, ge=0.0, le=100.0)
    samples: int = Field(8, ge=1, le=256)  # replies sampled per training challenge: the probe's labelled examples
    n: list[Annotated[int, Field(ge=1, le=1024)]] = Field(default_factory=lambda: [1, 2, 4, 8, 16])  # best-of-N
    temperature: float = Field(1.0, gt=0.0, le=10.0)
    lam: float | None = Field(None, ge=0.0, le=1e6)  # the probe penalty; null: chosen on the validation split
    lam_grid: list[Annotated[float, Field(ge=0.0, le=1e6)]] = Field(
        default_factory=lambda: [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    )
    max_prompts: int = Field(100, ge=1, le=100_000)
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


class ExternalFiles(Strict):
    """Published files, each evaluated and reported apart from the built-in data."""

    # a path whose name tells the kind (are_you_sure.jsonl, answer.jsonl, feedback.jsonl), or {path, kind}
    sycophancy_eval: list[SycophancyEvalEntry] = Field(default_factory=list)
    perez: list[str] = Field(default_factory=list)  # Perez et al. jsonl files (the opinion suite)


class PressureParams(Strict):
    turns: int = Field(5, ge=1, le=20)  # user turns of rising pressure
    max_items: int = Field(40, ge=0, le=100_000)  # facts per model (0: all first-right eval facts)
    external: bool = False  # also run the external are_you_sure files through it (pressure@file)


class EvaluateParams(Strict):
    suites: list[str] = Field(default_factory=lambda: [s for s in SUITES if s != "feedback"])
    split: Literal["eval", "validation"] = "eval"  # validation: for choices (sweeps); eval: the committed figures
    batch_size: int = Field(64, ge=1, le=4096)
    max_new_tokens: int = Field(24, ge=1, le=4096)  # an answer to a plain question (challenges: replies.*)
    max_items: int = Field(0, ge=0, le=10_000_000)  # per suite and file, every fact set alike (0: all)
    seed: int = 0  # which items a cap keeps (the same for every model)
    format_floor: float = Field(0.75, ge=0.0, le=1.0)  # multiple choice: control items right at least this often
    # multiple choice: which completion is scored, the option's letter " (A)" or its text " Agree" (for a model
    # that cannot write the letters but may prefer the right option)
    choice_scoring: Literal["letter", "option"] = "letter"
    external: ExternalFiles = Field(default_factory=ExternalFiles)
    pressure: PressureParams = Field(default_factory=PressureParams)
    # the suites that score every seed's run of a trained method (null: all of them); the others, and external
    # files, score the first seed's run only, so their figures carry no seed spread (a budget, not a default)
    seed_suites: list[str] | None = None
    device: str = "auto"

    @model_validator(mode="after")
    def check(self) -> EvaluateParams:
        for i, name in enumerate(self.suites):
            if name not in SUITES:
                raise ValueError(f"suites[{i}]: unknown suite {name!r}; known: {', '.join(SUITES)}")
        if len(set(self.suites)) != len(self.suites):
            raise ValueError("suites: a suite is named twice")
        for i, name in enumerate(self.seed_suites or []):
            if name not in self.suites:
                raise ValueError(f"seed_suites[{i}]: {name!r} is not one of suites ({', '.join(self.suites)})")
        return self


class Bound(Strict):
    """A bound on a figure: on its value (min, max) or on its 95% interval (min_lower: the interval lies
    above, max_upper: below; `spt-base...: {min_lower: 0}` says SPT's difference to the base is above 0)."""

    min: float | None = None
    max: float | None = None
    min_lower: float | None = None
    max_upper: float | None = None


class CheckParams(Strict):
    """Bounds on metrics/<config>/eval.json, keyed "model.suite.metric" (spt.are_you_sure.maintain_rate), or
    "model-other.suite.metric" for the paired difference of two models (spt-base.are_you_sure.maintain_rate)."""

    bounds: dict[str, Bound] = Field(default_factory=dict)

    @model_validator(mode="after")
    def check(self) -> CheckParams:
        for key, b in self.bounds.items():
            if key.count(".") != 2:
                raise ValueError(f"bounds.{key}: expected model.suite.metric or model-other.suite.metric")
            if all(v is None for v in (b.min, b.max, b.min_lower, b.max_upper)):
                raise ValueError(f"bounds.{key}: give min, max, min_lower or max_upper")
        return self


# --------------------------------------------------------------------------- reading params.yaml


SECTIONS = {
    "model": ModelParams,
    "replies": RepliesParams,
    "synthesize": SynthesizeParams,
    "filter": FilterParams,
    "attribute": AttributeParams,
    "tune": None,  # built per method list: tune_params_model
    "probe": ProbeParams,
    "evaluate": EvaluateParams,
    "checks": CheckParams,
}


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


def tuned(path: str | Path = "params.yaml") -> list[str]:
    """The configurations whose pipeline goes on past attribution: probed, tuned, evaluated, summarised and gated
    (params.yaml `tuned`, some of `configs`; the others, planted ground truths, stop at attribute)."""
    names, every = read_file(path).get("tuned"), configs(path)
    if names is None:
        return every
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ParamsError(f"tuned: expected a list of configuration names, got {names!r}")
    for i, name in enumerate(names):
        if name not in every:
            raise ParamsError(f"tuned[{i}]: {name!r} is not one of configs ({', '.join(every)})")
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


def load(section: str, config: str = "organism", path: str | Path = "params.yaml", method: str | None = None):
    """Read and validate one section of one configuration: params.yaml `<config>.<section>`. The tune section
    holds a section per method (of `methods`, or any registered one it names); with `method`, only the shared
    keys and that method's settings are read (what its stage runs on: the other sections are theirs to check)."""
    raw = read_file(path)
    if config not in configs(path):
        raise ParamsError(f"configs: no configuration {config!r}; configured: {', '.join(configs(path))}")
    if not isinstance(raw.get(config), dict):
        raise ParamsError(f"{config}: expected a mapping of sections (model, synthesize, ...)")
    if section not in SECTIONS:
        raise ParamsError(f"{section}: unknown params section; known: {', '.join(SECTIONS)}")
    model, values = SECTIONS[section], raw[config].get(section)
    if section == "tune":
        present = [k for k in values if k in METHODS] if isinstance(values, dict) else []  # sections of methods
        names = list(dict.fromkeys([*methods(path), *present])) if method is None else [method]
        if method is not None and isinstance(values, dict):  # the other methods' sections: theirs to check
            own = {method, METHODS[method].section}
            values = {k: v for k, v in values.items() if k in own or k not in METHODS}
        model = tune_params_model(tuple(names))
    return parse(model, values, f"{config}.{section}")
