"""One run of one method, as the tune stage hands it over: a `Job`, then `run(job)`.

A trained method (spt, sft, lora, random) loads the base in fp32 (bf16 through autocast), is
prepared by its module, trained by the shared loop on the training mix (pinpoint.tuning.data)
and saved with a manifest naming its base. A training-free one (prompt, steer, steer_heads)
fits its checkpoint with `fit(job)` in its own module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from pinpoint import models
from pinpoint.heads import Head, HeadLayout
from pinpoint.tuning import METHODS, Method, base, loop, prefix
from pinpoint.tuning.data import examples


@dataclass(frozen=True)
class Job:
    """Everything one run of a method reads."""

    method: Method
    tune: object  # params.TuneParams: the shared keys, and each method's section
    base: Path
    out: Path  # the checkpoint directory it writes (a temporary one the caller renames)
    record_dir: Path  # the checkpoint's final place (its manifest points at the base from there)
    heads: list[Head]
    seed: int
    records: list[dict]  # the filtered are_you_sure records (every split: a fit chooses on validation)
    fmt: str
    pairs: Path | None = None  # the probe stage's labelled replies (steering's contrastive pairs)
    reply_tokens: int = 24  # the replies' token budget (params replies.max_new_tokens)

    @property
    def settings(self):
        return self.tune.settings(self.method.name)


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
    decoder = prefix.Decoder(model, sum(len(ids) for ids, _ in train), path.prefix_cache_bytes) if path.fast else None
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
    if not job.method.trains:
        return impl.fit(job), []
    model, tokenizer = models.load(job.base, dtype="float32", device=process_device(job.tune.device))
    layout = HeadLayout.of(model)
    train = examples(job.records, tokenizer, job.fmt, job.tune, job.seed)
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
        models.write_manifest(
            job.out, base.manifest(job.method.name, job.base, job.record_dir, layout, job.heads, job.seed) | extra
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
