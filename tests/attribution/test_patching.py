import pytest
import torch

from conftest import TOKENS, VOCAB, make_batch, tiny_model
from pinpoint.attribution import patching, readout
from pinpoint.models.heads import HeadLayout


@pytest.mark.parametrize("mode", ["path", "activation"])
@pytest.mark.parametrize("arch", ["llama", "qwen2", "llama_mha", "gemma", "gpt2", "gpt_neox", "gpt_neox_seq"])
def test_exact_equals_naive(arch, mode):
    model = tiny_model(arch).double()
    layout = HeadLayout.of(model)
    batch = make_batch()
    subject = readout.Subject(model, layout, TOKENS)
    slow = patching.naive(subject, batch, mode)
    fast = patching.exact(subject, batch, mode, chunk=7)  # small chunks: cache splitting too
    assert not torch.isnan(slow).any()
    torch.testing.assert_close(fast, slow, atol=1e-9, rtol=0)


def test_exact_equals_naive_in_float32_within_1e_5():
    model = tiny_model("mistral")
    layout = HeadLayout.of(model)
    batch = make_batch(1)
    subject = readout.Subject(model, layout, TOKENS)
    naive = patching.naive(subject, batch)
    assert naive.abs().max() > 1e-3  # scores that mean something: the check below could not pass on zeros
    torch.testing.assert_close(patching.exact(subject, batch), naive, atol=1e-5, rtol=0)


def test_path_and_activation_differ_but_agree_in_the_last_layer():
    model = tiny_model("llama").double()
    layout = HeadLayout.of(model)
    batch = make_batch()
    subject = readout.Subject(model, layout, TOKENS)
    path = patching.exact(subject, batch, "path")
    act = patching.exact(subject, batch, "activation")
    torch.testing.assert_close(path[-1], act[-1])  # nothing later to freeze
    assert not torch.allclose(path[0], act[0])


@pytest.mark.parametrize("mode", ["path", "activation"])
@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_screen_estimates_track_exact_scores(arch, mode):
    model = tiny_model(arch).double()
    layout = HeadLayout.of(model)
    # a small patch keeps the first-order estimate close: counterfactual = reference with one token changed
    batch = make_batch()
    batch.cf_ids, batch.cf_mask = batch.ref_ids.clone(), batch.ref_mask.clone()
    batch.cf_ids[:, -2] = (batch.cf_ids[:, -2] + 1) % VOCAB
    subject = readout.Subject(model, layout, TOKENS)
    exact = patching.exact(subject, batch, mode).flatten()
    scores, est = patching.screen(subject, batch, mode, verify=4)
    corr = torch.corrcoef(torch.stack([exact, est.flatten()]))[0, 1]
    assert corr > 0.8, corr
    verified = ~torch.isclose(scores.flatten(), est.flatten())
    torch.testing.assert_close(scores.flatten()[verified], exact[verified])


def test_select_takes_the_most_negative_heads():
    scores = torch.tensor([[0.1, -0.5], [-0.2, 0.0]])
    assert patching.select(scores, 2) == [(0, 1), (1, 0)]
    assert patching.select(scores, 1, among=[(1, 0), (1, 1)]) == [(1, 0)]


def test_a_counterfactual_that_does_not_lower_f_is_refused():
    from pinpoint.attribution import select
    from pinpoint.errors import UserError
    from pinpoint.params import AttributeParams

    attr = AttributeParams(min_f_drop=0.05)
    select.check_counterfactual(0.9, 0.3, attr)  # a clear drop passes
    with pytest.raises(
        UserError, match=r"attribute\.counterfactual: 'affirmation' does not lower F .* try question_only"
    ):
        select.check_counterfactual(0.6, 0.58, attr)
