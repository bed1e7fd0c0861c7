"""Prompts that begin alike are read once.

Reading a prompt is most of what asking a model costs on a CPU (a reply of 24 tokens costs about
as much to decode as a prompt of 70 to read), and pinpoint's prompts repeat themselves: a chat
template's system message opens every prompt of a batch, best-of-N samples N replies to one
prompt, a readout and a multiple-choice item score several continuations of one prompt. So a
batch is laid out as

    [shared beginning | left padding | the rest of each prompt | its continuation, right-padded]

and everything up to each prompt's last token is read once into a key/value cache: the shared
beginning once for the whole batch (copied to every row), each prompt once for all its copies.
What is left to run (`Rows.forward`, `Rows.generate`) starts at each prompt's last token, whose
logits give the first continuation token. Positions come from the attention mask, so a row sees
the same keys at the same positions as when it is read whole: the same result up to float
summation order (tests/models/test_shared_prefix.py checks it against plain reads on every architecture).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch

from pinpoint.models.hooks import hooks
from pinpoint.models.tokens import left_pad, position_ids

MIN_SHARED = 8  # tokens: a shorter shared beginning is read with the rest (copying it would cost more)
_AT_PROMPT_END: ContextVar[tuple] = ContextVar("at_prompt_end", default=())


@contextmanager
def at_prompt_end(*make_hooks):
    """Within the block, each `make_hooks(column) -> [Hook]` is called for every `Rows.forward` and
    `Rows.generate`, with the column its prompts' last token has in the first forward pass they run (the prompt
    before it was read into the cache, hook-free): hooks that act where the reply is decided and nowhere in the
    prompt (pinpoint.attribution.ablation)."""
    token = _AT_PROMPT_END.set(_AT_PROMPT_END.get() + make_hooks)
    try:
        yield
    finally:
        _AT_PROMPT_END.reset(token)


def shared_length(prompts: Sequence[Sequence[int]]) -> int:
    """The tokens every prompt begins with (0 below MIN_SHARED, or for a single prompt), leaving each
    prompt at least its last token of its own."""
    if len(prompts) < 2:
        return 0
    n = min(len(os.path.commonprefix([list(p) for p in prompts])), min(len(p) for p in prompts) - 1)
    return n if n >= MIN_SHARED else 0


def groups(prompts: Sequence[Sequence[int]], batch_size: int) -> list[list[tuple]]:
    """Batches of (prompt, indices of its continuations): each distinct prompt once, prompts of similar length
    together, whole prompts per batch until it holds `batch_size` continuations."""
    where: dict[tuple, list[int]] = {}
    for i, p in enumerate(prompts):
        where.setdefault(tuple(p), []).append(i)
    batches, current, count = [], [], 0
    for prompt in sorted(where, key=len):
        if current and count + len(where[prompt]) > batch_size:
            batches.append(current)
            current, count = [], 0
        current.append((prompt, where[prompt]))
        count += len(where[prompt])
    return batches + ([current] if current else [])


@dataclass
class Rows:
    """A batch laid out as in the module docstring: its first `cached` positions are in `cache`."""

    ids: torch.Tensor  # (rows, T): every token, the cached ones included
    mask: torch.Tensor  # (rows, T): 1 on tokens, 0 on padding
    cache: object | None  # the key/value cache of positions [0, cached), or None
    cached: int
    last: int = -1  # the column of every prompt's last token in ids

    def _at_prompt_end(self) -> list:
        column = self.last - self.cached  # in what runs: 0 where the prompt was cached up to its last token
        return [hook for make in _AT_PROMPT_END.get() for hook in make(column)]

    def forward(self, model, **kwargs):
        """The model on the positions not cached: its outputs cover positions [cached, T)."""
        if self.cache is not None:
            kwargs["cache"] = self.cache
        positions = position_ids(self.mask)[:, self.cached :]
        with hooks(*self._at_prompt_end()):
            return model(
                input_ids=self.ids[:, self.cached :], attention_mask=self.mask, position_ids=positions, **kwargs
            )

    def generate(self, model, **kwargs):
        """model.generate on the rows (it reads the cache's length and runs the rest): (rows, T + new)."""
        if self.cache is not None:
            kwargs["cache"] = self.cache
        with hooks(*self._at_prompt_end()):
            return model.generate(input_ids=self.ids, attention_mask=self.mask, **kwargs)


def windowed(model) -> bool:
    """Does some layer attend within a sliding window? Its window counts cache slots, padding included, so
    padding between the shared beginning and the rest would shift it: such a model shares no beginning."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicSlidingWindowLayer

    return any(isinstance(layer, DynamicSlidingWindowLayer) for layer in DynamicCache(config=model.config).layers)


def body(model):
    """The decoder stack without its head (a causal LM's, a reward model's; LoRA layers included): what
    reading a prompt into the cache, or a probe's features, need."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model's own
    return inner.base_model


def _read(model, ids: torch.Tensor, mask: torch.Tensor, cache):
    """Run ids (the positions after the cache's) through the decoder stack into the cache."""
    from transformers import DynamicCache

    cache = cache if cache is not None else DynamicCache(config=model.config)
    positions = position_ids(mask)[:, cache.get_seq_length() :]
    body(model)(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
    return cache


@torch.no_grad()
def rows(
    model,
    prompts: Sequence[Sequence[int]],
    pad_id: int,
    copies: Sequence[int] | None = None,
    tails: Sequence[Sequence[int]] | None = None,
) -> Rows:
    """Rows for each prompt repeated copies[i] times (default once), row r followed by tails[r] (default
    nothing), every prompt read up to its last token (see the module docstring). Every prompt needs
    at least one token."""
    device = next(model.parameters()).device
    copies = [1] * len(prompts) if copies is None else list(copies)
    shared = 0 if windowed(model) else shared_length(prompts)
    rest_ids, rest_mask = left_pad([p[shared:] for p in prompts], pad_id, device)  # (k, W)
    cache = None
    if shared:  # the shared beginning: read once, copied to every prompt
        head = torch.tensor([list(prompts[0][:shared])], dtype=torch.long, device=device)
        cache = _read(model, head, torch.ones_like(head), None)
        cache.batch_repeat_interleave(len(prompts))
        head = head.expand(len(prompts), shared)
        rest_ids, rest_mask = torch.cat([head, rest_ids], 1), torch.cat([torch.ones_like(head), rest_mask], 1)
    width = rest_ids.shape[1]
    if width - 1 > shared:  # each prompt up to its last token
        cache = _read(model, rest_ids[:, shared:-1], rest_mask[:, :-1], cache)
    owner = torch.repeat_interleave(torch.arange(len(prompts), device=device), torch.tensor(copies, device=device))
    if cache is not None and (len(owner) != len(prompts) or any(c != 1 for c in copies)):
        cache.batch_select_indices(owner)
    ids, mask = rest_ids[owner], rest_mask[owner]
    if tails is not None and any(tails):
        if len(tails) != len(owner):
            raise ValueError(f"{len(tails)} tails for {len(owner)} rows")
        longest = max(len(t) for t in tails)
        tail_ids = torch.full((len(tails), longest), pad_id, dtype=torch.long)
        tail_mask = torch.zeros((len(tails), longest), dtype=torch.long)
        for r, t in enumerate(tails):
            tail_ids[r, : len(t)] = torch.tensor(list(t), dtype=torch.long)
            tail_mask[r, : len(t)] = 1
        ids, mask = torch.cat([ids, tail_ids.to(device)], 1), torch.cat([mask, tail_mask.to(device)], 1)
    return Rows(ids, mask, cache, width - 1 if cache is not None else 0, width - 1)
