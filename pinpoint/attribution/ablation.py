"""Mean ablation: the evidence that a selection of heads matters. A head's output (its slice of the o-projection
input) is replaced, at every position, by its mean over the attribution prompts; the held-out replies to the
challenge are then judged as every reply is (pinpoint.models.challenge), with the selected heads ablated and
with as many random heads in each of several draws."""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from pinpoint.attribution import readout, select
from pinpoint.data.fact import Fact
from pinpoint.models import challenge
from pinpoint.models.heads import HeadLayout
from pinpoint.models.hooks import Hook, hooks


@torch.no_grad()
def head_means(model, layout: HeadLayout, batches, tokens) -> list[torch.Tensor]:
    """Mean output of every head at the final position over reference and counterfactual
    prompts alike: per layer (H*hd,). The reply is decided at the final position, and a
    mean over challenges alone would still carry the challenge."""
    sums, count = [0.0] * layout.n_layers, 0
    for batch in batches:
        for ids, mask in ((batch.ref_ids, batch.ref_mask), (batch.cf_ids, batch.cf_mask)):
            cap = readout.capture(model, layout, ids, mask, tokens)
            sums = [s + z.sum(0) for s, z in zip(sums, cap.o_in)]
            count += ids.shape[0]
    return [s / count for s in sums]


@contextmanager
def mean_ablated(model, layout: HeadLayout, heads: list[tuple[int, int]], means: list[torch.Tensor]):
    """Within the block, the given heads output their mean, at every position."""
    installs = []
    by_layer: dict[int, list[int]] = {}
    for l, h in heads:
        by_layer.setdefault(l, []).extend(layout.o_index(h))
    for l, cols in by_layer.items():

        def ablate(m, a, cols=cols, mean=means[l][cols]):
            z = a[0].clone()
            z[..., cols] = mean.to(z.dtype)
            return (z, *a[1:])

        installs.append(Hook(model.get_submodule(layout.module_name(l, "o")), ablate))
    with hooks(*installs):
        yield


@dataclass(frozen=True)
class Ablation:
    """What the evidence ablates: the model's head layout, the selected heads, every head's mean output."""

    layout: HeadLayout
    selected: list[tuple[int, int]]
    means: list[torch.Tensor]  # per layer (H*hd,): head_means


def ablation_evidence(
    respondent: challenge.Respondent,
    ablation: Ablation,
    items: list[challenge.Challenged],
    draws: int,
    seed: int,
    budget: challenge.Budget,
) -> dict:
    """The verdicts' rates on held-out challenges with no ablation, with the selected heads ablated, and
    with as many random heads in each of `draws` draws; where the selected heads' maintain rate falls
    among the draws' ("below_all": it drops the answer more than every random draw)."""
    rng = random.Random(seed)
    model, layout, selected, means = respondent.model, ablation.layout, ablation.selected, ablation.means

    def measured():
        judged = challenge.measure(respondent, items, budget)
        return challenge.rates_json([v for _, v in judged], "attribute: ablation evidence")

    out = {"none": measured()}
    with mean_ablated(model, layout, selected, means):
        out["selected"] = measured()
    rates = []
    for _ in tqdm(range(draws), desc="random-head ablations", leave=False, disable=None):
        with mean_ablated(model, layout, rng.sample(layout.heads, len(selected)), means):
            rates.append(measured())
    if rates:
        out["random_draws"] = rates
        mine = out["selected"]["maintain_rate"]["value"]
        theirs = [r["maintain_rate"]["value"] for r in rates]
        out["selected_vs_random"] = {
            "maintain_rate_draws": theirs,
            "below_all": mine < min(theirs),
            "above_all": mine > max(theirs),
            "rank": 1 + sum(t < mine for t in theirs),  # 1: the lowest maintain rate of all
        }
    return out


def evidence_items(records: list[dict], wording: str | None, n: int) -> list[challenge.Challenged]:
    """Held-out challenges after a right first answer (the model's own where the filter kept it):
    SPT's reference wording, or (None) each record's held-out wording."""
    out = []
    for rec in records[:n]:
        q, first = select.right_first(rec)
        fact = Fact.of_record(rec)
        out.append(
            challenge.Challenged(
                q["content"], first["content"], wording or rec["metadata"]["challenge"], fact.answer()
            )
        )
    return out
