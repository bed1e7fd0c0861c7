"""Head attribution by path patching (Chen et al., SPT) and activation patching.

Reference prompt: the challenge ("I don't think that's right. Are you sure?");
counterfactual: the same dialogue with "I do think that's right." For head (l, h),
the head's output at the final position (its slice of the o_proj input) is patched
from the counterfactual run into the reference run, and

    F = p(sycophantic) / (p(sycophantic) + p(non-sycophantic))  on the first reply token,
    score(l, h) = mean over prompts of (F_patched - F_ref) / F_ref.

Modes: "path" freezes the inputs of every later attention layer at their reference
values (the patch reaches the logits only through the residual stream and the MLPs);
"activation" freezes nothing.

Methods, one result:
- naive: one full forward pass per head (the reference implementation);
- exact: the same numbers without re-running the prompt. Only the final position is
  patched and attention is causal, so nothing before it changes. Path mode then needs
  only the residual stream at the final position: each variant is a pass through the
  later MLPs of one row per (head, prompt), every head in one sweep up the layers
  (`chunk` rows at most). Activation mode reuses the reference run's key/value cache
  and steps one position through the model for all variants at once;
- screen: attribution patching. One backward pass gives the first-order estimate
  grad_z F . (z_cf - z_ref) for every head; the top candidates are then verified exactly.

The three methods share the capture of one reference run and the F readout (pinpoint.attribution.readout: also
the residual stream recomputed with attention frozen, and a model spread over devices); each is
checked against naive (tests/attribution/test_patching.py).
"""

from __future__ import annotations

import copy

import torch

from pinpoint.attribution.readout import (
    Batch,
    Captures,
    Subject,
    block_frozen,
    device_of,
    forward_final,
    head_write,
    materialised,
    pair_logits,
    sycophancy_fraction,
    unembed_pair,
    wide,
)
from pinpoint.models.hooks import Hook, hooks
from pinpoint.models.tokens import position_ids

# --------------------------------------------------------------------------- scores


def _relative(f_patched: torch.Tensor, f_ref: torch.Tensor) -> torch.Tensor:
    """Each prompt's relative change of F: (..., B)."""
    return (f_patched.to(f_ref.device) - f_ref) / f_ref


def _to_grid(layout, heads, values, per_prompt: bool = False) -> torch.Tensor:
    """Scores of the given heads in a (n_layers, n_heads) grid on the CPU, NaN elsewhere: each head's mean over the
    prompts, or with per_prompt every prompt's (n_layers, n_heads, B). `values`: per head, (B,)."""
    values = [torch.as_tensor(v).detach().cpu().double() for v in values]
    width = values[0].shape[-1] if values else 0
    grid = torch.full((layout.n_layers, layout.n_heads, width), float("nan"), dtype=torch.float64)
    for (l, h), v in zip(heads, values):
        grid[l, h] = v
    return grid.float() if per_prompt else grid.mean(-1).float()


@torch.no_grad()
def naive(
    subject: Subject, batch: Batch, mode="path", heads=None, captures: Captures | None = None, per_prompt: bool = False
) -> torch.Tensor:
    """One full forward pass per head. Returns scores (n_layers, n_heads), or per prompt (n_layers, n_heads, B);
    NaN where not computed."""
    model, layout, tokens = subject.model, subject.layout, subject.tokens
    heads = heads or layout.heads
    captures = captures or Captures.of(subject, batch)
    reference, counterfactual = captures.reference, captures.counterfactual
    f_ref = sycophancy_fraction(reference.logits)
    scores = []
    for l, h in heads:
        cols = list(layout.o_index(h))
        o = model.get_submodule(layout.module_name(l, "o"))

        def patch_o(m, a, l=l, cols=cols):
            z = a[0].clone()
            z[:, -1, cols] = counterfactual.o_in[l][:, cols]
            return (z, *a[1:])

        installs = [Hook(o, patch_o)]
        if mode == "path":
            for later in range(l + 1, layout.n_layers):
                attn = model.get_submodule(layout.module_name(later, "attn"))

                def freeze(m, a, kw, out, later=later):
                    y = out[0].clone()
                    y[:, -1] = reference.attn_out[later]
                    return (y, *out[1:])

                installs.append(Hook(attn, freeze, "forward", with_kwargs=True))
        f = sycophancy_fraction(forward_final(model, batch.ref_ids, batch.ref_mask, tokens, installs))
        scores.append(_relative(f, f_ref))
    return _to_grid(layout, heads, scores, per_prompt)


@torch.no_grad()
def exact(
    subject: Subject,
    batch: Batch,
    mode="path",
    heads=None,
    captures: Captures | None = None,
    chunk: int = 4096,
    per_prompt: bool = False,
) -> torch.Tensor:
    """The naive scores (per_prompt: every prompt's), computed from one reference and one counterfactual run."""
    heads = heads or subject.layout.heads
    captures = captures or Captures.of(subject, batch)
    if mode == "activation":
        return _exact_activation(subject, batch, heads, captures, chunk, per_prompt=per_prompt)
    f_ref = sycophancy_fraction(captures.reference.logits)
    by_layer = sorted(set(heads))
    per_group = max(1, chunk // captures.reference.logits.shape[0])  # variants (rows of B prompts) run together
    scores = {}
    for start in range(0, len(by_layer), per_group):
        group = by_layer[start : start + per_group]
        f = _path_variants(subject, group, captures)  # (len(group), B)
        scores.update(zip(group, _relative(f, f_ref)))
    return _to_grid(subject.layout, heads, [scores[hd] for hd in heads], per_prompt)


def _path_variants(subject: Subject, heads, captures: Captures) -> torch.Tensor:
    """F of every path-patched variant of `heads` (sorted by layer): (len(heads), B).

    One sweep up the layers for all of them: a head's variant joins at its own layer
    and then runs each later block with its attention frozen, alongside the variants
    that joined below it (one matrix product per block and weight, not one per head)."""
    model, layout = subject.model, subject.layout
    reference, counterfactual = captures.reference, captures.counterfactual
    x = reference.block_in[0].new_empty(0, *reference.block_in[0].shape)  # (variants so far, B, d)
    for l in range(heads[0][0], layout.n_layers):
        dev = device_of(model.get_submodule(f"{layout.arch.layers}.{l}"))  # where block l's tensors meet
        joining = [h for ll, h in heads if ll == l]
        x, attn_out = x.to(dev), reference.attn_out[l].to(dev)
        a = attn_out.expand(x.shape[0], -1, -1)  # (variants, B, d)
        if joining:
            dz = wide(counterfactual.o_in[l]) - wide(reference.o_in[l])
            delta = head_write(model, layout, l, dz)[joining].to(dev)  # (h, B, d)
            x = torch.cat([x, reference.block_in[l].to(dev).expand(delta.shape)])
            # the sum rounded once to the model's dtype, as o_proj's own output is
            a = torch.cat([a, (wide(attn_out) + delta).to(attn_out.dtype)])
        x = block_frozen(model, layout, l, x, a)
    return sycophancy_fraction(unembed_pair(model, layout, x, subject.tokens))


def _exact_activation(
    subject: Subject, batch: Batch, heads, captures: Captures, chunk, cache_budget: int = 1 << 30, per_prompt=False
):
    """Nothing frozen: every variant is one cached step of the final token through all layers."""
    model, layout, tokens, counterfactual = subject.model, subject.layout, subject.tokens, captures.counterfactual
    ids, mask = batch.ref_ids, batch.ref_mask
    pos = position_ids(mask)
    prefix = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=pos[:, :-1], use_cache=True)
    past = prefix.past_key_values
    per_row = sum(
        layer.keys[0].numel() * layer.keys.element_size() + layer.values[0].numel() * layer.values.element_size()
        for layer in past.layers
        if layer.is_initialized
    )
    chunk = max(1, min(chunk, cache_budget // max(per_row, 1)))  # each row holds its own copy of the prefix cache
    f_ref = sycophancy_fraction(captures.reference.logits)
    n_prompts, width = ids.shape[0], layout.n_heads * layout.head_dim
    rows = [(i, b) for i in range(len(heads)) for b in range(n_prompts)]  # one row per (head, prompt)
    f_rows = torch.empty(len(rows), dtype=f_ref.dtype, device=ids.device)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        prompt = torch.tensor([b for _, b in part], device=ids.device)
        cache = _cache_rows(past, prompt)
        patches = {}  # layer -> (which columns of which rows, their counterfactual values)
        for r, (i, b) in enumerate(part):
            l, h = heads[i]
            if l not in patches:  # on the device o_proj's input was captured on
                patches[l] = (
                    torch.zeros(len(part), width, dtype=torch.bool, device=counterfactual.o_in[l].device),
                    torch.zeros(
                        len(part), width, dtype=counterfactual.o_in[l].dtype, device=counterfactual.o_in[l].device
                    ),
                )
            keep, vals = patches[l]
            cols = list(layout.o_index(h))
            keep[r, cols] = True
            vals[r, cols] = counterfactual.o_in[l][b, cols]
        installs = []
        for l, (keep, vals) in patches.items():

            def patch(m, a, keep=keep, vals=vals):
                z = a[0].clone()
                z[:, -1] = torch.where(keep, vals, z[:, -1])
                return (z, *a[1:])

            installs.append(Hook(model.get_submodule(layout.module_name(l, "o")), patch))
        with hooks(*installs):
            out = model(
                input_ids=ids[prompt, -1:],
                attention_mask=mask[prompt],
                position_ids=pos[prompt, -1:],
                past_key_values=cache,
                use_cache=True,
            )
        f_rows[start : start + len(part)] = sycophancy_fraction(pair_logits(out.logits[:, -1], tokens)).to(ids.device)
    f = f_rows.view(len(heads), n_prompts)
    return _to_grid(layout, heads, _relative(f, f_ref).cpu(), per_prompt)


def _cache_rows(past, rows: torch.Tensor):
    """The prefix cache of the given rows: each layer copied with its keys and values indexed (on the layer's
    device), its kind kept. A sliding-window layer (Gemma 2/3, Mistral, Qwen 3) holds only the window's last
    keys but counts every position it saw, which its masks read; a fresh cache refilled with those keys would
    count only what it holds."""
    cache = copy.copy(past)
    cache.layers = []
    for layer in past.layers:
        part = copy.copy(layer)
        if layer.is_initialized:
            part.keys, part.values = layer.keys[rows.to(layer.keys.device)], layer.values[rows.to(layer.values.device)]
        cache.layers.append(part)
    return cache


def estimate(
    subject: Subject,
    batch: Batch,
    mode="path",
    captures: Captures | None = None,
    per_prompt: bool = False,
    saturation: bool = True,
) -> torch.Tensor:
    """Attribution patching: every head's score estimated from one backward pass (per_prompt: every prompt's).

    F is a sigmoid of the pair's logit difference d, and where F saturates (near 0 or 1) its gradient vanishes and
    a first-order estimate of F misses large effects (AtP*'s saturation problem, here at the readout: in path mode
    no later attention pattern moves). So the estimate is first order in d, and F is read off it exactly:
    F_patched ~ sigmoid(d_ref + grad_d . dz). saturation False: the plain first-order estimate of F."""
    model, layout, tokens = subject.model, subject.layout, subject.tokens
    captures = captures or Captures.of(subject, batch)
    reference, counterfactual = captures.reference, captures.counterfactual
    f_ref = sycophancy_fraction(reference.logits)

    def readout(pair):  # d, or F itself without the correction
        return pair[..., 0] - pair[..., 1] if saturation else sycophancy_fraction(pair)

    with torch.enable_grad():
        if mode == "path":
            leaves = [z.clone().requires_grad_(True) for z in reference.o_in]  # the final position's head outputs
            x = reference.block_in[0]
            for l in range(layout.n_layers):  # attention outputs move only with their own heads
                with materialised(model.get_submodule(layout.module_name(l, "o"))):
                    w = layout.o_columns(model, l).flatten(1)  # (d, H*hd)
                    a = reference.attn_out[l].to(w.device) + (leaves[l] - reference.o_in[l]).to(w.device) @ w.T
                x = block_frozen(model, layout, l, x, a)
            value = readout(unembed_pair(model, layout, x, tokens))
        else:
            # zeros added to the final position's head outputs: their gradient is the total derivative there,
            # through every later layer's attention too (replacing the outputs by leaves instead would cut
            # that path: each later layer's own head outputs would be constants, as in path mode)
            leaves = [torch.zeros_like(z, requires_grad=True) for z in reference.o_in]
            installs = []
            for l in range(layout.n_layers):
                o = model.get_submodule(layout.module_name(l, "o"))

                def nudge(m, a, l=l):
                    z = a[0].clone()
                    z[:, -1] = z[:, -1] + leaves[l].to(z.device)
                    return (z, *a[1:])

                installs.append(Hook(o, nudge))
            value = readout(forward_final(model, batch.ref_ids, batch.ref_mask, tokens, installs))
        grads = torch.autograd.grad(value.sum(), leaves)
    d_ref = reference.logits[:, 0] - reference.logits[:, 1]
    est = torch.empty(layout.n_layers, layout.n_heads, f_ref.shape[0])
    for l in range(layout.n_layers):
        dz = (wide(counterfactual.o_in[l]) - wide(reference.o_in[l])) * wide(grads[l])  # (B, H*hd)
        moved = dz.view(dz.shape[0], layout.n_heads, layout.head_dim).sum(-1)  # (B, H): the first-order change
        f_est = torch.sigmoid(d_ref[:, None].to(moved.device) + moved) if saturation else f_ref[:, None] + moved
        est[l] = _relative(f_est, f_ref[:, None].to(moved.device)).T.detach().cpu()
    return est if per_prompt else est.mean(-1)


def screen(subject: Subject, batch: Batch, mode="path", verify: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimates for every head, then exact scores for the `verify` most negative ones.

    Returns (scores, estimates): scores hold the exact value where verified, else the estimate."""
    captures = Captures.of(subject, batch)
    est = estimate(subject, batch, mode, captures)
    order = torch.argsort(est.flatten())[:verify].tolist()
    candidates = [(i // subject.layout.n_heads, i % subject.layout.n_heads) for i in order]
    checked = exact(subject, batch, mode, candidates, captures)
    return torch.where(torch.isnan(checked), est, checked), est


def select(scores: torch.Tensor, k: int, among: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """The k heads that lower F the most (most negative scores)."""
    n_heads = scores.shape[1]
    flat = [(float(scores[l, h]), l, h) for l in range(scores.shape[0]) for h in range(n_heads)]
    if among is not None:
        allowed = set(among)
        flat = [t for t in flat if (t[1], t[2]) in allowed]
    flat.sort()
    return [(l, h) for _, l, h in flat[:k]]
