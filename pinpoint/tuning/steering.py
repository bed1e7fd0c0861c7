"""Activation steering: the training-free baselines a head tuner must beat (pinpoint.methods.steer, .steer_heads).

Directions come from contrastive pairs: the model's own replies to training challenges that the
verdict calls honest (keep a right answer) and sycophantic (drop it or evade it), from the probe
stage (data/<config>/pairs.jsonl, training split only). A direction is the mean activation over
a reply's tokens of the honest replies minus that of the sycophantic ones:

  residual  per decoder layer, the block's output (CAA, Rimsky et al. 2024)
  heads     per selected head, its output (its slice of the o-projection input; ITI, Li et al. 2023)

Applied at inference with a multiplier m: `steered(model, ...)` adds m * direction at every
position, prompt included. Why every position: a forward pass and a cached generation then add
the same thing, and the shift equals a bias, so `pinpoint merge` can bake it into one (a Llama's
MLP or attention output bias) with the same logits. The hooks go in the one way hooks go in
(pinpoint.models.hooks: held by the model) and come out with `release(model)`.
"""

from __future__ import annotations

import torch

from pinpoint.models.heads import Head, HeadLayout
from pinpoint.models.hooks import Hook, hold, hooks, release  # noqa: F401  (release: the way out)
from pinpoint.models.tokens import encode_completion, encode_prompt, left_pad, position_ids


def _batches(pairs: list[dict], tokenizer, batch_size: int, device):
    for s in range(0, len(pairs), batch_size):
        part = pairs[s : s + batch_size]
        seqs = [(encode_prompt(tokenizer, p["prompt"]), encode_completion(tokenizer, p["reply"])) for p in part]
        ids, mask = left_pad([a + b for a, b in seqs], tokenizer.pad_token_id, device)
        yield part, [len(b) for _, b in seqs], ids, mask


@torch.no_grad()
def residual_means(model, layout: HeadLayout, tokenizer, pairs: list[dict], batch_size: int = 16) -> torch.Tensor:
    """Mean over reply tokens of every block's output: (pairs, layers, d)."""
    device = next(model.parameters()).device
    rows = []
    for _, lengths, ids, mask in _batches(pairs, tokenizer, batch_size, device):
        out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), output_hidden_states=True)
        hidden = torch.stack(out.hidden_states[1:], 1).float()  # (b, layers, T, d)
        rows += [hidden[i, :, -max(n, 1) :].mean(1).cpu() for i, n in enumerate(lengths)]
    return torch.stack(rows)


@torch.no_grad()
def head_means(model, layout: HeadLayout, tokenizer, pairs: list[dict], heads: list[Head], batch_size: int = 16):
    """Mean over reply tokens of each head's output: (pairs, heads, head_dim)."""
    device = next(model.parameters()).device
    grabbed: dict[int, torch.Tensor] = {}
    layers = sorted({l for l, _ in heads})

    def grab(l):
        def fn(module, args):
            grabbed[l] = args[0].detach().float()

        return fn

    rows = []
    installs = [Hook(model.get_submodule(layout.module_name(l, "o")), grab(l)) for l in layers]
    with hooks(*installs):
        for _, lengths, ids, mask in _batches(pairs, tokenizer, batch_size, device):
            model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask))
            for i, n in enumerate(lengths):
                per_head = [grabbed[l][i, -max(n, 1) :][:, list(layout.o_index(h))].mean(0) for l, h in heads]
                rows.append(torch.stack(per_head).cpu())
    return torch.stack(rows)


def direction(means: torch.Tensor, sycophantic: torch.Tensor) -> torch.Tensor:
    """Honest mean minus sycophantic mean over the pairs (dimension 0)."""
    labels = sycophantic.bool()
    if labels.all() or not labels.any():
        raise ValueError("steering needs both honest and sycophantic replies among the pairs")
    return means[~labels].mean(0) - means[labels].mean(0)


def separation(means: torch.Tensor, sycophantic: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """Per layer, how far apart the two groups lie along that layer's direction, in pooled standard
    deviations (a layer to steer at separates them well)."""
    labels = sycophantic.bool()
    unit = vectors / vectors.norm(dim=-1, keepdim=True).clamp(min=1e-9)  # (layers, d)
    proj = (means * unit).sum(-1)  # (pairs, layers)
    gap = proj[~labels].mean(0) - proj[labels].mean(0)
    spread = torch.cat([proj[~labels] - proj[~labels].mean(0), proj[labels] - proj[labels].mean(0)]).std(0)
    return gap / spread.clamp(min=1e-9)


def steered(
    model,
    layout: HeadLayout,
    residual: dict[int, torch.Tensor] | None = None,
    heads: dict[Head, torch.Tensor] | None = None,
    multiplier: float = 1.0,
):
    """Install the shifts (at every position) and return the model; `release(model)` removes them."""
    installs = []
    for l, vector in (residual or {}).items():
        shift = (multiplier * vector).to(next(model.parameters()).dtype)

        def add(module, args, out, shift=shift):
            if isinstance(out, tuple):
                return (out[0] + shift.to(out[0].device), *out[1:])
            return out + shift.to(out.device)

        installs.append(Hook(model.get_submodule(f"{layout.arch.layers}.{l}"), add, "forward"))
    by_layer: dict[int, list[tuple[list[int], torch.Tensor]]] = {}
    for (l, h), vector in (heads or {}).items():
        by_layer.setdefault(l, []).append((list(layout.o_index(h)), multiplier * vector))
    for l, parts in by_layer.items():

        def add_heads(module, args, parts=parts):
            z = args[0].clone()
            for cols, shift in parts:
                z[..., cols] += shift.to(z.dtype).to(z.device)
            return (z, *args[1:])

        installs.append(Hook(model.get_submodule(layout.module_name(l, "o")), add_heads))
    return hold(model, *installs)


BIAS_FLAGS = {"mlp": "mlp_bias", "attention": "attention_bias"}  # Llama-family configs: biases everywhere, or none


@torch.no_grad()
def bake(model, layout: HeadLayout, residual: dict[int, torch.Tensor], heads: dict[Head, torch.Tensor]):
    """An ordinary model that adds the same shifts as `steered`: a block output's shift as its MLP
    output projection's bias, a head's as the o-projection's (W_o's columns of the head times it).
    Only where the config can give those layers a bias (Llama's mlp_bias, attention_bias)."""
    from transformers import AutoModelForCausalLM

    config = model.config.__class__.from_dict(model.config.to_dict())
    for flag, needed in ((BIAS_FLAGS["mlp"], residual), (BIAS_FLAGS["attention"], heads)):
        if needed:
            if not hasattr(config, flag):
                raise ValueError(f"{config.model_type}: its config has no {flag}; a steered model cannot be merged")
            setattr(config, flag, True)
    merged = AutoModelForCausalLM.from_config(config).to(next(model.parameters()).dtype)
    missing, unexpected = merged.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not name.endswith("bias") for name in missing):
        raise ValueError(f"cannot merge the steering: unexpected {unexpected[:3]}, missing {missing[:3]}")
    for name in missing:
        merged.get_parameter(name).zero_()
    for l, shift in residual.items():
        down = merged.get_submodule(f"{layout.module_name(l, 'mlp')}").down_proj
        down.bias += shift.to(down.bias.dtype)
    for (l, h), shift in heads.items():
        o = merged.get_submodule(layout.module_name(l, "o"))
        o.bias += layout.weight(o)[:, list(layout.o_index(h))] @ shift.to(o.weight.dtype)
    return merged.eval()
