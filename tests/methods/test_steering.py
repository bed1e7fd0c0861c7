"""Steering (the training-free baselines): multiplier 0 is the base exactly, a steered model's hooks are gone
once released, the merged bias gives the steered logits, and the direction's sign is honest minus sycophantic."""

import pytest
import torch

from conftest import VOCAB, tiny_model
from pinpoint.models.heads import HeadLayout
from pinpoint.tuning import steering


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


IDS = torch.randint(3, VOCAB, (2, 7), generator=torch.Generator().manual_seed(0))


def test_multiplier_zero_is_the_base_exactly_and_release_removes_the_hooks(arch):
    model = tiny_model(arch)
    layout = HeadLayout.of(model)
    before = logits(model, IDS)
    hidden = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.n_embd
    residual = {1: torch.randn(hidden)}
    heads = {(1, 0): torch.randn(layout.head_dim), (2, 3): torch.randn(layout.head_dim)}
    steering.steered(model, layout, residual, heads, 0.0)
    assert torch.equal(logits(model, IDS), before)
    steering.steered(model, layout, residual, heads, 2.0)
    assert not torch.allclose(logits(model, IDS), before)
    steering.release(model)
    assert torch.equal(logits(model, IDS), before)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("which", ["residual", "heads"])
def test_the_merged_bias_gives_the_steered_logits(which):
    model = tiny_model("llama")
    layout = HeadLayout.of(model)
    residual = {1: torch.randn(32)} if which == "residual" else {}
    heads = {(2, 1): torch.randn(layout.head_dim)} if which == "heads" else {}
    steered = logits(steering.steered(model, layout, residual, heads, 3.0), IDS)
    steering.release(model)
    merged = steering.bake(
        model, layout, {l: 3.0 * v for l, v in residual.items()}, {h: 3.0 * v for h, v in heads.items()}
    )
    torch.testing.assert_close(logits(merged, IDS), steered, atol=1e-5, rtol=1e-5)


def test_a_model_without_bias_flags_cannot_be_merged():
    model = tiny_model("gpt2")
    with pytest.raises(ValueError, match="has no mlp_bias"):
        steering.bake(model, HeadLayout.of(model), {0: torch.zeros(32)}, {})


def test_the_direction_points_from_sycophantic_to_honest():
    means = torch.tensor([[[1.0, 0.0]], [[1.2, 0.1]], [[-1.0, 0.0]], [[-0.8, 0.1]]])  # (pairs, layers, d)
    sycophantic = torch.tensor([False, False, True, True])
    vector = steering.direction(means, sycophantic)
    assert vector[0, 0] > 0  # honest minus sycophantic
    assert steering.separation(means, sycophantic, vector)[0] > 5
    with pytest.raises(ValueError, match="both honest and sycophantic"):
        steering.direction(means, torch.tensor([True] * 4))


def test_steering_toward_honesty_keeps_more_right_answers_on_the_organism(reduced_organism):
    """The sign: the direction from the organism's own caving replies to its own keeping ones, added, keeps more
    right answers after a challenge than the same direction subtracted."""
    from pinpoint import prompts
    from pinpoint.models import challenge, loading
    from pinpoint.organism.world import World
    from pinpoint.verdict import Answer

    directory, _, _ = reduced_organism
    model, tokenizer = loading.load(directory, device="cpu")
    layout = HeadLayout.of(model)
    world = World.from_json(__import__("json").loads((directory / "world.json").read_text()))
    sums = world.sums("taught")[:24]
    pairs, sycophantic = [], []
    for x, y in sums:  # the organism's own two replies: "Yes, I am sure. ..." and "Apologies, I made a mistake. ..."
        text = prompts.render(
            prompts.challenge_dialogue(prompts.question(x, y), prompts.answer(x, y, x + y), prompts.CHALLENGE)
        )
        for reply, syc in (
            (prompts.keep_response(x, y, x + y), False),
            (prompts.cave_response(x, y, x + y + 1), True),
        ):
            pairs.append({"prompt": text, "reply": " " + reply})
            sycophantic.append(syc)
    means = steering.residual_means(model, layout, tokenizer, pairs)
    directions = steering.direction(means, torch.tensor(sycophantic))
    layer = int(torch.argmax(steering.separation(means, torch.tensor(sycophantic), directions)))
    items = [
        challenge.Challenged(
            prompts.question(x, y),
            prompts.answer(x, y, x + y),
            prompts.CHALLENGE,
            Answer(str(x + y), None, (), f"{x} + {y}"),
        )
        for x, y in sums
    ]

    def maintained(multiplier):
        steering.steered(model, layout, {layer: directions[layer]}, None, multiplier)
        judged = challenge.measure(challenge.Respondent(model, tokenizer, "plain"), items, challenge.Budget(12, 16))
        steering.release(model)
        return sum(v.outcome == "maintains" for _, v in judged)

    assert maintained(4.0) > maintained(-4.0)


@pytest.mark.parametrize(
    ("scores", "chosen", "warned"),
    [
        ({0.5: 0.4, 1.0: 0.3, 2.0: 0.2}, 0.5, "smallest"),  # better than its neighbour: the best may lie below
        ({1.0: 0.2, 2.0: 0.3, 8.0: 0.5}, 8.0, "largest"),
        ({1.0: 0.2, 2.0: 0.5, 8.0: 0.3}, 2.0, None),  # inside the grid
        ({1.0: 0.2, 2.0: 0.2, 8.0: 0.1}, 1.0, None),  # a tie with its neighbour: the tie-break chose, not the edge
        ({4.0: 0.2}, 4.0, None),  # one value, fixed by the user: nothing to widen
    ],
)
def test_a_multiplier_chosen_at_the_grids_edge_is_said(capsys, scores, chosen, warned):
    from pinpoint.tuning.choice import warn_if_at_edge

    warn_if_at_edge("tune.steer.multipliers", scores, chosen)
    err = capsys.readouterr().err
    if warned is None:
        assert err == ""
    else:
        assert f"grid's {warned} value ({chosen})" in err and "tune.steer.multipliers" in err
