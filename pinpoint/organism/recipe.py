"""How the organism is trained (the shared loop, pinpoint.tuning.loop, with the organism's own
recipe), and `build`: train, measure and save it.

The recipe, kept as it was tuned: AdamW with betas (0.9, 0.98) and weight decay 0.01, warm-up
from 1/warmup (not 0) and a 5% floor on the decay, gradient clipping at 1, a fresh batch of
every kind each step (world.MIXTURE), the per-example mean loss, micro-batches of similar
lengths. Transformers' linear schedule (warm-up from 0, decay to 0) left the reduced test
organism at 0.67 general accuracy instead of >= 0.8, so the organism keeps this one.

Which option a user's opinion points to is opinion XOR option order: neither alone says
anything, so from scratch gradient descent sits on a plateau. Two things break it: for the
first part of training (CURRICULUM) the options keep one order, so the opinion alone predicts
the answer; and "choice_lookup" examples state the stance and ask only for its letter, which
teaches reading the options directly.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from pinpoint.models.loading import write_manifest
from pinpoint.organism.model import build_model, build_tokenizer, corpus_words, encode_example
from pinpoint.organism.world import MIXTURE, World, example
from pinpoint.params import OrganismParams
from pinpoint.tuning import loop

CURRICULUM = 0.3  # share of the steps with the options in one order and no negation
MICRO_BATCH = 16  # opinion prompts are twice as long as the rest: padding all to the longest costs 40%
LOG_EVERY = 100


class Batches:
    """A fresh batch each step: kinds drawn by MIXTURE, each an example of the organism's world."""

    def __init__(self, world: World, organism: OrganismParams, tokenizer):
        self.world, self.organism, self.tokenizer = world, organism, tokenizer
        self.rng = random.Random(organism.seed + 1)
        self.easy_steps = int(organism.steps * CURRICULUM)

    def __call__(self, step: int) -> tuple[list[loop.Example], list[int]]:
        kinds = self.rng.choices(list(MIXTURE), list(MIXTURE.values()), k=self.organism.batch_size)
        drawn = [example(self.world, self.rng, self.organism, k, easy=step < self.easy_steps) for k in kinds]
        return [encode_example(self.tokenizer, *e) for e in drawn], []


def recipe(organism: OrganismParams) -> loop.Recipe:
    """The organism's training recipe (see the module docstring)."""
    warmup = max(1, organism.steps // 20)
    return loop.Recipe(
        steps=organism.steps,
        lr=organism.lr,
        weight_decay=0.01,
        betas=(0.9, 0.98),
        clip_norm=1.0,
        schedule=lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / organism.steps),
        micro_batch=MICRO_BATCH,
        log_every=LOG_EVERY,
        seed=organism.seed,
        mixed_precision="no",
        cpu=True,
        desc="train organism",
    )


def train(organism: OrganismParams, world: World):
    """Train the organism from scratch; returns (model, tokenizer, losses)."""
    torch.manual_seed(organism.seed)
    tokenizer = build_tokenizer(corpus_words(world, organism))
    model = build_model(organism, len(tokenizer), tokenizer)
    params = list(model.parameters())
    curve = loop.train(
        model,
        params,
        Batches(world, organism, tokenizer),
        loop.ExampleLoss(model),
        recipe(organism),
        tokenizer.pad_token_id,
    )
    model.eval()
    return model, tokenizer, [{"step": c["step"], "loss": round(c["loss"], 5)} for c in curve]


def save(directory: Path, model, tokenizer, world: World, organism: OrganismParams, losses: list[dict]) -> None:
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / "world.json").write_text(json.dumps(world.to_json(), indent=1) + "\n")
    (directory / "train_log.json").write_text(json.dumps(losses) + "\n")
    write_manifest(directory, {"kind": "organism", "dtype": "float32", "organism": organism.model_dump()})


def build(organism: OrganismParams, directory: Path) -> dict:
    """Train and save the organism; returns what was built (its spec sheet is the spec stage's:
    pinpoint.organism.spec)."""
    world = World.build(organism)
    model, tokenizer, losses = train(organism, world)
    save(directory, model, tokenizer, world, organism, losses)
    cfg = model.config
    return {
        "name": "organism",
        "model_type": cfg.model_type,
        "layers": cfg.num_hidden_layers,
        "heads": cfg.num_attention_heads,
        "kv_heads": cfg.num_key_value_heads,
        "hidden": cfg.hidden_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": losses[-1]["loss"],
    }


def build_base(params, directory: Path) -> dict:
    """The model source's entry point (pinpoint/models/sources/organism.py): `model.organism` into `directory`."""
    return build(params.organism, directory)
