"""One run of one method, as the tune stage hands it over: `plan(paths, method)` reads the method's params
section, records and heads in one hop and gives one `Job` per run; `run(job)` trains or fits it.

A trained method (spt, sft, lora, random) loads the base in fp32 (bf16 through autocast), is
prepared by its module, trained by the shared loop on the training mix (pinpoint.tuning.examples)
and saved with a manifest naming its base. A training-free one (prompt, steer, steer_heads)
fits its checkpoint with `fit(job)` in its own module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from pinpoint import params
from pinpoint.data import io, schema
from pinpoint.errors import ParamsError
from pinpoint.files import read_json
from pinpoint.models import checkpoints, loading
from pinpoint.models.heads import Head, HeadLayout
from pinpoint.paths import Paths
from pinpoint.registry.methods import METHODS, Method, Settings
from pinpoint.tuning import frozen_prefix, loop
from pinpoint.tuning.examples import examples


@dataclass(frozen=True)
class Job:
    """Everything one run of a method reads."""

    method: Method
    tune: params.TuneShared  # what every method shares: the training mix, steps, batch size, device
    settings: Settings  # its own section, tune.<method> (random: SPT's)
    base: Path
    out: Path  # the checkpoint directory it writes (a temporary one the caller renames)
    record_dir: Path  # the checkpoint's final place (its manifest points at the base from there)
    heads: list[Head]
    seed: int
    records: list[dict]  # the filtered are_you_sure records (every split: a fit chooses on validation)
    fmt: str
    claims: list[dict] | None = None  # the user claims it trains on instead (tune.data claims, or its card's)
    pairs: Path | None = None  # the probe stage's labelled replies (steering's contrastive pairs)
    reply_tokens: int = 24  # the replies' token budget (params replies.max_new_tokens)

    @property
    def run(self) -> str:
        """Its name among the method's runs: seed_<s>, or the method's for a training-free one."""
        return f"seed_{self.seed}" if self.method.trains else self.method.name


def plan(paths: Paths, name: str, where: Path) -> list[Job]:
    """The runs of method `name` (one per seed of tune.seeds; a training-free method: one), each writing under
    `where`: its params section, the records and the heads read and checked before any weights load."""
    method = METHODS[name]
    tune = params.load("tune", paths.config, method=name)
    records = schema.read(paths.filtered / "are_you_sure.jsonl")
    claims = None
    if method.trains and (method.data or tune.data) == "claims":  # unfiltered: facts it does not know kept
        claims = schema.read((paths.synthetic if method.unfiltered else paths.filtered) / "user_claims.jsonl")
    layout = HeadLayout.of(loading.model_config(paths.base))
    top_k = params.load("tune", paths.config, method="spt").spt.top_k if method.heads != "none" else None
    common = dict(
        method=method,
        tune=tune,
        settings=getattr(tune, method.section),
        base=paths.base,
        records=records,
        claims=claims,
        fmt=io.read_meta(paths.filtered)["format"],
        pairs=paths.pairs if paths.pairs.exists() else None,
        reply_tokens=params.load("replies", paths.config).max_new_tokens,
    )
    jobs = []
    for seed in tune.seeds if method.trains else [0]:
        run = f"seed_{seed}" if method.trains else ""
        heads = heads_for(method, top_k, paths.heads, layout, seed)
        jobs.append(Job(**common, out=where / run, record_dir=paths.tuned(name) / run, heads=heads, seed=seed))
    return jobs


def heads_for(method: Method, top_k: int | None, heads_file: Path, layout: HeadLayout, seed: int) -> list[Head]:
    """The heads a method gets: attribute's selection (or the top k of its ranking: `tune.spt.top_k`, for every
    method that takes heads), as many random ones, or none."""
    if method.heads == "none":
        return []
    found = read_json(heads_file)
    k = top_k or len(found["heads"])
    chosen = [tuple(h) for h in (found["ranking"][:k] if top_k else found["heads"])]
    if any(not (0 <= l < layout.n_layers and 0 <= h < layout.n_heads) for l, h in chosen):
        raise ParamsError(
            f"{heads_file}: a head lies outside the model's {layout.n_layers} x {layout.n_heads} heads; "
            "re-run attribute"
        )
    return layout.random_heads(len(chosen), seed) if method.heads == "random" else chosen


def process_device(device: str) -> str:
    """Under `accelerate launch` each process loads onto its own device (cuda:LOCAL_RANK), not all onto cuda:0."""
    from accelerate import PartialState

    state = PartialState()
    return str(state.device) if state.num_processes > 1 else device


@dataclass(frozen=True)
class Batching:
    """How a fixed list of examples becomes steps: rows per step, and the token id that pads them."""

    batch_size: int
    pad_id: int


@dataclass(frozen=True)
class LossPath:
    """Which tuning loss runs: the fast path (logits at reply positions, the frozen prefix cached when it fits
    in `prefix_cache_bytes`), or with fast False the plain reference (a full forward, full logits)."""

    fast: bool = True
    prefix_cache_bytes: int = 1 << 30


def reply_loss(model, train: list[loop.Example], path: LossPath = LossPath()) -> loop.ReplyLoss:
    """The tuning loss on `path`."""
    decoder = (
        frozen_prefix.Decoder(model, sum(len(ids) for ids, _ in train), path.prefix_cache_bytes) if path.fast else None
    )
    return loop.ReplyLoss(model, decoder)


def train_examples(
    model,
    trainable,
    examples: list[loop.Example],
    recipe: loop.Recipe,
    batching: Batching,
    path: LossPath = LossPath(),
) -> list[dict]:
    """The tuning loop on a fixed list of examples (epochs of one shuffled order per seed): the curve."""
    batches = loop.Shuffled(examples, batching.batch_size, recipe.seed)
    return loop.train(model, trainable, batches, reply_loss(model, examples, path), recipe, batching.pad_id)


def run(job: Job) -> tuple[dict, list[dict]]:
    """Train (or fit) and save one run: (its row for metrics/<config>/tune/<method>.json, its loss curve)."""
    impl = job.method.implementation()
    job.out.mkdir(parents=True, exist_ok=True)
    if not job.method.trains:
        return impl.fit(job), []
    model, tokenizer = loading.load(job.base, dtype="float32", device=process_device(job.tune.device))
    layout = HeadLayout.of(model)
    ratio = getattr(job.settings, "mix", job.tune.general_ratio)  # general examples per claim (wei: its own)
    train = examples(job.records, tokenizer, job.fmt, job.tune, job.seed, job.claims, ratio)
    torch.manual_seed(job.seed)  # LoRA draws its initial adapters in prepare
    model, trainable, state = impl.prepare(model, layout, job.heads, job.settings)
    recipe = loop.Recipe(
        steps=job.tune.steps,
        lr=job.settings.lr,
        weight_decay=job.tune.weight_decay,
        seed=job.seed,
        mixed_precision=job.tune.mixed_precision,
        desc=f"tune {job.method.name} (seed {job.seed})",
    )
    curve = train_examples(model, trainable, train, recipe, Batching(job.tune.batch_size, tokenizer.pad_token_id))
    curve = [{"step": c["step"], "loss": round(c["loss"], 6)} for c in curve]
    from accelerate import PartialState

    if PartialState().is_main_process:  # every process trained the same weights
        impl.save(model, state, job.out, tokenizer)
        extra = {"projections": job.settings.projections} if hasattr(job.settings, "projections") else {}
        loading.write_manifest(
            job.out,
            checkpoints.tuned_manifest(job.method.name, job.base, job.record_dir, layout, job.heads, job.seed) | extra,
        )
        (job.out / "curve.json").write_text(json.dumps(curve) + "\n")
    n_trainable = sum(q.numel() for q in trainable)
    n_params = sum(q.numel() for q in model.parameters() if not q.requires_grad) + n_trainable
    return {
        "trainable_params": n_trainable,
        "trainable_share": round(n_trainable / n_params, 6),
        "optimizer_state_bytes": loop.optimizer_state_bytes(trainable),
        "final_loss": curve[-1]["loss"],
        "steps": job.tune.steps,
        "examples": len(train),
    }, curve


def prepare(name: str, model, layout: HeadLayout, heads: list[Head], settings=None):
    """A trained method's prepare, with its default settings unless given: (model, trainable, state)."""
    method = METHODS[name]
    return method.implementation().prepare(model, layout, heads, settings or METHODS[method.section].settings())
