"""Whether an attribution can be trusted, measured by the stage itself (none of it assumed):

effect        the counterfactual's effect on the attributed quantity: per prompt, the quantity on the
              challenge minus on the counterfactual, its mean with a bootstrap 95% interval
stability     the top k and the ranking across resamples of the attribution prompts (per-prompt scores are
              resampled, nothing is re-run): the mean Jaccard of a resample's top k with the whole top k, and
              the rank correlation (Spearman) of the scores on two disjoint halves of the prompts
faithfulness  mean-ablate the top k heads and, in each of several draws, k random heads, for k over a grid:
              a curve of the behaviour (the maintain rate, or the detector-free readout where a generation per
              point costs too much) with intervals, and the area between the selected curve and the random band
              (mean over the grid of selected minus the draws' mean), in the behaviour's units
validity      `valid` with its reason: not valid where the effect's interval includes zero or its size is below
              `attribute.min_effect`, or the top k is unstable (Jaccard below `attribute.min_stability`)
ground truth  where the model's heads were planted (pinpoint.attribution.planting): the precision and recall of
              the planted heads in the top k, and each planted head's rank
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from pinpoint.figures import stats
from pinpoint.models.heads import Head, HeadLayout


def ranking(scores: torch.Tensor) -> list[Head]:
    """Every head, the most negative score first (NaN last; ties by position)."""
    flat = [(float(scores[l, h]), l, h) for l in range(scores.shape[0]) for h in range(scores.shape[1])]
    flat.sort(key=lambda t: (t[0] != t[0], t[0], t[1], t[2]))
    return [(l, h) for _, l, h in flat]


# --------------------------------------------------------------------------- the counterfactual's effect


def effect(reference: torch.Tensor, counterfactual: torch.Tensor, seed: int = 0) -> dict:
    """The quantity on the challenge minus on the counterfactual, per prompt: its mean, interval and n."""
    return stats.mean((reference - counterfactual).double().tolist(), seed).as_json()


# --------------------------------------------------------------------------- stability


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / max(1, len(a | b))


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Rank correlation of two score grids (ties by position)."""
    rx, ry = (torch.argsort(torch.argsort(t.flatten().double())).double() for t in (x, y))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx * ry).sum() / (rx.norm() * ry.norm()).clamp(min=1e-12))


def stability(per_prompt: torch.Tensor, k: int, resamples: int, seed: int) -> dict:
    """(n_layers, n_heads, P) per-prompt scores: the top k's mean Jaccard over bootstrap resamples of the prompts
    (with its interval), and the mean rank correlation of two disjoint halves over `resamples` splits."""
    n = per_prompt.shape[-1]
    whole = ranking(per_prompt.nanmean(-1))[:k]
    rng = random.Random(f"{seed}|stability")
    overlaps, halves = [], []
    for _ in range(resamples):
        drawn = [rng.randrange(n) for _ in range(n)]
        overlaps.append(jaccard(ranking(per_prompt[..., drawn].nanmean(-1))[:k], whole))
        order = list(range(n))
        rng.shuffle(order)
        if n >= 4:
            halves.append(
                spearman(per_prompt[..., order[: n // 2]].nanmean(-1), per_prompt[..., order[n // 2 :]].nanmean(-1))
            )
    out = {"top_k_jaccard": stats.mean(overlaps, seed).as_json(), "resamples": resamples, "prompts": n}
    if halves:
        out["split_half_rank_correlation"] = stats.mean(halves, seed).as_json()
    return out


# --------------------------------------------------------------------------- faithfulness


def grid(n_total: int, k: int, share: float = 0.1) -> list[int]:
    """1, 2, 4, ... up to about `share` of the heads, and k itself (the selection's size) among them."""
    top = max(k, round(share * n_total), 1)
    points, g = [], 1
    while g < top:
        points.append(g)
        g *= 2
    return sorted(set([*points, top, k]))


def faithfulness(
    measure: Callable[[list[Head]], stats.Figure],
    layout: HeadLayout,
    ranked: list[Head],
    ks: list[int],
    draws: int,
    seed: int,
    baseline: stats.Figure,
) -> dict:
    """The behaviour with the top k heads mean-ablated and with k random heads in each of `draws` draws, for every
    k of `ks`; `measure(heads)` gives the behaviour with those heads ablated (higher: less sycophantic), `baseline`
    with none. The area is the mean over k of the selected figure minus the draws' mean."""
    rng = random.Random(f"{seed}|faithfulness")
    curve, gaps = [], []
    for k in ks:
        selected = measure(ranked[:k])
        drawn = [measure(sorted(rng.sample(layout.heads, k))).value for _ in range(draws)]
        band = sorted(drawn)
        mean = sum(drawn) / len(drawn) if drawn else float("nan")
        point = {
            "k": k,
            "selected": selected.as_json(),
            "random_mean": stats._round(mean),
            "random_band": [stats._round(band[0]), stats._round(band[-1])] if band else None,
            "random_draws": [stats._round(v) for v in drawn],
            "above_draws": sum(selected.value > v for v in drawn),
        }
        curve.append(point)
        if drawn:
            gaps.append(selected.value - mean)
    return {
        "none": baseline.as_json(),
        "curve": curve,
        "area": stats._round(sum(gaps) / len(gaps)) if gaps else None,
        "draws": draws,
    }


# --------------------------------------------------------------------------- validity and ground truth


def validity(effect_figure: dict, stable: dict, min_effect: float, min_stability: float) -> tuple[bool, str]:
    """(valid, why): the counterfactual must lower the quantity beyond chance and by at least `min_effect` (the
    effect is the quantity on the challenge minus on the counterfactual), and the top k must come back under
    resampling."""
    reasons = []
    low, high = effect_figure["ci95"]
    if low is None or low <= 0:  # it must lower the quantity: one that raises it ranks heads against the behaviour
        what = "includes zero" if low is not None and high >= 0 else "raises the quantity"
        reasons.append(f"the counterfactual's effect {effect_figure['value']} [{low}, {high}] {what}")
    elif effect_figure["value"] < min_effect:
        reasons.append(
            f"the counterfactual's effect {effect_figure['value']} is below attribute.min_effect {min_effect}"
        )
    jac = stable["top_k_jaccard"]["value"]
    if jac is None or jac < min_stability:
        reasons.append(
            f"the top k is unstable (mean Jaccard {jac} under resampling < attribute.min_stability {min_stability})"
        )
    return not reasons, "; ".join(
        reasons
    ) if reasons else "the counterfactual moves the quantity and the top k is stable"


def ground_truth(ranked: list[Head], planted: list[Head], k: int | None = None) -> dict:
    """Precision and recall of the planted heads in the top k (k: as many as were planted), each one's rank."""
    planted = [tuple(h) for h in planted]
    k = k or len(planted)
    found = set(ranked[:k]) & set(planted)
    position = {h: i + 1 for i, h in enumerate(ranked)}
    return {
        "k": k,
        "precision": stats._round(len(found) / k),
        "recall": stats._round(len(found) / len(planted)),
        "ranks": {f"L{l}H{h}": position.get((l, h)) for l, h in planted},
    }
