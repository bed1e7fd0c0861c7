"""Mean ablation (pinpoint.attribution.ablation): an ablated head outputs its mean (everywhere, or where the reply is
decided and nowhere in the prompt), the others are untouched, and the hooks leave with the block."""

import torch

from conftest import TOKENS, make_batch, tiny_model
from pinpoint.attribution import ablation, readout
from pinpoint.models.heads import HeadLayout
from pinpoint.models.hooks import Hook, hooks


def o_inputs(model, layout, ids, mask):
    """Every layer's o_proj input (B, T, H*hd) on one run."""
    grabbed = {}
    installs = [
        Hook(model.get_submodule(layout.module_name(l, "o")), lambda m, a, l=l: grabbed.__setitem__(l, a[0].clone()))
        for l in range(layout.n_layers)
    ]
    with hooks(*installs):
        model(input_ids=ids, attention_mask=mask)
    return grabbed


def test_an_ablated_head_outputs_its_mean_and_no_other_head_moves_in_its_layer():
    model = tiny_model("llama")
    layout = HeadLayout.of(model)
    batch = make_batch()
    means = ablation.head_means(model, layout, [batch], TOKENS)
    assert len(means) == layout.n_layers and means[0].shape == (layout.n_heads * layout.head_dim,)
    before = o_inputs(model, layout, batch.ref_ids, batch.ref_mask)
    with ablation.mean_ablated(model, layout, [(1, 2)], means, everywhere=True):
        after = o_inputs(model, layout, batch.ref_ids, batch.ref_mask)
    cols = list(layout.o_index(2))
    assert torch.equal(after[1][..., cols], means[1][cols].expand_as(after[1][..., cols]))
    others = [c for c in range(layout.n_heads * layout.head_dim) if c not in cols]
    torch.testing.assert_close(after[1][..., others], before[1][..., others])
    torch.testing.assert_close(after[0], before[0])  # layers below it: untouched
    assert not torch.allclose(after[2], before[2])  # layers above it read the change
    again = o_inputs(model, layout, batch.ref_ids, batch.ref_mask)
    torch.testing.assert_close(again[1], before[1])  # the hooks left with the block


def test_the_means_are_over_the_counterfactual_prompts_at_the_final_position():
    model = tiny_model("llama")
    layout = HeadLayout.of(model)
    batch = make_batch()
    means = ablation.head_means(model, layout, [batch], TOKENS)
    cf = readout.capture(model, layout, batch.cf_ids, batch.cf_mask, TOKENS).o_in[0]
    torch.testing.assert_close(means[0], cf.mean(0))


def test_where_the_reply_is_decided_the_prompt_is_read_as_it_was():
    """Ablated after the prompt: a greedy reply's first token changes with the head, the prompt's cache does not."""
    from pinpoint.models import shared_prefix

    model = tiny_model("llama")
    layout = HeadLayout.of(model)
    batch = make_batch()
    means = [m + 3.0 for m in ablation.head_means(model, layout, [batch], TOKENS)]  # far from what it outputs
    prompts = [row[mask.bool()].tolist() for row, mask in zip(batch.ref_ids, batch.ref_mask)]
    seen = []
    spy = Hook(model.get_submodule(layout.module_name(0, "o")), lambda m, a: seen.append(a[0].shape[1]))
    rows = shared_prefix.rows(model, prompts, 0)
    read = rows.cache.layers[1].keys.clone()
    plain = rows.forward(model).logits[:, -1]
    with hooks(spy), ablation.mean_ablated(model, layout, [(0, 1)], means):
        rows = shared_prefix.rows(model, prompts, 0)  # the prompts read with the ablation on: not ablated
        torch.testing.assert_close(rows.cache.layers[1].keys, read)
        ablated = rows.forward(model).logits[:, -1]
    assert seen[-1] == 1  # the forward after the prompt ran the last position alone
    assert not torch.allclose(plain, ablated)
    with hooks(spy):
        again = shared_prefix.rows(model, prompts, 0).forward(model).logits[:, -1]
    torch.testing.assert_close(again, plain)  # gone with the block
