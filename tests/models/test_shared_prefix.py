"""Reading shared beginnings once (pinpoint.models.shared_prefix) gives what reading every prompt whole gives, on every
architecture: the logits of each continuation, and greedy replies."""

import pytest
import torch

from conftest import ARCHS, FAMILIES, VOCAB, tiny_model
from pinpoint.models import shared_prefix
from pinpoint.models.tokens import forward, left_pad

PAD = 0
EVERY = ARCHS + FAMILIES


def prompts(shared: int, seed: int = 0, n: int = 4) -> list[list[int]]:
    """n prompts of different lengths that begin with the same `shared` tokens."""
    g = torch.Generator().manual_seed(seed)
    head = torch.randint(3, VOCAB, (shared,), generator=g).tolist()
    return [head + torch.randint(3, VOCAB, (2 + 3 * i % 7,), generator=g).tolist() for i in range(n)]


def whole(model, seqs: list[list[int]]) -> list[torch.Tensor]:
    """Each sequence's logits read alone, no padding: (len, vocab) each."""
    with torch.no_grad():
        return [forward(model, *left_pad([s], PAD, "cpu")).logits[0] for s in seqs]


def test_shared_length_leaves_each_prompt_its_last_token_and_ignores_short_beginnings():
    assert shared_prefix.shared_length([[1] * 12, [1] * 12]) == 11
    assert shared_prefix.shared_length([[1] * 20 + [2], [1] * 20 + [3, 4]]) == 20
    assert shared_prefix.shared_length([[1] * 5 + [2], [1] * 5 + [3]]) == 0  # below MIN_SHARED
    assert shared_prefix.shared_length([[1] * 30]) == 0  # nothing to share with


@pytest.mark.parametrize("arch", EVERY)
@pytest.mark.parametrize("shared", [0, 10])
def test_continuations_read_once_score_as_read_whole(arch, shared):
    model = tiny_model(arch)
    heads = prompts(shared)
    copies = [1, 3, 2, 1]
    g = torch.Generator().manual_seed(1)
    tails = [torch.randint(3, VOCAB, (1 + r % 3,), generator=g).tolist() for r in range(sum(copies))]
    owner = [i for i, c in enumerate(copies) for _ in range(c)]
    rows = shared_prefix.rows(model, heads, PAD, copies, tails)
    with torch.no_grad():
        logits = rows.forward(model).logits  # (rows, 1 + longest tail, vocab)
    for r, (i, tail) in enumerate(zip(owner, tails)):
        alone = whole(model, [heads[i] + tail])[0][len(heads[i]) - 1 :]  # from the prompt's last token on
        torch.testing.assert_close(logits[r, : len(tail) + 1], alone, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", EVERY)
def test_greedy_replies_with_a_shared_beginning_are_the_plain_ones(arch):
    model = tiny_model(arch)
    heads = prompts(12, seed=2)
    rows = shared_prefix.rows(model, heads, PAD)
    assert rows.cached == rows.ids.shape[1] - 1
    kw = dict(max_new_tokens=6, do_sample=False, pad_token_id=PAD, eos_token_id=None)
    with torch.no_grad():
        read_once = rows.generate(model, **kw)[:, rows.ids.shape[1] :]
        for row, p in enumerate(heads):
            ids, mask = left_pad([p], PAD, "cpu")
            alone = model.generate(input_ids=ids, attention_mask=mask, **kw)[0, len(p) :]
            assert read_once[row].tolist() == alone.tolist()


def test_tails_must_match_the_rows():
    model = tiny_model("llama")
    with pytest.raises(ValueError, match="3 tails for 2 rows"):
        shared_prefix.rows(model, prompts(0, n=2), PAD, tails=[[5], [6], [7]])
