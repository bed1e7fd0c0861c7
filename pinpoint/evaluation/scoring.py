"""Log-probability scoring and greedy decoding, batched, deterministic and judge-free.

Prompts are left-padded so the final position is index -1 in every row; position ids
are derived from the attention mask, so a prompt scores the same in any batch.
A completion is encoded on its own and appended to the prompt's ids (as
lm-evaluation-harness does), so the prompt/completion boundary never shifts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm


def encode_prompt(tokenizer, text: str) -> list[int]:
    bos = tokenizer.bos_token
    add_special = not (bos and text.startswith(bos))  # chat templates already start with BOS
    return tokenizer(text, add_special_tokens=add_special)["input_ids"]


def encode_completion(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def first_token(tokenizer, word: str) -> int:
    """Id of the first token of `word` as a reply starts with it (after "Assistant:")."""
    ids = encode_completion(tokenizer, " " + word.strip())
    if not ids:
        raise ValueError(f"{word!r} encodes to no tokens")
    unk = tokenizer.unk_token_id
    if unk is not None and ids[0] == unk:
        raise ValueError(f"{word!r} is not in the model's vocabulary")
    return ids[0]


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s):] = 1
    return ids.to(device), mask.to(device)


def position_ids(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)


def forward(model, ids: torch.Tensor, mask: torch.Tensor, **kw):
    """Model forward with mask-derived positions (left padding safe)."""
    return model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), **kw)


def _batches(n: int, batch_size: int, desc: str | None):
    starts = range(0, n, batch_size)
    return tqdm(starts, desc=desc, leave=False, disable=desc is None or None) if desc else starts


def _by_length(seqs: Sequence[Sequence[int]]) -> list[int]:
    """Order that groups similar lengths (less padding); results are put back in input order."""
    return sorted(range(len(seqs)), key=lambda i: len(seqs[i]))


@torch.no_grad()
def next_token_logprobs(model, tokenizer, prompts: Sequence[str], batch_size: int = 64, desc: str | None = None):
    """log p(next token | prompt) for every prompt: (len(prompts), vocab), float32 on CPU."""
    device = next(model.parameters()).device
    seqs = [encode_prompt(tokenizer, p) for p in prompts]
    order = _by_length(seqs)
    out = torch.empty((len(seqs), model.config.vocab_size))
    for s in _batches(len(seqs), batch_size, desc):
        idx = order[s: s + batch_size]
        ids, mask = left_pad([seqs[i] for i in idx], tokenizer.pad_token_id, device)
        logits = forward(model, ids, mask, logits_to_keep=1).logits[:, -1].float()
        out[idx] = torch.log_softmax(logits, -1).cpu()[:, : out.shape[1]]
    return out


@torch.no_grad()
def completion_logprobs(model, tokenizer, prompts: Sequence[str], completions: Sequence[str], batch_size: int = 64, desc: str | None = None) -> list[float]:
    """Sum of log p(completion tokens | prompt) for each (prompt, completion) pair."""
    device = next(model.parameters()).device
    pairs = [(encode_prompt(tokenizer, p), encode_completion(tokenizer, c)) for p, c in zip(prompts, completions, strict=True)]
    seqs = [p + c for p, c in pairs]
    order = _by_length(seqs)
    out = [0.0] * len(seqs)
    for s in _batches(len(seqs), batch_size, desc):
        idx = order[s: s + batch_size]
        ids, mask = left_pad([seqs[i] for i in idx], tokenizer.pad_token_id, device)
        logp = torch.log_softmax(forward(model, ids, mask).logits.float(), -1)
        for row, i in enumerate(idx):
            n = len(pairs[i][1])
            targets = ids[row, -n:]
            out[i] = logp[row, -n - 1: -1].gather(-1, targets[:, None]).sum().item()
    return out


def choose(model, tokenizer, prompts: Sequence[str], choices: Sequence[Sequence[str]], batch_size: int = 64, desc: str | None = None) -> list[int]:
    """Index of the most likely choice for each prompt (multiple choice by log-probability)."""
    flat_p = [p for p, cs in zip(prompts, choices, strict=True) for _ in cs]
    flat_c = [c for cs in choices for c in cs]
    scores = completion_logprobs(model, tokenizer, flat_p, flat_c, batch_size, desc)
    picks, k = [], 0
    for cs in choices:
        row = scores[k: k + len(cs)]
        picks.append(max(range(len(cs)), key=row.__getitem__))
        k += len(cs)
    return picks


@torch.no_grad()
def greedy(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 16, batch_size: int = 64, desc: str | None = None) -> list[str]:
    """Greedy continuation of every prompt, decoded, cut at the end of the turn."""
    device = next(model.parameters()).device
    seqs = [encode_prompt(tokenizer, p) for p in prompts]
    order = _by_length(seqs)
    out = [""] * len(seqs)
    for s in _batches(len(seqs), batch_size, desc):
        idx = order[s: s + batch_size]
        ids, mask = left_pad([seqs[i] for i in idx], tokenizer.pad_token_id, device)
        gen = model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        )
        for row, i in enumerate(idx):
            text = tokenizer.decode(gen[row, ids.shape[1]:], skip_special_tokens=True)
            out[i] = end_of_turn(text)
    return out


def end_of_turn(text: str) -> str:
    """A reply ends where the model starts the next turn itself."""
    for marker in ("Human :", "Human:", "\n\nHuman"):
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    return text.strip()


def last_number(text: str) -> str | None:
    """The final answer of a reply: its last integer."""
    import re

    found = re.findall(r"-?\d+", text)
    return found[-1] if found else None


def words(text: str) -> list[str]:
    """Lower-cased words of a reply, punctuation dropped."""
    import re

    return re.findall(r"\w+", text.lower())
