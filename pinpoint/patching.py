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

A model spread over devices (models.load(..., device_map=...)): every activation is kept
where its layer captured it and moved to a layer's device where the two meet; weights the
scores read directly (o_proj columns, two unembedding rows) are read through accelerate's
hooks, so an offloaded (CPU or disk) layer's weights are fetched for the moment they are used.

Over 400 lines on purpose: the three methods share the capture of one reference run and the F readout,
and each is checked against naive in the same file's terms (tests/test_patching.py); split, a reader
would follow one score across three files.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from pinpoint.heads import HeadLayout
from pinpoint.hooks import Hook, hidden_states, hooks
from pinpoint.tokens import position_ids

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


def wide(t: torch.Tensor) -> torch.Tensor:
    """At least float32: bf16/fp16 activations are compared and summed in float32 (float64 stays float64)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def _pair_logits(logits_last: torch.Tensor, tokens: tuple[int, int]) -> torch.Tensor:
    return wide(logits_last[:, list(tokens)])


def forward_final(model, ids, mask, tokens, installs: tuple[Hook, ...] | list[Hook] = ()):
    """Logits of the token pair at the final position, with `installs` hooked in meanwhile."""
    with hooks(*installs):
        out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), logits_to_keep=1)
    return _pair_logits(out.logits[:, -1], tokens)


@torch.no_grad()
def capture(model, layout: HeadLayout, ids, mask, tokens) -> Capture:
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
    (o_proj's output), following the family's residual structure (pinpoint.heads)."""
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
    float32 (a bf16 model's o_proj accumulates in float32 too, and rounds once: see _path_variants)."""
    with materialised(model.get_submodule(layout.module_name(l, "o"))):
        w = wide(layout.o_columns(model, l))  # (d, H, hd)
        dz = wide(dz).to(w.device, w.dtype).view(dz.shape[0], layout.n_heads, layout.head_dim)
        return torch.einsum("dhk,bhk->hbd", w, dz)


# --------------------------------------------------------------------------- scores


def _relative(f_patched: torch.Tensor, f_ref: torch.Tensor) -> torch.Tensor:
    return ((f_patched.to(f_ref.device) - f_ref) / f_ref).mean(-1)


def _to_grid(layout, heads, values) -> torch.Tensor:
    """Scores of the given heads in a (n_layers, n_heads) grid on the CPU; NaN elsewhere."""
    grid = torch.full((layout.n_layers, layout.n_heads), float("nan"))
    for (l, h), v in zip(heads, values):
        grid[l, h] = float(v)
    return grid


@torch.no_grad()
def naive(
    model, layout, batch: Batch, tokens, mode="path", heads=None, reference=None, counterfactual=None
) -> torch.Tensor:
    """One full forward pass per head. Returns scores (n_layers, n_heads); NaN where not computed."""
    heads = heads or layout.heads
    reference = reference or capture(model, layout, batch.ref_ids, batch.ref_mask, tokens)
    counterfactual = counterfactual or capture(model, layout, batch.cf_ids, batch.cf_mask, tokens)
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
    return _to_grid(layout, heads, scores)


@torch.no_grad()
def exact(
    model,
    layout,
    batch: Batch,
    tokens,
    mode="path",
    heads=None,
    reference=None,
    counterfactual=None,
    chunk: int = 4096,
) -> torch.Tensor:
    """The naive scores, computed from one reference and one counterfactual run."""
    heads = heads or layout.heads
    reference = reference or capture(model, layout, batch.ref_ids, batch.ref_mask, tokens)
    counterfactual = counterfactual or capture(model, layout, batch.cf_ids, batch.cf_mask, tokens)
    if mode == "activation":
        return _exact_activation(model, layout, batch, tokens, heads, reference, counterfactual, chunk)
    f_ref = sycophancy_fraction(reference.logits)
    by_layer = sorted(set(heads))
    per_group = max(1, chunk // reference.logits.shape[0])  # variants (rows of B prompts) run together
    scores = {}
    for start in range(0, len(by_layer), per_group):
        group = by_layer[start : start + per_group]
        f = _path_variants(model, layout, group, reference, counterfactual, tokens)  # (len(group), B)
        scores.update(zip(group, _relative(f, f_ref)))
    return _to_grid(layout, heads, [scores[hd] for hd in heads])


def _path_variants(model, layout, heads, reference: Capture, counterfactual: Capture, tokens) -> torch.Tensor:
    """F of every path-patched variant of `heads` (sorted by layer): (len(heads), B).

    One sweep up the layers for all of them: a head's variant joins at its own layer
    and then runs each later block with its attention frozen, alongside the variants
    that joined below it (one matrix product per block and weight, not one per head)."""
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
    return sycophancy_fraction(unembed_pair(model, layout, x, tokens))


def _exact_activation(
    model, layout, batch, tokens, heads, reference, counterfactual, chunk, cache_budget: int = 1 << 30
):
    """Nothing frozen: every variant is one cached step of the final token through all layers."""
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
    f_ref = sycophancy_fraction(reference.logits)
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
        f_rows[start : start + len(part)] = sycophancy_fraction(_pair_logits(out.logits[:, -1], tokens)).to(ids.device)
    f = f_rows.view(len(heads), n_prompts)
    return _to_grid(layout, heads, _relative(f, f_ref).cpu())


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


def estimate(model, layout, batch: Batch, tokens, mode="path", reference=None, counterfactual=None) -> torch.Tensor:
    """Attribution patching: first-order estimates of every head's score from one backward pass."""
    reference = reference or capture(model, layout, batch.ref_ids, batch.ref_mask, tokens)
    counterfactual = counterfactual or capture(model, layout, batch.cf_ids, batch.cf_mask, tokens)
    f_ref = sycophancy_fraction(reference.logits)
    with torch.enable_grad():
        if mode == "path":
            leaves = [z.clone().requires_grad_(True) for z in reference.o_in]  # the final position's head outputs
            x = reference.block_in[0]
            for l in range(layout.n_layers):  # attention outputs move only with their own heads
                with materialised(model.get_submodule(layout.module_name(l, "o"))):
                    w = layout.o_columns(model, l).flatten(1)  # (d, H*hd)
                    a = reference.attn_out[l].to(w.device) + (leaves[l] - reference.o_in[l]).to(w.device) @ w.T
                x = block_frozen(model, layout, l, x, a)
            f = sycophancy_fraction(unembed_pair(model, layout, x, tokens))
        else:
            # zeros added to the final position's head outputs: their gradient is F's total derivative there,
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
            f = sycophancy_fraction(forward_final(model, batch.ref_ids, batch.ref_mask, tokens, installs))
        grads = torch.autograd.grad(f.sum(), leaves)
    est = torch.empty(layout.n_layers, layout.n_heads)
    for l in range(layout.n_layers):
        dz = (wide(counterfactual.o_in[l]) - wide(reference.o_in[l])) * wide(grads[l])  # (B, H*hd)
        per_head = dz.view(dz.shape[0], layout.n_heads, layout.head_dim).sum(-1)  # (B, H)
        est[l] = (per_head / f_ref[:, None].to(per_head.device)).mean(0).detach().cpu()
    return est


def screen(model, layout, batch: Batch, tokens, mode="path", verify: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimates for every head, then exact scores for the `verify` most negative ones.

    Returns (scores, estimates): scores hold the exact value where verified, else the estimate."""
    reference = capture(model, layout, batch.ref_ids, batch.ref_mask, tokens)
    counterfactual = capture(model, layout, batch.cf_ids, batch.cf_mask, tokens)
    est = estimate(model, layout, batch, tokens, mode, reference, counterfactual)
    order = torch.argsort(est.flatten())[:verify].tolist()
    candidates = [(i // layout.n_heads, i % layout.n_heads) for i in order]
    checked = exact(model, layout, batch, tokens, mode, candidates, reference, counterfactual)
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
