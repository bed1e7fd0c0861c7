"""The sequence-level quantity S: read once per prompt (the cached prefix), it equals S read whole; patching a
head changes it as patching the whole sequence does; the first-order estimate tracks the exact change."""

import pytest
import torch

from conftest import tiny_model
from pinpoint.attribution import sequence
from pinpoint.models.heads import HeadLayout
from pinpoint.models.hooks import Hook, hooks
from pinpoint.models.tokens import encode_completion, encode_prompt, position_ids

WORDS = [f"w{i}" for i in range(50)]  # with pad, unk and eos: 53 ids, inside the tiny models' 64


@pytest.fixture(scope="module")
def tokenizer():
    from pinpoint.organism.model import build_tokenizer

    return build_tokenizer(WORDS)


def pairs(n=5, seed=0) -> list[sequence.Pair]:
    """Ragged prompts (a shared opening, as a chat template's), counterfactuals differing in their last words,
    and two replies of different lengths each."""
    g = torch.Generator().manual_seed(seed)

    def words(k):
        return " ".join(WORDS[i] for i in torch.randint(0, len(WORDS), (k,), generator=g).tolist())

    opening = "w1 w2 w3 w4 w5 w6 w7 w8 w9"
    out = []
    for i in range(n):
        body = words(3 + i)
        out.append(
            sequence.Pair(
                f"{opening} {body} {words(2)}", f"{opening} {body} {words(2 + i % 2)}", words(2 + i % 3), words(4)
            )
        )
    return out


def whole_s(model, tokenizer, prompts, syc, keep, install=None) -> torch.Tensor:
    """S read the plain way: every prompt and reply in one forward pass of its own."""
    out = []
    for p, a, b in zip(prompts, syc, keep):
        logps = []
        for reply in (a, b):
            head, tail = encode_prompt(tokenizer, p), encode_completion(tokenizer, reply)
            ids = torch.tensor([head + tail])
            with hooks(*([install(len(head) - 1)] if install else [])):
                logits = model(input_ids=ids, position_ids=position_ids(torch.ones_like(ids))).logits
            logp = torch.log_softmax(logits[0, len(head) - 1 : -1].double(), -1)
            logps.append(logp.gather(-1, torch.tensor(tail)[:, None]).sum())
        out.append(logps[0] - logps[1])
    return torch.stack(out)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2", "gpt_neox"])
def test_s_and_its_patching_equal_the_whole_reads(arch, tokenizer):
    model = tiny_model(arch).double()
    layout = HeadLayout.of(model)
    found = pairs()
    subject = sequence.SequenceSubject.of(model, layout, tokenizer, found, chunk=2)  # chunks of 2: 3 chunks
    ref, cf = [p.reference for p in found], [p.counterfactual for p in found]
    syc, keep = [p.sycophantic for p in found], [p.maintaining for p in found]
    torch.testing.assert_close(subject.s().double(), whole_s(model, tokenizer, ref, syc, keep), atol=1e-9, rtol=0)
    torch.testing.assert_close(
        subject.s(counterfactual=True).double(), whole_s(model, tokenizer, cf, syc, keep), atol=1e-9, rtol=0
    )
    head = (1, 2)
    cols = list(layout.o_index(head[1]))
    module = model.get_submodule(layout.module_name(head[0], "o"))
    for i, p in enumerate(found):  # the head's output at the final position, from the counterfactual run
        grabbed = {}

        def grab(m, a, grabbed=grabbed):
            grabbed["z"] = a[0][0, -1, cols].clone()

        ids = torch.tensor([encode_prompt(tokenizer, p.counterfactual)])
        with hooks(Hook(module, grab)):
            model(input_ids=ids)

        def install(column, z=grabbed["z"]):
            def patch(m, a):
                x = a[0].clone()
                x[0, column, cols] = z
                return (x, *a[1:])

            return Hook(module, patch)

        want = whole_s(model, tokenizer, [p.reference], [p.sycophantic], [p.maintaining], install)
        torch.testing.assert_close(subject.s(head)[i : i + 1].double(), want, atol=1e-9, rtol=0)
    assert (subject.s(head) - subject.s()).abs().max() > 1e-6  # the patch changed something: not a vacuous match


def test_the_estimate_tracks_the_exact_changes(tokenizer):
    model = tiny_model("llama").double()
    layout = HeadLayout.of(model)
    found = [  # counterfactuals one word off: a small patch, where a first-order estimate holds
        sequence.Pair(p.reference, " ".join(p.reference.split()[:-1] + ["w0"]), p.sycophantic, p.maintaining)
        for p in pairs(6)
    ]
    subject = sequence.SequenceSubject.of(model, layout, tokenizer, found, chunk=4)
    exact = sequence.exact(subject).flatten()
    estimate = sequence.estimate(subject).flatten()
    assert torch.corrcoef(torch.stack([exact, estimate]))[0, 1] > 0.8
    scores, verified = sequence.screen(subject, verify=3)
    assert len(verified) == 3
    for l, h in verified:
        torch.testing.assert_close(scores[l, h], exact.view(layout.n_layers, layout.n_heads)[l, h])
