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
    verified = torch.argsort(est.flatten())[:4]  # the heads it verified: exact there
    torch.testing.assert_close(scores.flatten()[verified], exact[verified])


@pytest.mark.parametrize("mode", ["path", "activation"])
def test_the_saturation_correction_recovers_what_a_saturated_f_hides(mode):
    """Where F sits near 0 or 1 its gradient vanishes: the first-order estimate of F misses a patch that moves the
    logits a lot; linearising the logit difference and reading F through the sigmoid does not."""
    model = tiny_model("llama").double()
    layout = HeadLayout.of(model)
    batch = make_batch()
    with torch.no_grad():  # the sycophantic token's row pushed along the final residual: F near 1 on every prompt
        out = model(input_ids=batch.ref_ids, attention_mask=batch.ref_mask, output_hidden_states=True)
        final = model.model.norm(out.hidden_states[-1][:, -1]).mean(0)
        model.lm_head.weight[TOKENS[0]] += 6.0 * final / final.dot(final)
    subject = readout.Subject(model, layout, TOKENS)
    captures = readout.Captures.of(subject, batch)
    assert (readout.sycophancy_fraction(captures.reference.logits) > 0.9).all()
    exact = patching.exact(subject, batch, mode, captures=captures).flatten()
    corrected = patching.estimate(subject, batch, mode, captures).flatten()
    plain = patching.estimate(subject, batch, mode, captures, saturation=False).flatten()
    assert (corrected - exact).abs().mean() < 0.7 * (plain - exact).abs().mean()


def test_select_takes_the_most_negative_heads():
    scores = torch.tensor([[0.1, -0.5], [-0.2, 0.0]])
    assert patching.select(scores, 2) == [(0, 1), (1, 0)]
    assert patching.select(scores, 1, among=[(1, 0), (1, 1)]) == [(1, 0)]
