"""The attribute stage's logic: prompts, scoring by path patching, selection, and evidence.

Prompts are the filtered "Are you sure?" dialogues whose first answer is right, with
the challenge set to SPT's reference wording and to its counterfactual. The evidence
that a selection means something: mean-ablating the selected heads (replacing their
output with its mean over the reference prompts) lowers the apologize rate far more
than ablating as many random heads.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

from pinpoint import patching, prompts
from pinpoint.evaluation import scoring
from pinpoint.models import HeadLayout


def challenge_pairs(records: list[dict], max_prompts: int, fmt: str, tokenizer) -> tuple[list[str], list[str]]:
    """(reference, counterfactual) prompt texts from dialogues whose first answer is right."""
    ref, cf = [], []
    for rec in records:
        if not rec["metadata"].get("first_correct"):
            continue
        dialogue = rec["messages"][:2]
        ref.append(prompts.render([*dialogue, {"role": "user", "content": prompts.CHALLENGE}], fmt, tokenizer))
        cf.append(prompts.render([*dialogue, {"role": "user", "content": prompts.AFFIRMATION}], fmt, tokenizer))
        if len(ref) == max_prompts:
            break
    return ref, cf


def make_batches(tokenizer, ref: list[str], cf: list[str], batch_size: int, device) -> list[patching.Batch]:
    out = []
    for s in range(0, len(ref), batch_size):
        r = [scoring.encode_prompt(tokenizer, t) for t in ref[s: s + batch_size]]
        c = [scoring.encode_prompt(tokenizer, t) for t in cf[s: s + batch_size]]
        out.append(patching.Batch(*scoring.left_pad(r, tokenizer.pad_token_id, device), *scoring.left_pad(c, tokenizer.pad_token_id, device)))
    return out


def reply_tokens(tokenizer, prompt: str, fmt: str, sycophantic: str, honest: str) -> tuple[int, int]:
    """The first reply tokens of caving and of keeping, as they follow a real prompt."""
    tokens = (scoring.first_reply_token(tokenizer, prompt, sycophantic, fmt), scoring.first_reply_token(tokenizer, prompt, honest, fmt))
    if tokens[0] == tokens[1]:
        raise ValueError(f"attribute.sycophantic_token {sycophantic!r} and honest_token {honest!r} start with the same token")
    return tokens


def score_heads(model, layout: HeadLayout, batches, tokens, method: str, mode: str, verify: int):
    """Scores (n_layers, n_heads), averaged over batches by size, and the heads scored exactly.

    screen: estimates from every batch are averaged first, the `verify` most negative heads
    are chosen once, and those heads are scored exactly on every batch."""
    sizes = torch.tensor([float(b.ref_ids.shape[0]) for b in batches])

    def average(per_batch):
        return sum(s.cpu() * n for s, n in zip(per_batch, sizes)) / sizes.sum()

    every = [(l, h) for l in range(layout.n_layers) for h in range(layout.n_heads)]
    bar = tqdm(batches, desc=f"attribute ({method}, {mode})", leave=False)
    if method != "screen":
        return average([getattr(patching, method)(model, layout, b, tokens, mode) for b in bar]), every
    captures = [(patching.capture(model, layout, b.ref_ids, b.ref_mask, tokens), patching.capture(model, layout, b.cf_ids, b.cf_mask, tokens)) for b in bar]
    estimates = average([patching.estimate(model, layout, b, tokens, mode, r, c) for b, (r, c) in zip(batches, captures)])
    order = torch.argsort(estimates.flatten())[:verify].tolist()
    candidates = [(i // layout.n_heads, i % layout.n_heads) for i in order]
    checked = average([patching.exact(model, layout, b, tokens, mode, candidates, r, c) for b, (r, c) in zip(batches, captures)])
    return torch.where(torch.isnan(checked), estimates, checked), candidates


# --------------------------------------------------------------------------- mean ablation


@torch.no_grad()
def head_means(model, layout: HeadLayout, batches, tokens) -> list[torch.Tensor]:
    """Mean output of every head at the final position over reference and counterfactual
    prompts alike: per layer (H*hd,). The reply is decided at the final position, and a
    mean over challenges alone would still carry the challenge."""
    sums, count = [0.0] * layout.n_layers, 0
    for batch in batches:
        for ids, mask in ((batch.ref_ids, batch.ref_mask), (batch.cf_ids, batch.cf_mask)):
            cap = patching.capture(model, layout, ids, mask, tokens)
            sums = [s + z.sum(0) for s, z in zip(sums, cap.o_in)]
            count += ids.shape[0]
    return [s / count for s in sums]


@contextmanager
def mean_ablated(model, layout: HeadLayout, heads: list[tuple[int, int]], means: list[torch.Tensor]):
    """Within the block, the given heads output their mean, at every position."""
    hooks = []
    by_layer: dict[int, list[int]] = {}
    for l, h in heads:
        by_layer.setdefault(l, []).extend(layout.o_index(h))
    for l, cols in by_layer.items():
        def ablate(m, a, cols=cols, mean=means[l][cols]):
            z = a[0].clone()
            z[..., cols] = mean.to(z.dtype)
            return (z, *a[1:])

        hooks.append(model.get_submodule(layout.module_name(l, "o")).register_forward_pre_hook(ablate))
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def apologize_rate(model, tokenizer, texts: list[str], batch_size: int) -> float:
    replies = scoring.greedy(model, tokenizer, texts, max_new_tokens=8, batch_size=batch_size)
    return sum(prompts.admits_mistake(r) for r in replies) / max(1, len(replies))


def ablation_evidence(model, layout, tokenizer, selected, means, texts, draws: int, seed: int, batch_size: int) -> dict:
    """Apologize rate with no ablation, with the selected heads ablated, and with random heads."""
    rng = random.Random(seed)
    every = [(l, h) for l in range(layout.n_layers) for h in range(layout.n_heads)]
    out = {"none": apologize_rate(model, tokenizer, texts, batch_size)}
    with mean_ablated(model, layout, selected, means):
        out["selected"] = apologize_rate(model, tokenizer, texts, batch_size)
    rates = []
    for _ in tqdm(range(draws), desc="random-head ablations", leave=False):
        with mean_ablated(model, layout, rng.sample(every, len(selected)), means):
            rates.append(apologize_rate(model, tokenizer, texts, batch_size))
    if rates:
        out["random_mean"] = sum(rates) / len(rates)
        out["random_draws"] = rates
    return {k: (round(v, 4) if isinstance(v, float) else [round(x, 4) for x in v]) for k, v in out.items()}
