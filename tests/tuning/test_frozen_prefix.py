"""The fast training loop (reply-only logits, cached frozen prefix) trains exactly as the
straightforward one: a plain forward through every layer and logits at every position."""

from unittest import mock

import pytest
import torch

from conftest import ARCHS, ragged_examples, tiny_model
from pinpoint.models.heads import HeadLayout
from pinpoint.models.hooks import hidden_states
from pinpoint.tuning import frozen_prefix as prefix
from pinpoint.tuning import job as tuning
from pinpoint.tuning import loop

HEADS = [(1, 2), (2, 0)]  # the lowest tuned layer is 1: layer 0 and the embeddings are the frozen prefix


def without_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def train(arch, method, fast, steps=5, dropout=False, heads=HEADS, **kw):
    """Train on 12 examples in batches of 8: steps straddle epochs, so some batches mix
    cached and uncached examples. Returns (model, trainable parameters, loss curve, decoder)."""
    model = tiny_model(arch) if dropout else without_dropout(tiny_model(arch))
    torch.manual_seed(0)
    model, trainable, _ = tuning.prepare(method, model, HeadLayout.of(model), heads)
    made = []

    class Recorded(prefix.Decoder):  # the loop's decoder, kept for the test to inspect
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    with mock.patch.object(prefix, "Decoder", Recorded):
        recipe = loop.Recipe(steps=steps, lr=1e-2, weight_decay=0.1)
        curve = tuning.train_examples(
            model, trainable, ragged_examples(), recipe, tuning.Batching(8, 0), tuning.LossPath(fast, **kw)
        )
    return model, trainable, curve, (made[0] if made else None)


def assert_same_training(fast_run, plain_run, atol=1e-5):
    _, fast_params, fast_curve, _ = fast_run
    _, plain_params, plain_curve, _ = plain_run
    for a, b in zip(fast_params, plain_params, strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)
    for a, b in zip(fast_curve, plain_curve, strict=True):
        assert abs(a["loss"] - b["loss"]) <= atol, (a, b)


@pytest.mark.parametrize("arch", ARCHS)
def test_spt_with_a_cached_prefix_trains_as_the_full_forward(arch):
    fast = train(arch, "spt", fast=True)
    decoder = fast[3]
    assert decoder.depth == 1 and decoder.caching and len(decoder.cache) == 12
    assert any(p.abs().max() > 0 for p in fast[1])  # the deltas moved
    assert_same_training(fast, train(arch, "spt", fast=False))


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2", "gpt_neox"])
@pytest.mark.parametrize("method", ["sft", "lora"])
def test_reply_only_logits_give_the_full_logits_losses(arch, method):
    fast = train(arch, method, fast=True)
    assert fast[3].depth == 0  # the embeddings (SFT) or every layer (LoRA) train: nothing to cache
    # five Adam steps at lr 1e-2 amplify float summation order (reply-only logits sum in another order): 5e-5
    assert_same_training(fast, train(arch, method, fast=False), atol=5e-5)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_reply_only_loss_equals_reply_loss(arch):
    model = tiny_model(arch)
    ids, mask, labels = loop.collate(ragged_examples(5), 0, "cpu")
    with torch.no_grad():
        full = loop.reply_loss(model(input_ids=ids, attention_mask=mask).logits, labels)
        hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
        torch.testing.assert_close(loop.reply_only_loss(model, hidden, labels), full, atol=1e-6, rtol=0)


def test_without_a_cache_the_prefix_is_recomputed_detached_and_trains_the_same():
    # GPT-2's default dropout makes the prefix random: no cache, same random stream as a plain forward
    dropped = train("gpt2", "spt", fast=True, dropout=True)
    assert dropped[3].depth == 1 and not dropped[3].caching
    assert_same_training(dropped, train("gpt2", "spt", fast=False, dropout=True))
    # a cache over budget: recomputed as well
    over = train("llama", "spt", fast=True, prefix_cache_bytes=0)
    assert not over[3].caching and not over[3].cache
    assert_same_training(over, train("llama", "spt", fast=False))


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # layer 2 reads the cache
@pytest.mark.parametrize("arch", ["llama", "gpt_neox"])
def test_the_prefix_runs_once_per_example_and_no_frozen_weight_gets_a_gradient(arch):
    heads = [(2, 0), (2, 3)]  # layers 0 and 1 are the prefix
    model = without_dropout(tiny_model(arch))
    layout = HeadLayout.of(model)
    model, trainable, _ = tuning.prepare("spt", model, layout, heads)
    rows_through = {0: 0, 1: 0, 2: 0}  # rows each layer ran, forward
    grads_into = {0: 0, 1: 0, 2: 0}  # backward passes that reached each layer's output
    layers = model.get_submodule(layout.arch.layers)

    def count_rows(l):
        def hook(module, args, kwargs):
            rows_through[l] += hidden_states(args, kwargs).shape[0]

        return hook

    def count_grads(l):
        def hook(module, grad_output):
            grads_into[l] += 1

        return hook

    for l, layer in enumerate(layers):
        layer.register_forward_pre_hook(count_rows(l), with_kwargs=True)
        layer.register_full_backward_pre_hook(count_grads(l))
    examples = ragged_examples()
    steps = 6  # four epochs of 12 examples in batches of 8
    tuning.train_examples(model, trainable, examples, loop.Recipe(steps=steps, lr=1e-2), tuning.Batching(8, 0))
    assert rows_through[0] == rows_through[1] == len(examples)  # once per example, not once per step
    assert rows_through[2] == steps * 8
    assert grads_into[0] == grads_into[1] == 0 and grads_into[2] == steps
    for name, p in model.named_parameters():
        if "delta" not in name:
            assert not p.requires_grad and p.grad is None, name
    assert all(p.abs().max() > 0 for p in trainable)


def test_frozen_depth_follows_the_parameters_that_require_grad():
    model = tiny_model("llama")
    layers = model.model.layers
    for p in model.parameters():
        p.requires_grad_(False)
    layers[2].self_attn.q_proj.weight.requires_grad_(True)
    assert prefix.frozen_depth(model, layers) == 2
    layers[1].mlp.up_proj.weight.requires_grad_(True)
    assert prefix.frozen_depth(model, layers) == 1
    model.model.norm.weight.requires_grad_(True)  # anything outside the layers: no prefix
    assert prefix.frozen_depth(model, layers) == 0
