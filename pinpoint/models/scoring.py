"""Asking a model, batched, deterministic and judge-free: log-probabilities of completions,
multiple choice, greedy decoding. Tokenising and padding: pinpoint.models.tokens.

A completion is encoded on its own and appended to the prompt's ids (as
lm-evaluation-harness does), so the prompt/completion boundary never shifts. What prompts share
(a system message, one prompt's several completions or samples) is read once: pinpoint.models.shared_prefix.
Given `max_length` (the model's positions), a prompt too long to fit with what follows it
keeps its end, the part the model answers (and its BOS); suites count such prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from pinpoint.models import shared_prefix
from pinpoint.models.tokens import encode_completion, encode_prompt, prompt_room


def _batches(items, batch_size: int, desc: str | None):
    """Start indices of batches over `items` (a count), or the items themselves (a list, batch_size 1)."""
    starts = range(0, items, batch_size) if isinstance(items, int) else items
    return tqdm(starts, desc=desc, leave=False, disable=None) if desc else starts


def _by_length(seqs: Sequence[Sequence[int]]) -> list[int]:
    """Order that groups similar lengths (less padding); results are put back in input order."""
    return sorted(range(len(seqs)), key=lambda i: len(seqs[i]))


@torch.no_grad()
def completion_logprobs(
    model,
    tokenizer,
    prompts: Sequence[str],
    completions: Sequence[str],
    batch_size: int = 64,
    desc: str | None = None,
    max_length: int | None = None,
) -> list[float]:
    """Sum of log p(completion tokens | prompt) for each pair; -inf for an empty completion.

    A prompt shared by several completions is read once (pinpoint.models.shared_prefix); `batch_size` counts
    completions. With max_length, a prompt keeps only as much of its end as fits before its completion."""
    pairs = []
    for p, c in zip(prompts, completions, strict=True):
        tail = encode_completion(tokenizer, c)
        pairs.append((tuple(encode_prompt(tokenizer, p, prompt_room(max_length, len(tail)))), tail))
    out = [float("-inf")] * len(pairs)
    for group in _batches(shared_prefix.groups([p for p, _ in pairs], batch_size), 1, desc):
        heads = [prompt for prompt, _ in group]
        rows = shared_prefix.rows(
            model,
            heads,
            tokenizer.pad_token_id,
            [len(idx) for _, idx in group],
            [pairs[i][1] for _, idx in group for i in idx],
        )
        logits = rows.forward(model).logits  # (rows, 1 + longest completion, vocab): from each prompt's last token
        for row, i in enumerate(i for _, idx in group for i in idx):
            tail = pairs[i][1]
            if not tail:
                continue
            logp = torch.log_softmax(logits[row, : len(tail)].float(), -1)  # position j predicts tail[j]
            out[i] = logp.gather(-1, torch.tensor(tail, device=logp.device)[:, None]).sum().item()
    return out


def choose(
    model,
    tokenizer,
    prompts: Sequence[str],
    choices: Sequence[Sequence[str]],
    batch_size: int = 64,
    desc: str | None = None,
    max_length: int | None = None,
) -> list[int]:
    """Index of the most likely choice for each prompt (multiple choice by log-probability)."""
    flat_p = [p for p, cs in zip(prompts, choices, strict=True) for _ in cs]
    flat_c = [c for cs in choices for c in cs]
    scores = completion_logprobs(model, tokenizer, flat_p, flat_c, batch_size, desc, max_length)
    picks, k = [], 0
    for cs in choices:
        row = scores[k : k + len(cs)]
        picks.append(max(range(len(cs)), key=row.__getitem__))
        k += len(cs)
    return picks


@torch.no_grad()
def greedy(
    model,
    tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int = 16,
    batch_size: int = 64,
    desc: str | None = None,
    max_length: int | None = None,
) -> list[str]:
    """Greedy continuation of every prompt, decoded, cut at the end of the turn.

    With max_length, a prompt keeps only as much of its end as leaves room for the reply."""
    room = prompt_room(max_length, max_new_tokens)
    seqs = [encode_prompt(tokenizer, p, room) for p in prompts]
    order = _by_length(seqs)
    out = [""] * len(seqs)
    for s in _batches(len(seqs), batch_size, desc):
        idx = order[s : s + batch_size]
        rows = shared_prefix.rows(model, [seqs[i] for i in idx], tokenizer.pad_token_id)
        gen = rows.generate(
            model,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=end_of_turn_ids(model, tokenizer),
        )
        for row, i in enumerate(idx):
            text = tokenizer.decode(gen[row, rows.ids.shape[1] :], skip_special_tokens=True)
            out[i] = end_of_turn(text)
    return out


def end_of_turn_ids(model, tokenizer):
    """The tokens that end a reply: the generation config's (chat models list their
    end-of-turn token there), else the tokenizer's end of sequence."""
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    return ids if ids is not None else tokenizer.eos_token_id


def end_of_turn(text: str) -> str:
    """A reply ends where the model starts the next turn itself."""
    for marker in ("Human :", "Human:", "\n\nHuman"):
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    return text.strip()


@dataclass(frozen=True)
class Sampling:
    """How replies are sampled: how many per prompt, at what temperature, from what seed."""

    n: int
    temperature: float
    seed: int


@torch.no_grad()
def sample(
    model, tokenizer, prompts: Sequence[str], sampling: Sampling, max_new_tokens: int, batch_size: int = 32
) -> list[list[str]]:
    """sampling.n replies per prompt, sampled at its temperature (seeded), each cut at the end of the turn."""
    n = sampling.n
    torch.manual_seed(sampling.seed)
    per_batch = max(1, batch_size // n)
    out = []
    for s in range(0, len(prompts), per_batch):
        seqs = [encode_prompt(tokenizer, t) for t in prompts[s : s + per_batch]]
        rows = shared_prefix.rows(model, seqs, tokenizer.pad_token_id, copies=[n] * len(seqs))  # each prompt read once
        gen = rows.generate(
            model,
            do_sample=True,
            temperature=sampling.temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=end_of_turn_ids(model, tokenizer),
        )
        width = rows.ids.shape[1]
        texts = [end_of_turn(tokenizer.decode(g[width:], skip_special_tokens=True)) for g in gen]
        out += [texts[i * n : (i + 1) * n] for i in range(len(seqs))]
    return out
