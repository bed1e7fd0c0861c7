"""The families added to pinpoint.models.heads.ARCHS beyond the original ones (Qwen 3, Gemma 2, Gemma 3 text,
Phi-3, OLMo 2), on tiny models built from configs: exact path patching follows each family's residual
structure, SPT's slices are each head's own, and LoRA/SFT train; plus the bf16 path on the CPU."""

import pytest
import torch

from conftest import GQA, TOKENS, VOCAB, make_batch, ragged_examples, tiny_config, tiny_model
from pinpoint.attribution import patching, readout
from pinpoint.errors import UnsupportedArchitecture
from pinpoint.models.heads import HeadLayout
from pinpoint.models.hooks import Hook, hooks
from pinpoint.tuning import frozen_prefix, job, loop
from pinpoint.tuning import head_deltas as deltas

# --------------------------------------------------------------------------- geometry


def test_layout_reads_each_family(family):
    layout = HeadLayout.of(tiny_config(family))
    assert (layout.n_layers, layout.n_heads, layout.gqa) == (3, 4, family in GQA)
    assert layout.head_dim == (16 if family in ("qwen3", "gemma2", "gemma3") else 8)
    assert layout.logit_softcap == (3.0 if family in ("gemma2", "gemma3") else None)
    assert not layout.parallel_residual


def test_phi3_fused_qkv_slices_partition_the_rows_with_gqa():
    layout = HeadLayout.of(tiny_config("phi3"))  # 4 query heads, 2 KV heads, head_dim 8
    rows = layout.n_heads * layout.head_dim + 2 * layout.n_kv_heads * layout.head_dim  # qkv_proj's 64 rows
    assert tiny_model("phi3").model.layers[0].self_attn.qkv_proj.weight.shape[0] == rows
    assert layout.k_index(0)[0] == 32 and layout.v_index(0)[0] == 48 and layout.v_index(3)[-1] == rows - 1
    q = {i for h in range(4) for i in layout.q_index(h)}
    k = {i for h in range(4) for i in layout.k_index(h)}
    v = {i for h in range(4) for i in layout.v_index(h)}
    assert len(q) + len(k) + len(v) == rows and q | k | v == set(range(rows))


def test_lora_targets_are_the_attention_projections_only():
    for family in ("phi3", "gemma2", "olmo2"):
        model = tiny_model(family)
        layout = HeadLayout.of(model)
        peft_model, trainable, _ = job.prepare("lora", model, layout, [])
        adapted = {n.split(".lora_")[0].rsplit(".", 1)[1] for n, p in peft_model.named_parameters() if p.requires_grad}
        expected = {"qkv_proj", "o_proj"} if family == "phi3" else {"q_proj", "k_proj", "v_proj", "o_proj"}
        assert adapted == expected, family  # Phi-3's fused gate_up_proj is an MLP weight: no adapter


def test_unsupported_variants_say_why():
    import transformers as tf

    with pytest.raises(UnsupportedArchitecture, match="image-text model.*gemma3_text"):
        HeadLayout.of(tf.Gemma3Config())
    bidirectional = tiny_config("gemma3")
    bidirectional.use_bidirectional_attention = True
    with pytest.raises(UnsupportedArchitecture, match="needs causal attention"):
        HeadLayout.of(bidirectional)


# --------------------------------------------------------------------------- exact path patching


def test_block_frozen_is_the_block(family):
    """The residual structure alone: block l's output from its input and its attention output
    is the next block's input (and, after the last block, gives the model's logits)."""
    model = tiny_model(family).double()
    layout = HeadLayout.of(model)
    batch = make_batch()
    ref = readout.capture(model, layout, batch.ref_ids, batch.ref_mask, TOKENS)
    with torch.no_grad():
        x = ref.block_in[0]
        for l in range(layout.n_layers):
            x = readout.block_frozen(model, layout, l, ref.block_in[l], ref.attn_out[l])
            if l + 1 < layout.n_layers:
                torch.testing.assert_close(x, ref.block_in[l + 1], atol=1e-12, rtol=0)
        torch.testing.assert_close(readout.unembed_pair(model, layout, x, TOKENS), ref.logits, atol=1e-12, rtol=0)


@pytest.mark.parametrize("mode", ["path", "activation"])
def test_exact_equals_naive(family, mode):
    model = tiny_model(family).double()
    layout = HeadLayout.of(model)
    batch = make_batch()
    subject = readout.Subject(model, layout, TOKENS)
    slow = patching.naive(subject, batch, mode)
    fast = patching.exact(subject, batch, mode, chunk=7)  # small chunks: cache splitting too
    assert not torch.isnan(slow).any()
    assert slow.abs().max() > 1e-4  # the patches move F: the comparison is not of zeros
    torch.testing.assert_close(fast, slow, atol=1e-9, rtol=0)


@pytest.mark.parametrize("mode", ["path", "activation"])
def test_screen_agrees_with_exact(family, mode):
    model = tiny_model(family).double()
    layout = HeadLayout.of(model)
    # a small patch keeps the first-order estimate close: counterfactual = reference with one token changed,
    # three from the end (the one before the last moves Gemma 3's tiny model too far for a linear estimate)
    batch = make_batch()
    batch.cf_ids, batch.cf_mask = batch.ref_ids.clone(), batch.ref_mask.clone()
    batch.cf_ids[:, -3] = (batch.cf_ids[:, -3] + 1) % VOCAB
    subject = readout.Subject(model, layout, TOKENS)
    exact = patching.exact(subject, batch, mode)
    scores, est = patching.screen(subject, batch, mode, verify=4)
    corr = torch.corrcoef(torch.stack([exact.flatten(), est.flatten()]))[0, 1]
    assert corr > 0.8, corr
    among = [divmod(int(i), layout.n_heads) for i in torch.argsort(est.flatten())[:4]]  # the heads it verified
    for l, h in among:
        torch.testing.assert_close(scores[l, h], exact[l, h])
    assert patching.select(scores, 2, among) == patching.select(exact, 2)  # the top 2 found and ranked exactly


def test_activation_estimates_are_the_gradient_through_later_attention():
    """Activation-mode estimates are F's first-order change with every later layer's attention free: a
    central difference along the patch, not the frozen-attention (path) estimate."""
    model = tiny_model("gemma2").double()
    layout = HeadLayout.of(model)
    batch = make_batch()
    subject = readout.Subject(model, layout, TOKENS)
    captures = readout.Captures.of(subject, batch)
    ref, cf = captures.reference, captures.counterfactual
    act = patching.estimate(subject, batch, "activation", captures)
    path = patching.estimate(subject, batch, "path", captures)
    torch.testing.assert_close(act[-1], path[-1])  # nothing later to free
    l, h = divmod(int((act - path)[:-1].abs().argmax()), layout.n_heads)
    cols = list(layout.o_index(h))
    f_ref = readout.sycophancy_fraction(ref.logits)

    def relative_f(eps):  # the head's final-position output moved eps of the way to the counterfactual's
        def patch(m, a):
            z = a[0].clone()
            z[:, -1, cols] += eps * (cf.o_in[l][:, cols] - ref.o_in[l][:, cols])
            return (z, *a[1:])

        o = model.get_submodule(layout.module_name(l, "o"))
        with torch.no_grad():
            f = readout.forward_final(model, batch.ref_ids, batch.ref_mask, TOKENS, [Hook(o, patch)])
        return (readout.sycophancy_fraction(f) / f_ref).mean()

    derivative = float(relative_f(1e-2) - relative_f(-1e-2)) / 2e-2
    assert abs(act[l, h] - path[l, h]) > 0.1 * abs(derivative)  # the two modes differ at this head
    assert derivative == pytest.approx(float(act[l, h]), rel=2e-2)


# --------------------------------------------------------------------------- SPT's slices


def capture_o_input(model, layout, layer, ids):
    seen = {}
    o = model.get_submodule(layout.module_name(layer, "o"))
    with torch.no_grad(), hooks(Hook(o, lambda m, a: seen.__setitem__("z", a[0].detach().clone()))):
        model(ids)
    return seen["z"]


@pytest.mark.parametrize("part", ["q", "k", "v"])
def test_editing_a_heads_slice_changes_that_head_only(family, part):
    model = tiny_model(family)
    layout = HeadLayout.of(model)
    ids = torch.randint(0, VOCAB, (2, 9))
    z0 = capture_o_input(model, layout, 2, ids)
    head = 1
    index = list(getattr(layout, f"{part}_index")(head))
    w = layout.weight(model.get_submodule(layout.module_name(2, part)))
    with torch.no_grad():
        w[index] += torch.randn(len(index), w.shape[1])
    z1 = capture_o_input(model, layout, 2, ids)
    changed = {
        h
        for h in range(layout.n_heads)
        if not torch.allclose(z0[..., list(layout.o_index(h))], z1[..., list(layout.o_index(h))], atol=1e-6)
    }
    if part != "v" and family == "olmo2":
        # one RMS over every head's q (k): a head's rows rescale them all, which is why SPT leaves them alone
        assert changed == set(range(layout.n_heads))
        return
    group = {h for h in range(layout.n_heads) if layout.group(h) == layout.group(head)}
    assert changed == ({head} if part == "q" else group), part  # k/v: the GQA group reading them


def test_head_slices_are_what_each_family_can_train_alone(family):
    layout = HeadLayout.of(tiny_config(family))
    parts = [(s.module.rsplit(".", 1)[1], s.side) for s in layout.head_slices(1, 2)]
    q, k, v, o = (layout.arch.q, "out"), (layout.arch.k, "out"), (layout.arch.v, "out"), (layout.arch.o, "in")
    expected = {"olmo2": [v, o], "phi3_mha": [q, k, v, o]}.get(family, [q, o])
    assert parts == expected
    assert [s.side for s in layout.head_slices(1, 2, "o")] == ["in"]


def train_spt(family, heads, fast=True, steps=3):
    model = tiny_model(family)
    layout = HeadLayout.of(model)
    model, trainable, wrapped = job.prepare("spt", model, layout, heads)
    recipe = loop.Recipe(steps=steps, lr=1e-2, weight_decay=0.1)
    curve = job.train_examples(model, trainable, ragged_examples(), recipe, job.Batching(8, 0), job.LossPath(fast))
    return model, layout, wrapped, trainable, curve


def test_spt_changes_only_the_selected_slices_and_merges_exactly(family):
    heads = [(1, 2), (2, 0)]
    base = tiny_model(family)
    model, layout, wrapped, trainable, _ = train_spt(family, heads)
    assert all(p.dtype == torch.float32 and p.abs().max() > 0 for p in trainable)  # every delta moved
    ids = torch.randint(0, VOCAB, (2, 9))
    with torch.no_grad():
        wrapped_logits = model(ids).logits
    merged = deltas.merge(model, layout, wrapped)
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, wrapped_logits, atol=1e-5, rtol=1e-5)
    owned = {}  # module -> (rows, cols) that the selected heads own
    for l, h in heads:
        for s in layout.head_slices(l, h):
            rows, cols = owned.setdefault(s.module, (set(), set()))
            (rows if s.side == "out" else cols).update(s.index)
    base_params = dict(base.named_parameters())
    for name, p in merged.named_parameters():
        module = name.rsplit(".", 1)[0]
        if module not in owned or not name.endswith("weight"):
            assert torch.equal(p, base_params[name]), name
            continue
        rows, cols = owned[module]
        allowed = torch.zeros(p.shape, dtype=torch.bool)
        allowed[sorted(rows)] = True
        allowed[:, sorted(cols)] = True
        diff = p != base_params[name]
        assert diff.any() and not (diff & ~allowed).any(), name


def test_the_fast_loop_trains_as_the_plain_one(family):
    model, _, _, fast_params, fast_curve = train_spt(family, [(1, 2), (2, 0)], fast=True)
    decoder = frozen_prefix.Decoder(model, 100)
    assert decoder.depth == 1 and decoder.caching  # layer 0 is the cached frozen prefix
    _, _, _, plain_params, plain_curve = train_spt(family, [(1, 2), (2, 0)], fast=False)
    for a, b in zip(fast_params, plain_params, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    for a, b in zip(fast_curve, plain_curve, strict=True):
        assert abs(a["loss"] - b["loss"]) <= 1e-5, (a, b)


@pytest.mark.parametrize("method", ["lora", "sft"])
def test_lora_and_sft_train_a_step(family, method):
    model = tiny_model(family)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model, trainable, _ = job.prepare(method, model, HeadLayout.of(model), [])
    curve = job.train_examples(model, trainable, ragged_examples(), loop.Recipe(steps=2, lr=1e-2), job.Batching(8, 0))
    assert len(curve) == 2 and all(c["loss"] == c["loss"] for c in curve)  # no NaN
    if method == "sft":
        assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())
    else:  # LoRA's B starts at zero: after two steps the adapters add something
        assert any(p.abs().max() > 0 for n, p in model.named_parameters() if "lora_B" in n)


# --------------------------------------------------------------------------- bf16 on the CPU


@pytest.mark.parametrize("mode", ["path", "activation"])
def test_bf16_exact_equals_naive_within_bf16_tolerance(mode):
    # larger weights than the default init: scores up to 0.1, so that the tolerance is not larger than they are
    model = tiny_model("llama", initializer_range=0.1).to(torch.bfloat16)
    layout = HeadLayout.of(model)
    batch = make_batch()
    subject = readout.Subject(model, layout, TOKENS)
    slow = patching.naive(subject, batch, mode)
    fast = patching.exact(subject, batch, mode, chunk=7)
    assert not torch.isnan(slow).any() and slow.abs().max() > 5e-2
    torch.testing.assert_close(fast, slow, atol=1e-2, rtol=0)
    f64_subject = readout.Subject(tiny_model("llama", initializer_range=0.1).double(), layout, TOKENS)
    f64 = patching.exact(f64_subject, batch, mode)
    torch.testing.assert_close(fast, f64, atol=1e-2, rtol=0)  # and both near the float64 scores
    scores, est = patching.screen(subject, batch, mode, verify=4)
    assert torch.isfinite(scores).all() and torch.isfinite(est).all() and est.dtype == torch.float32


def test_bf16_weights_train_spt():
    model = tiny_model("llama").to(torch.bfloat16)
    layout = HeadLayout.of(model)
    heads = [(1, 2), (2, 0)]
    model, trainable, wrapped = job.prepare("spt", model, layout, heads)
    curve = job.train_examples(model, trainable, ragged_examples(), loop.Recipe(steps=3, lr=1e-2), job.Batching(8, 0))
    assert all(torch.isfinite(torch.tensor(c["loss"])) for c in curve)
    assert all(p.dtype == torch.float32 and p.abs().max() > 0 for p in trainable)  # fp32 deltas moved
    merged = deltas.merge(model, layout, wrapped)
    assert all(p.dtype == torch.bfloat16 for p in merged.parameters())
