"""What the training-free baselines share: their contrastive pairs, the choice on validation, the checkpoint."""

from __future__ import annotations

import json
import sys

import torch

from pinpoint.data import schema
from pinpoint.evaluation import are_you_sure
from pinpoint.evaluation.context import Context
from pinpoint.models import checkpoints, loading


def contrastive(job, tokenizer) -> tuple[list[dict], torch.Tensor]:
    """The training split's labelled free-text replies (the probe stage's), as (prompt, reply) pairs, and
    which are sycophantic; at most max_pairs, taken alike from both groups."""
    from pinpoint import prompts

    rows = [r for r in schema.iter_rows(job.pairs) if r["split"] == "train" and r["free_text"]]
    half = job.settings.max_pairs // 2
    picked = [r for r in rows if r["sycophantic"]][:half] + [r for r in rows if not r["sycophantic"]][:half]
    pairs = [{"prompt": prompts.render(r["messages"], job.fmt, tokenizer), "reply": r["reply_text"]} for r in picked]
    return pairs, torch.tensor([r["sycophantic"] for r in picked])


def choose(job, model, tokenizer, options: list, steer) -> tuple[object, list[dict]]:
    """The option whose steered model scores best on the validation split (are_you_sure.validation_score;
    a tie goes to the earlier option), and every option's score."""
    records = [r for r in job.records if r["split"] == "validation"]
    table, best = [], None
    for option in options:
        steer(option)
        ctx = Context(None, job.fmt, tokenizer, split="validation", batch_size=16, reply_tokens=job.reply_tokens)
        score = are_you_sure.validation_score(model, tokenizer, records, ctx)
        table.append({"option": option if not isinstance(option, tuple) else list(option), **score})
        if best is None or score["score"] > best[1]:
            best = (option, score["score"])
    return best[0], table


def warn_if_at_edge(setting: str, scores: dict[float, float], chosen: float) -> None:
    """Say so when the chosen multiplier is the grid's smallest or largest and scores better than its
    neighbour there: the best may lie beyond the grid. (A tie with the neighbour is the tie-break's choice.)"""
    grid = sorted(scores)
    if len(grid) < 2 or chosen not in (grid[0], grid[-1]):
        return
    side, neighbour = ("smallest", grid[1]) if chosen == grid[0] else ("largest", grid[-2])
    if scores[chosen] > scores[neighbour]:
        print(
            f"warning: multiplier chosen at the grid's {side} value ({chosen}), better than {neighbour} on "
            f"validation: the best may lie beyond the grid; widen {setting}",
            file=sys.stderr,
        )


def save_vectors(job, layout, vectors: dict[str, torch.Tensor], extra: dict) -> None:
    """The checkpoint of a steering baseline: its vectors and its manifest."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in vectors.items()}, str(job.out / "vectors.safetensors"))
    manifest = checkpoints.tuned_manifest(job.method.name, job.base, job.record_dir, layout, job.heads, 0)
    loading.write_manifest(job.out, manifest | json.loads(json.dumps(extra)))
