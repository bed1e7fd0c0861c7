"""The evidence an attribution carries (pinpoint.attribution.evidence): an effect that cannot mean anything makes
it not valid, so does a top k that does not come back under resampling; the faithfulness curve compares the
selected heads with random draws; the ground truth counts the planted heads found."""

import torch

from pinpoint.attribution import evidence
from pinpoint.figures import stats
from pinpoint.models.heads import HeadLayout
from pinpoint.registry.suites import SUITES  # noqa: F401  (a torch-free import, as the stage's)


def test_an_attribution_with_no_effect_comes_out_not_valid():
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(40, generator=g) * 0.01
    nothing = evidence.effect(torch.full((40,), 0.5) + noise, torch.full((40,), 0.5))
    stable = {"top_k_jaccard": {"value": 1.0}}
    valid, why = evidence.validity(nothing, stable, min_effect=0.05, min_stability=0.5)
    assert not valid and "includes zero" in why
    small = evidence.effect(torch.full((40,), 0.52) + noise.abs(), torch.full((40,), 0.5))
    valid, why = evidence.validity(small, stable, min_effect=0.05, min_stability=0.5)
    assert not valid and "below attribute.min_effect 0.05" in why
    clear = evidence.effect(torch.full((40,), 0.9) + noise, torch.full((40,), 0.3))
    assert evidence.validity(clear, stable, 0.05, 0.5)[0]
    raises = evidence.effect(torch.full((40,), 0.3) + noise, torch.full((40,), 0.9))  # SmolLM2's affirmation
    valid, why = evidence.validity(raises, stable, 0.05, 0.5)
    assert not valid and "raises the quantity" in why
    unstable = {"top_k_jaccard": {"value": 0.2}}
    valid, why = evidence.validity(clear, unstable, 0.05, 0.5)
    assert not valid and "unstable" in why


def test_stability_of_a_clear_top_k_and_of_noise():
    g = torch.Generator().manual_seed(0)
    clear = torch.randn(2, 4, 30, generator=g) * 0.01
    clear[1, 2] -= 1.0  # one head lowers the quantity on every prompt
    found = evidence.stability(clear, k=1, resamples=50, seed=0)
    assert found["top_k_jaccard"]["value"] == 1.0
    noise = torch.randn(2, 4, 30, generator=g)
    assert evidence.stability(noise, k=1, resamples=50, seed=0)["top_k_jaccard"]["value"] < 0.8
    assert abs(found["split_half_rank_correlation"]["value"]) <= 1


def test_the_faithfulness_curve_compares_the_top_k_with_random_draws():
    layout = HeadLayout.of(__import__("conftest").tiny_config("llama"))
    ranked = [(2, 1), (0, 3), *[h for h in layout.heads if h not in ((2, 1), (0, 3))]]

    def measure(heads):  # the behaviour recovers by 0.3 per ablated head that carries it
        return stats.rate([True] * round(100 * (0.2 + 0.3 * sum(h in ((2, 1), (0, 3)) for h in heads))) + [False] * 40)

    curve = evidence.faithfulness(measure, layout, ranked, [1, 2], draws=10, seed=0, baseline=measure([]))
    assert [p["k"] for p in curve["curve"]] == [1, 2]
    assert all(p["selected"]["value"] > p["random_mean"] for p in curve["curve"]) and curve["area"] > 0.1
    assert evidence.grid(270, 11) == [1, 2, 4, 8, 11, 16, 27] and evidence.grid(32, 3) == [1, 2, 3]


def test_the_ground_truth_counts_the_planted_heads_in_the_top_k():
    ranked = [(1, 0), (3, 2), (0, 0), (2, 2)]
    truth = evidence.ground_truth(ranked, [(3, 2), (2, 2)])
    assert truth["precision"] == 0.5 and truth["recall"] == 0.5 and truth["ranks"] == {"L3H2": 2, "L2H2": 4}
    assert evidence.ranking(torch.tensor([[0.1, float("nan")], [-0.3, 0.0]])) == [(1, 0), (1, 1), (0, 0), (0, 1)]
