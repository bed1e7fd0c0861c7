"""The probe stage, start to end: `run(base, filtered, pp, budget)` labels the base's own replies to training
challenges by the one verdict, fits the probe per layer and keeps the best on validation, chooses lambda on
the validation split and runs best-of-N on held-out challenges; the rest of this module turns what it found
into the stage's outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pinpoint.data import io, schema
from pinpoint.errors import UserError
from pinpoint.evaluation.context import Context
from pinpoint.figures import stats
from pinpoint.models import challenge, loading
from pinpoint.probing import best_of_n, probe
from pinpoint.prompts import render

OUTCOMES = ("maintains", "changes", "no_answer")


@dataclass
class Probed:
    """What the probe stage found."""

    pairs: list[dict]  # the labelled replies (data/<config>/pairs.jsonl)
    per_layer: dict[int, dict]  # every layer's validation and test figures
    layer: int  # the kept layer (best validation AUC)
    probe: probe.LinearProbe
    examples: int
    lam: float  # the probe penalty (chosen on validation unless given)
    kept: dict[float, dict[int, list[dict]]]  # {lambda: {N: transcript rows of the kept replies}}, lambdas 0 and lam
    addition: dict[float, list[dict]]  # multiple choice: {lambda: addition rows}
    prompts: int  # the held-out challenges best-of-N ran on
    manifest: dict  # the saved probe's


def split(records: list[dict], name: str, n: int, first_correct: bool | None = None) -> list[dict]:
    kept = [r for r in records if r["split"] == name and (first_correct is None or r["metadata"]["first_correct"])]
    return kept[:n]


def fit(scorer_model, scorer_tok, pairs: list[dict], fmt: str, pp):
    """The probe, per layer, on the labelled replies: (per-layer AUCs, the kept layer, its probe, examples)."""
    examples = probe.examples_of(pairs, lambda p: render(p["messages"], fmt, scorer_tok))
    feats = probe.features(scorer_model, scorer_tok, examples, pp.batch_size)  # (examples, layers, d)
    labels = torch.tensor([e.sycophantic for e in examples])
    if labels.all() or not labels.any():
        raise UserError(
            f"probe: all {len(labels)} labelled replies are {'sycophantic' if labels.all() else 'honest'}: "
            "nothing to separate (raise probe.samples or probe.temperature)"
        )
    splits = probe.split_groups(examples, pp.seed)
    per_layer, layer, best = probe.sweep(feats, labels, splits, pp.l2)
    per_layer[layer].update(probe.auc_by_kind(best, feats[:, layer - 1], labels, splits, examples))
    return per_layer, layer, best, len(examples)


def run(base: Path, filtered: Path, pp, budget: int, saved_at: Path) -> Probed:
    """The probe and best-of-N for the model in `base` (params: `pp`, the probe section; `budget`: reply tokens;
    `saved_at`: where the probe will be saved, which its manifest points at the base from)."""
    fmt = io.read_meta(filtered)["format"]
    ays, claims = schema.read(filtered / "are_you_sure.jsonl"), schema.read(filtered / "claims.jsonl")
    train, val, held = (
        split(ays, "train", pp.max_prompts, True),
        split(ays, "validation", pp.max_prompts),
        split(ays, "eval", pp.max_prompts),
    )
    if len(train) < 10 or not val or not held:
        raise UserError(
            f"{filtered}: too few training ({len(train)}), validation ({len(val)}) or eval ({len(held)}) "
            "dialogues for the probe"
        )
    scorer_model, scorer_tok, is_rm = probe.load_scorer(pp.scorer, pp.device, base)
    policy, tokenizer = loading.load(base, device=pp.device) if is_rm else (scorer_model, scorer_tok)
    ctx = Context(filtered, fmt, tokenizer, batch_size=pp.batch_size, max_new_tokens=budget, reply_tokens=budget)
    respondent = challenge.Respondent(policy, tokenizer, fmt)
    trained_on = best_of_n.challenged(policy, tokenizer, train, ctx, "are_you_sure_heldout")  # their training wordings
    pairs = best_of_n.labelled_replies(respondent, trained_on, pp, budget, "train")
    if pp.multiple_choice:
        pairs += probe.choice_pairs([r for r in claims if r["split"] == "train"])
    per_layer, layer, best, n_examples = fit(scorer_model, scorer_tok, pairs, fmt, pp)
    scorer = best_of_n.Scorer(scorer_model, scorer_tok, best, layer, is_rm, pp.batch_size)
    lam = pp.lam
    if lam is None:  # chosen on the validation split
        validation = best_of_n.challenged(policy, tokenizer, val, ctx)
        tried = best_of_n.best_of_n(respondent, scorer, validation, pp.lam_grid, pp, budget)
        lam = best_of_n.choose_lambda({x: best_of_n.maintain_rate(tried[x][max(pp.n)]) for x in pp.lam_grid})
    held_out = best_of_n.challenged(policy, tokenizer, held, ctx)
    kept = best_of_n.best_of_n(respondent, scorer, held_out, [0.0, lam], pp, budget)
    addition = {}
    if pp.multiple_choice:
        agreeing = [
            r
            for r in schema.read(filtered / "addition.jsonl")
            if r["metadata"]["opinion"] == "agree" and r["split"] == "eval"
        ]
        addition = best_of_n.addition_rows(respondent, scorer, agreeing[: pp.max_prompts], [0.0, lam], pp)
    manifest = probe.manifest(pp.scorer, fmt, lam, base, saved_at)
    return Probed(pairs, per_layer, layer, best, n_examples, lam, kept, addition, len(held_out.rows), manifest)


def transcripts(found: Probed, pp) -> dict[str, list[dict]]:
    """The kept replies at N = max as the transcripts of "bon" (lambda 0) and "bon_probe" (lambda chosen)."""
    n_max = max(pp.n)
    return {
        name: found.kept[lam][n_max] + found.addition.get(lam, [])
        for name, lam in (("bon", 0.0), ("bon_probe", found.lam))
    }


def maintained_by_n(found: Probed, pp) -> dict[str, dict]:
    """Best-of-N's maintain rate per N, by reward alone and probe-penalised."""
    return {
        name: {
            f"N={n}": stats.rate([r["verdict"]["outcome"] == "maintains" for r in found.kept[lam][n]]).as_json()
            for n in pp.n
        }
        for name, lam in (("bon", 0.0), ("bon_probe", found.lam))
    }


def metrics(found: Probed) -> dict:
    """metrics/<config>/probe.json."""
    replies = {o: sum(p["outcome"] == o for p in found.pairs) for o in OUTCOMES}
    return probe.metrics(found.per_layer, found.layer, found.lam, found.examples) | {"replies": replies}
