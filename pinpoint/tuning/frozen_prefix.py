"""Run the frozen bottom of the decoder once per training example, not once per step.

When nothing below decoder layer L trains (SPT and its random-heads baseline: L is the
lowest layer that holds a tuned head), the hidden state entering layer L depends on the
example alone. `Decoder` computes it once per example, without gradients, keeps it
(one (seq, hidden) tensor per example) and from then on runs only layers L.. : the
frozen prefix costs one forward per example in all, and backward never reaches it.

How the suffix runs, exactly: the decoder's own forward is called as usual, with
layers[:L] swapped for `Skip` (returns its input) and a pre-hook on layers[L] that
swaps its hidden-state input for the cached one. Everything else the decoder does runs
as in a plain forward (token embeddings, GPT-2's position embeddings, Gemma's
embedding scale, rotary tables from position ids, causal and sliding-window masks,
per-layer attention types): layers L.. see the same inputs as in a plain forward, so
the mechanism needs no per-architecture code and is exact for every architecture in
`pinpoint.models.heads.ARCHS`. The only cost left below layer L is the embedding lookup.

Right padding (what the loop uses): real tokens sit at the start of a row and keep the
positions of a plain forward; no real token attends to a padded one, so the padded
positions of the cached input (zeros) change nothing the loss reads.

A cache needs a deterministic prefix: with dropout active below layer L (GPT-2's
default config), or when the cache would exceed `budget_bytes`, every step recomputes
the prefix, detached at layer L (no graph below it either way). With no frozen prefix
(full fine-tuning, LoRA on every layer), the decoder simply runs.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from pinpoint.models.heads import arch_of
from pinpoint.models.hooks import Hook, hidden_states, hooks, with_hidden_states


class Skip(nn.Module):
    """Stands in for a decoder layer below the cut: passes the hidden states through."""

    def __init__(self, returns_tuple: bool):
        super().__init__()
        self.returns_tuple = returns_tuple  # transformers < 5: decoder layers return (hidden, ...)

    def forward(self, hidden_states, *args, **kwargs):
        return (hidden_states,) if self.returns_tuple else hidden_states


class _Reached(Exception):
    """Raised by the hook on layer L: the prefix pass stops there."""

    def __init__(self, hidden: torch.Tensor):
        super().__init__()
        self.hidden = hidden


def causal_lm(model: nn.Module) -> nn.Module:
    """The HF CausalLM inside a peft model (whose LoRA layers live in it), or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def frozen_depth(model: nn.Module, layers: nn.ModuleList) -> int:
    """How many decoder layers at the bottom hold no parameter that requires grad, with
    everything outside the layers frozen too (embeddings, norms, head); 0 otherwise."""
    in_layers = {id(p) for p in layers.parameters()}
    if any(p.requires_grad for p in model.parameters() if id(p) not in in_layers):
        return 0
    for l, layer in enumerate(layers):
        if any(p.requires_grad for p in layer.parameters()):
            return l
    return 0  # nothing trains at all: nothing to save either


def _stochastic(modules) -> bool:
    """Dropout that would be active in training: nn.Dropout modules, or the attention
    modules' functional dropout rate (`attention_dropout` in Llama, Qwen2, GPT-NeoX ...)."""
    for m in modules:
        if isinstance(m, nn.Dropout) and m.p > 0:
            return True
        rate = getattr(m, "attention_dropout", 0.0)
        if isinstance(rate, (int, float)) and rate > 0:
            return True
    return False


class Decoder:
    """The decoder body of a CausalLM, run from a cached frozen prefix where it can be.

    `hidden_states(ids, mask, rows)` returns the final hidden states (B, T, d), after the
    final norm, for right-padded `ids`, where rows[b] is the training-example index of
    row b (the cache key)."""

    def __init__(self, model: nn.Module, n_tokens: int, budget_bytes: int = 1 << 30):
        self.causal = causal_lm(model)
        self.body = self.causal.base_model  # LlamaModel, GPT2Model, GPTNeoXModel ...
        self.layers = self.causal.get_submodule(arch_of(self.causal.config).layers)
        self.depth = frozen_depth(self.causal, self.layers)
        inside = {id(m) for m in self.layers.modules()}
        below = [m for m in self.body.modules() if id(m) not in inside]  # embeddings, their dropout ...
        below += [m for layer in self.layers[: self.depth] for m in layer.modules()]
        per_token = self.causal.config.hidden_size * 4  # fp32 at most
        self.caching = self.depth > 0 and not _stochastic(below) and n_tokens * per_token <= budget_bytes
        self.cache: dict[int, torch.Tensor] = {}  # example index -> (seq, d) hidden state entering layer `depth`
        self._returns_tuple = False

    def _run(self, ids, mask) -> torch.Tensor:
        return self.body(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state

    def hidden_states(self, ids: torch.Tensor, mask: torch.Tensor, rows: list[int]) -> torch.Tensor:
        if self.depth == 0:
            return self._run(ids, mask)
        if not self.caching:
            with self._detached_at_cut():
                return self._run(ids, mask)
        missing: dict[int, int] = {}  # example index -> its first row in the batch (it can sit there twice)
        for b, r in enumerate(rows):
            if r not in self.cache:
                missing.setdefault(r, b)
        if missing:
            at = list(missing.values())
            self._fill(ids[at], mask[at], list(missing))
        entering = torch.zeros(
            *ids.shape, self.cache[rows[0]].shape[-1], dtype=self.cache[rows[0]].dtype, device=ids.device
        )  # (B, T, d); zeros at the padding
        for b, r in enumerate(rows):
            entering[b, : len(self.cache[r])] = self.cache[r]
        with self._suffix_only(entering):
            return self._run(ids, mask)

    @torch.no_grad()
    def _fill(self, ids: torch.Tensor, mask: torch.Tensor, rows: list[int]) -> None:
        """One prefix pass over the uncached examples; it stops where layer `depth` begins."""
        lengths = mask.sum(-1).tolist()
        if any(not mask[b, :n].all() for b, n in enumerate(lengths)):
            raise ValueError("the prefix cache needs right padding")

        def stop(module, args, kwargs):
            raise _Reached(hidden_states(args, kwargs))

        def note_format(module, args, out):
            self._returns_tuple = isinstance(out, tuple)

        try:
            with hooks(
                Hook(self.layers[self.depth], stop, with_kwargs=True, prepend=True),
                Hook(self.layers[self.depth - 1], note_format, "forward"),
            ):
                self._run(ids, mask)
            raise RuntimeError(f"decoder layer {self.depth} never ran")
        except _Reached as reached:
            hidden = reached.hidden  # (b, T, d)
        for b, (r, n) in enumerate(zip(rows, lengths)):
            self.cache[r] = hidden[b, :n].detach().clone()  # (seq, d)

    @contextmanager
    def _suffix_only(self, entering: torch.Tensor):
        """Layers below the cut skipped; layer `depth` reads `entering` instead."""
        below = list(self.layers[: self.depth])

        def read_entering(module, args, kwargs):
            return with_hidden_states(args, kwargs, entering)

        with hooks(Hook(self.layers[self.depth], read_entering, with_kwargs=True, prepend=True)):
            for l in range(self.depth):
                self.layers[l] = Skip(self._returns_tuple)
            try:
                yield
            finally:
                for l, layer in enumerate(below):
                    self.layers[l] = layer

    @contextmanager
    def _detached_at_cut(self):
        """No cache: the prefix runs in every step's forward, as in a plain one (the same
        dropout draws), and is cut off from the graph at layer `depth`. With nothing below
        that layer requiring grad autograd records nothing there anyway: this is a no-grad
        prefix, made explicit."""

        def detach(module, args, kwargs):
            return with_hidden_states(args, kwargs, hidden_states(args, kwargs).detach())

        with hooks(Hook(self.layers[self.depth], detach, with_kwargs=True, prepend=True)):
            yield
