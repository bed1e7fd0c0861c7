"""One run of a model read at the final position: what patching (pinpoint.attribution.patching) reads and recomputes.

A run's capture holds, per layer, the residual entering each block, its attention output and its
head outputs (the o_proj input) at the final position, and the logits of the reply-token pair;
F = p(sycophantic) / (p(sycophantic) + p(non-sycophantic)) is read from those two logits. With
attention frozen, the residual stream at the final position is recomputed block by block
(`block_frozen`) and read out through two rows of the unembedding (`unembed_pair`).

A model spread over devices (models.load(..., device_map=...)): every activation is kept
where its layer captured it and moved to a layer's device where the two meet; weights read
directly (o_proj columns, two unembedding rows) are read through accelerate's hooks, so an
offloaded (CPU or disk) layer's weights are fetched for the moment they are used.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from pinpoint.models.heads import HeadLayout
from pinpoint.models.hooks import Hook, hidden_states, hooks
from pinpoint.models.tokens import position_ids

# --------------------------------------------------------------------------- devices


def device_of(module) -> torch.device:
    """Where a module computes: its first materialised weight's device, else (weights offloaded
    to CPU or disk, placeholders on "meta") the execution device of its accelerate hook."""
    for m in module.modules():
        for p in m.parameters(recurse=False):
            if p.device.type != "meta":
                return p.device
    for m in module.modules():
        accelerate_hooks = [getattr(m, "_hf_hook", None)]
        accelerate_hooks += list(getattr(accelerate_hooks[0], "hooks", []))  # a SequentialHook holds several
        for hook in accelerate_hooks:
            if getattr(hook, "execution_device", None) is not None:
                return torch.device(hook.execution_device)
    raise ValueError(f"{type(module).__name__}: no weights and no execution device")


@contextmanager
def materialised(module):
    """The module's own weights on its execution device while the block runs (offloaded ones
    fetched by its accelerate hook); a no-op for a module that holds its weights."""
    from accelerate.utils import align_module_device

    with align_module_device(module):
        yield module


# --------------------------------------------------------------------------- inputs and captures


@dataclass(frozen=True)
class Subject:
    """The model whose heads are scored: its weights, its head layout and the token pair F reads."""

    model: object
    layout: HeadLayout
    tokens: tuple[int, int]  # (sycophantic, non-sycophantic) first reply tokens


@dataclass
class Batch:
    """Left-padded reference and counterfactual prompts (final position = index -1)."""

    ref_ids: torch.Tensor
    ref_mask: torch.Tensor
    cf_ids: torch.Tensor
    cf_mask: torch.Tensor


@dataclass
class Capture:
    """One run's activations at the final position, per layer."""

    block_in: list[torch.Tensor]  # (B, d) residual entering block l
    attn_out: list[torch.Tensor]  # (B, d) attention output of block l
    o_in: list[torch.Tensor]  # (B, H*hd) head outputs of block l
    logits: torch.Tensor  # (B, 2) logits of (sycophantic, non-sycophantic)


@dataclass(frozen=True)
class Captures:
    """The captures of a batch's two runs: its reference prompts and its counterfactual ones."""

    reference: Capture
    counterfactual: Capture

    @classmethod
    def of(cls, subject: Subject, batch: Batch) -> Captures:
        """Both runs captured, the reference first."""
        model, layout, tokens = subject.model, subject.layout, subject.tokens
        reference = capture(model, layout, batch.ref_ids, batch.ref_mask, tokens)
        return cls(reference, capture(model, layout, batch.cf_ids, batch.cf_mask, tokens))


def wide(t: torch.Tensor) -> torch.Tensor:
    """At least float32: bf16/fp16 activations are compared and summed in float32 (float64 stays float64)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def pair_logits(logits_last: torch.Tensor, tokens: tuple[int, int]) -> torch.Tensor:
    """The token pair's logits from the final position's (B, V), at least in float32."""
    return wide(logits_last[:, list(tokens)])


def forward_final(model, ids, mask, tokens, installs: tuple[Hook, ...] | list[Hook] = ()):
    """Logits of the token pair at the final position, with `installs` hooked in meanwhile."""
    with hooks(*installs):
        out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), logits_to_keep=1)
    return pair_logits(out.logits[:, -1], tokens)


@torch.no_grad()
def capture(model, layout: HeadLayout, ids, mask, tokens) -> Capture:
    """One run's activations at the final position, and its token pair's logits."""
    block_in, attn_out, o_in = [None] * layout.n_layers, [None] * layout.n_layers, [None] * layout.n_layers
    installs = []
    for l in range(layout.n_layers):
        block = model.get_submodule(f"{layout.arch.layers}.{l}")
        attn = model.get_submodule(layout.module_name(l, "attn"))
        o = model.get_submodule(layout.module_name(l, "o"))

        def grab_in(m, a, kw, l=l):
            block_in[l] = hidden_states(a, kw)[:, -1].detach().clone()

        def grab_attn(m, a, kw, out, l=l):
            attn_out[l] = out[0][:, -1].detach().clone()

        def grab_o(m, a, l=l):
            o_in[l] = a[0][:, -1].detach().clone()

        installs += [
            Hook(block, grab_in, with_kwargs=True),
            Hook(attn, grab_attn, "forward", with_kwargs=True),
            Hook(o, grab_o),
        ]
    logits = forward_final(model, ids, mask, tokens, installs)
    return Capture(block_in, attn_out, o_in, logits)


def sycophancy_fraction(pair_logits: torch.Tensor) -> torch.Tensor:
    """F = p_s / (p_s + p_n), from the two logits."""
    return torch.sigmoid(pair_logits[..., 0] - pair_logits[..., 1])


# --------------------------------------------------------------------------- the residual stream with frozen attention


def block_frozen(model, layout: HeadLayout, l: int, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Block l's output at one position, given its input x and its (frozen) attention output a
    (o_proj's output), following the family's residual structure (pinpoint.models.heads)."""
    block = model.get_submodule(f"{layout.arch.layers}.{l}")
    arch = layout.arch
    mlp = block.get_submodule(arch.mlp)

    def norm(name, t):  # a norm the family may not have: identity then
        return t if name is None else block.get_submodule(name)(t)

    dev = device_of(block)
    x, a = x.to(dev), a.to(dev)
    a = norm(arch.post_attn_norm, a)  # Gemma 2/3, OLMo 2: before the residual add
    mlp_in = x if layout.parallel_residual else x + a  # GPT-NeoX's parallel residual: the MLP reads the block input
    return x + a + norm(arch.post_mlp_norm, mlp(norm(arch.pre_mlp_norm, mlp_in)))


def unembed_pair(model, layout: HeadLayout, x: torch.Tensor, tokens) -> torch.Tensor:
    """Logits of the token pair from a final residual: only two rows of the unembedding
    (soft-capped as the model's own forward does, Gemma 2/3)."""
    final_norm = model.get_submodule(layout.arch.final_norm)
    head = model.get_output_embeddings()
    normed = final_norm(x.to(device_of(final_norm)))
    with materialised(head):
        w = head.weight[list(tokens)]
        out = normed.to(w.device) @ w.T
        if getattr(head, "bias", None) is not None:
            out = out + head.bias[list(tokens)]
    if layout.logit_softcap:  # in the model's dtype, as its forward applies it
        out = torch.tanh(out / layout.logit_softcap) * layout.logit_softcap
    return wide(out)


def head_write(model, layout: HeadLayout, l: int, dz: torch.Tensor) -> torch.Tensor:
    """Per-head contribution of dz (B, H*hd) through o_proj: (H, B, d), on o_proj's device, at least in
    float32 (a bf16 model's o_proj accumulates in float32 too, and rounds once: see patching._path_variants)."""
    with materialised(model.get_submodule(layout.module_name(l, "o"))):
        w = wide(layout.o_columns(model, l))  # (d, H, hd)
        dz = wide(dz).to(w.device, w.dtype).view(dz.shape[0], layout.n_heads, layout.head_dim)
        return torch.einsum("dhk,bhk->hbd", w, dz)
