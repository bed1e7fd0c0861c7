"""The attribute stage, start to end.

`attribute(base, filtered, attr, budget)` checks the params against the model and the data before any weights
load; attributes every candidate (quantity x counterfactual: `attribute.quantity` and `.counterfactual` may list
several) on training dialogues sampled from every fact set; where there are several, chooses on validation
dialogues the one whose selected heads move the behaviour the most beyond random heads when mean-ablated; then
measures, on held-out dialogues, what says whether the selection can be trusted (pinpoint.attribution.evidence):
the counterfactual's effect with its interval, the top k's stability under resampling, the faithfulness curve
against random draws, `valid` with its reason, and, where the heads were planted, how many of them it found.
`selection`, `metrics` and `summary` turn what it found into the stage's outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pinpoint import prompts
from pinpoint.attribution import ablation, counterfactual, evidence, first_token, readout, sequence
from pinpoint.data import io, sample, schema
from pinpoint.errors import UserError
from pinpoint.models import challenge, loading
from pinpoint.models.heads import Head, HeadLayout


@dataclass
class Scored:
    """One quantity and counterfactual on the training dialogues: the quantity on both first (cheap), then, where
    it is worth it, every head's change of it when patched (`attribute_heads`)."""

    quantity: str
    counterfactual: str  # its name (attribute.counterfactual)
    text: str  # the user's turn in its place
    reference: torch.Tensor  # (P,): the quantity on the challenge
    versus: torch.Tensor  # (P,): on the counterfactual
    reads: dict  # how the quantity reads replies (the token pair and how it was chosen; the reply pairs kept)
    run: Callable[[str, str], tuple[torch.Tensor, list[Head]]]  # (method, mode) -> per-prompt scores, heads exact
    head_means: Callable[[], list[torch.Tensor]]  # per layer (H*hd,): every head's mean output, for ablation
    prompts: list[dict] = field(default_factory=list)  # the records attributed on
    per_prompt: torch.Tensor | None = None  # (n_layers, n_heads, P): each prompt's change when the head is patched
    exact_heads: list[Head] = field(default_factory=list)  # scored exactly (screen: its verified candidates)
    means: list[torch.Tensor] = field(default_factory=list)
    effect: dict = field(default_factory=dict)  # reference - counterfactual over prompts, with its interval

    def attribute_heads(self, method: str, mode: str) -> Scored:
        self.per_prompt, self.exact_heads = self.run(method, mode)
        self.means = self.head_means()
        return self

    @property
    def lowers(self) -> bool:
        """Does the counterfactual lower the quantity beyond chance (what makes attributing it worth anything)?"""
        low = self.effect["ci95"][0]
        return low is not None and low > 0

    @property
    def scores(self) -> torch.Tensor:
        """(n_layers, n_heads): each head's mean over the prompts."""
        return self.per_prompt.nanmean(-1)

    @property
    def ranked(self) -> list[Head]:
        """Every head: those scored exactly first, most negative first; then the rest by their estimates."""
        order = evidence.ranking(self.scores)
        exact = set(self.exact_heads)
        return [h for h in order if h in exact] + [h for h in order if h not in exact]


def check_inputs(base: Path, filtered: Path, attr) -> tuple[HeadLayout, int, str, dict[str, list[dict]]]:
    """(layout, k, prompt format, the sampled records per split), every check before any weights load."""
    layout = HeadLayout.of(loading.model_config(base))
    k = attr.n_selected(layout.n_total)
    fmt = io.read_meta(filtered)["format"]
    splits = counterfactual.by_split(schema.read(filtered / "are_you_sure.jsonl"))
    if not splits["train"]:
        raise UserError(f"{filtered}/are_you_sure.jsonl: no training dialogue to attribute on")
    if not splits["eval"]:
        raise UserError(f"{filtered}/are_you_sure.jsonl: no held-out dialogue to check the attribution on")
    if len(attr.quantities) * len(attr.counterfactuals) > 1 and not splits["validation"]:
        raise UserError(f"{filtered}/are_you_sure.jsonl: no validation dialogue to choose the quantity on")
    sizes = {"train": attr.max_prompts, "validation": attr.choice.prompts, "eval": attr.evidence.prompts}
    sampled = {name: sample.stratified(records, sizes[name], attr.seed) for name, records in splits.items()}
    if attr.sycophantic_token != "auto":  # the pair must be tokens of this model
        tokenizer = loading.load_tokenizer(base)
        reference = counterfactual.texts(sampled["train"][:1], fmt, tokenizer, prompts.CHALLENGE)
        first_token.reply_tokens(tokenizer, reference[0], fmt, attr.sycophantic_token, attr.honest_token)
    return layout, k, fmt, sampled


def attribute(base: Path, filtered: Path, attr, budget_tokens: int) -> Attribution:
    """What the attribute stage finds for the model in `base` on the dialogues in `filtered` (params: `attr`, the
    `attribute` section; `budget_tokens`: replies.max_new_tokens)."""
    budget = challenge.Budget(budget_tokens, attr.batch_size)
    layout, k, fmt, records = check_inputs(base, filtered, attr)
    model, tokenizer = loading.load(base, device=attr.device)
    respondent = challenge.Respondent(model, tokenizer, fmt)
    replies: dict = {}  # per quantity, the model's own replies it reads: one generation for every counterfactual
    candidates = []
    for quantity in attr.quantities:
        for name in attr.counterfactuals:
            found = score(respondent, layout, records["train"], quantity, name, attr, budget, replies)
            found.effect = evidence.effect(found.reference, found.versus, attr.seed)
            candidates.append(found)
            print(f"{quantity} against {name}: {means_of(found)}, effect {found.effect}", flush=True)
    # the heads only where the counterfactual lowers the quantity: elsewhere no ranking could be valid (none does:
    # the one that comes closest, to be reported not valid)
    worth = [c for c in candidates if c.lowers] or [max(candidates, key=lambda c: c.effect["ci95"][0] or -1e9)]
    for c in worth:
        c.attribute_heads(attr.method, attr.mode)
    chosen, choice = worth[0], {"skipped": skipped(candidates, worth)}
    if len(worth) > 1:
        chosen, table = choose(worth, respondent, layout, records["validation"], k, attr, budget)
        choice |= table
    ranked = chosen.ranked
    effect = chosen.effect
    stable = evidence.stability(chosen.per_prompt, k, attr.evidence.resamples, attr.seed)
    valid, why = evidence.validity(effect, stable, attr.min_effect, attr.min_stability)
    ks = sorted(set(attr.evidence.grid or evidence.grid(layout.n_total, k)))
    wordings = {"reference_wording": prompts.CHALLENGE} | ({"heldout_wordings": None} if attr.evidence.heldout else {})
    faithfulness = {}
    for name, wording in wordings.items():
        measure = ablation.behaviour(attr.evidence.measure, respondent, records["eval"], wording, budget, chosen.means)
        faithfulness[name] = evidence.faithfulness(
            measure, layout, ranked, ks, attr.evidence.draws, attr.seed, baseline=measure([])
        )
    manifest = loading.read_manifest(base)
    planted = [tuple(h) for h in manifest.get("planted", {}).get("heads", [])]
    truth = ground_truth(chosen, layout, planted) if planted else None
    return Attribution(
        layout=layout,
        quantity=chosen.quantity,
        scores=chosen.scores,
        ranked=ranked,
        selected=ranked[:k],
        prompts=sample.composition(chosen.prompts),
        reads=chosen.reads,
        counterfactual={"choice": chosen.counterfactual, "text": chosen.text, "effect": effect} | means_of(chosen),
        choice=choice,
        stability=stable,
        faithfulness=faithfulness,
        measure=attr.evidence.measure,
        valid=valid,
        why=why,
        ground_truth=truth,
        base=manifest.get("name", manifest.get("kind", "")),
    )


def skipped(candidates: list[Scored], worth: list[Scored]) -> list[dict]:
    """The candidates whose heads were not attributed, with the effect that ruled them out."""
    return [
        {"quantity": c.quantity, "counterfactual": c.counterfactual, "effect": c.effect}
        for c in candidates
        if c not in worth
    ]


def means_of(scored: Scored) -> dict:
    """The quantity's mean on the challenge and on the counterfactual (F, or S in nats)."""
    names = (
        ("mean_f_reference", "mean_f_counterfactual")
        if scored.quantity == "first_token"
        else (
            "mean_s_reference",
            "mean_s_counterfactual",
        )
    )
    return {names[0]: round(float(scored.reference.mean()), 4), names[1]: round(float(scored.versus.mean()), 4)}


# --------------------------------------------------------------------------- one candidate


def score(
    respondent, layout: HeadLayout, records: list[dict], quantity: str, name: str, attr, budget, replies: dict
) -> Scored:
    """One quantity with one counterfactual on the training records: the quantity on both, and how to attribute it
    (`replies`: what the model said to the challenge, read once per quantity and kept there for the others)."""
    model, tokenizer, fmt = respondent.model, respondent.tokenizer, respondent.fmt
    turn = counterfactual.counterfactual_turn(name, attr.counterfactual_text)
    device = next(model.parameters()).device
    k = attr.n_selected(layout.n_total)
    verify = min(layout.n_total, max(k, attr.verify or 4 * k))
    if quantity == "sequence":
        if quantity not in replies:
            replies[quantity] = own_sequence_replies(respondent, records, attr, budget)
        kept, pairs, reads = sequence_pairs(respondent, records, turn, attr, replies[quantity])
        subject = sequence.SequenceSubject.of(model, layout, tokenizer, pairs)

        def run(method, mode):  # exactly: a forward pass per head and reply; only the screen's top on a large model
            if method == "screen" or layout.n_total > 64:
                return sequence.screen(subject, verify, per_prompt=True)
            return sequence.exact(subject, per_prompt=True), layout.heads

        def means():
            texts = first_token.make_batches(
                tokenizer, [p.reference for p in pairs], [p.counterfactual for p in pairs], attr.batch_size, device
            )
            return ablation.head_means(model, layout, texts, (0, 0))

        reference, versus = subject.s(), subject.s(counterfactual=True)
        return Scored(quantity, name, turn, reference, versus, reads, run, means, kept)
    challenged = counterfactual.texts(records, fmt, tokenizer, prompts.CHALLENGE)
    versions = counterfactual.texts(records, fmt, tokenizer, turn)
    if quantity not in replies:
        replies[quantity] = reply_tokens(respondent, records, challenged, attr, budget)
    tokens, reads = replies[quantity]
    batches = first_token.make_batches(tokenizer, challenged, versions, attr.batch_size, device)
    reference, versus = first_token.fractions(model, batches, tokens)
    subject = readout.Subject(model, layout, tokens)

    def run(method, mode):
        return first_token.score_heads(subject, batches, method, mode, verify)

    def means():
        return ablation.head_means(model, layout, batches, tokens)

    return Scored(quantity, name, turn, reference, versus, reads, run, means, records)


def reply_tokens(respondent: challenge.Respondent, records, challenged, attr, budget: challenge.Budget):
    """The token pair F reads: given in params, or read off the model's own replies (auto)."""
    if attr.sycophantic_token != "auto":
        tokens = first_token.reply_tokens(
            respondent.tokenizer, challenged[0], respondent.fmt, attr.sycophantic_token, attr.honest_token
        )
        chosen = {"sycophantic_token": attr.sycophantic_token, "honest_token": attr.honest_token, "auto": False}
        return tokens, chosen | {"target": attr.target}
    try:
        tokens, chosen = first_token.auto_reply_tokens(
            respondent.model, respondent.tokenizer, records, challenged, budget, attr.target
        )
    except ValueError as e:
        raise UserError(f"attribute.sycophantic_token: auto: {e}") from None
    return tokens, chosen | {"auto": True}


def own_sequence_replies(respondent, records: list[dict], attr, budget) -> list[tuple[str | None, str | None]]:
    """Each training dialogue's own (sycophantic, maintaining) replies to the challenge, sampled."""
    items = counterfactual.items(records, prompts.CHALLENGE)
    return sequence.own_replies(respondent, items, attr.samples, attr.seed, budget)


def sequence_pairs(respondent, records: list[dict], turn: str, attr, replies):
    """(the records kept, their Pairs, what was read): each training dialogue's own sycophantic and maintaining
    replies, where the model gave one of each."""
    fmt, tokenizer = respondent.fmt, respondent.tokenizer
    challenged = counterfactual.texts(records, fmt, tokenizer, prompts.CHALLENGE)
    versions = counterfactual.texts(records, fmt, tokenizer, turn)
    kept, pairs = [], []
    for record, ref, cf, (syc, keep) in zip(records, challenged, versions, replies):
        if syc and keep:
            kept.append(record)
            pairs.append(sequence.Pair(ref, cf, prompts.reply_text(syc, fmt), prompts.reply_text(keep, fmt)))
    if len(pairs) < 4:
        raise UserError(
            f"attribute.quantity: sequence: the model gave a sycophantic and a maintaining reply to only "
            f"{len(pairs)} of {len(records)} dialogues in {attr.samples} samples: raise attribute.samples"
        )
    return kept, pairs, {"pairs": len(pairs), "of": len(records), "samples": attr.samples}


# --------------------------------------------------------------------------- the choice on validation


def choose(candidates: list[Scored], respondent, layout: HeadLayout, records, k: int, attr, budget):
    """(the candidate whose top k, mean-ablated on validation dialogues, moves the behaviour the most beyond as
    many random heads -- among the valid ones where any is -- and the table of every candidate)."""
    import random

    rng = random.Random(f"{attr.seed}|choice")
    draws = [sorted(rng.sample(layout.heads, k)) for _ in range(attr.choice.draws)]  # the same draws for each
    table, best = [], None
    for scored in candidates:
        measure = ablation.behaviour(
            attr.evidence.measure, respondent, records, prompts.CHALLENGE, budget, scored.means
        )
        selected = measure(scored.ranked[:k]).value
        random_mean = sum(measure(heads).value for heads in draws) / len(draws)
        stable = evidence.stability(scored.per_prompt, k, attr.evidence.resamples, attr.seed)
        valid, why = evidence.validity(scored.effect, stable, attr.min_effect, attr.min_stability)
        row = {
            "quantity": scored.quantity,
            "counterfactual": scored.counterfactual,
            "effect": scored.effect,
            "valid": valid,
            "why": why,
            "selected": round(selected, 4),
            "random_mean": round(random_mean, 4),
            "gap": round(selected - random_mean, 4),
        }
        table.append(row)
        if best is None or (valid, row["gap"]) > best[1]:  # a valid candidate first, then the larger gap
            best = (scored, (valid, row["gap"]))
    return best[0], {"measure": attr.evidence.measure, "prompts": len(records), "k": k, "candidates": table}


def ground_truth(chosen: Scored, layout: HeadLayout, planted: list[Head]) -> dict:
    """How many planted heads each way of attributing puts in its top k (k: as many as were planted)."""
    out = {"planted": [f"L{l}H{h}" for l, h in planted]}
    ways = (("exact", "path"), ("exact", "activation"), ("screen", "path"))
    if chosen.quantity == "sequence":
        ways = (("exact", "activation"), ("screen", "activation"))
    for method, mode in ways:
        ranked = evidence.ranking(chosen.run(method, mode)[0].nanmean(-1))
        out[f"{method}_{mode}"] = evidence.ground_truth(ranked, planted)
    return out


# --------------------------------------------------------------------------- outputs


@dataclass
class Attribution:
    """What the attribute stage found, for its three outputs."""

    layout: HeadLayout
    quantity: str
    scores: torch.Tensor  # (n_layers, n_heads): the change of the quantity when the head is patched
    ranked: list[Head]
    selected: list[Head]
    prompts: dict  # the attribution prompts per fact set
    reads: dict  # how the quantity reads replies
    counterfactual: dict  # its choice, text, effect and means
    choice: dict | None  # the candidates' table on validation (None: one candidate)
    stability: dict
    faithfulness: dict  # per wording
    measure: str  # what ablation was measured on
    valid: bool
    why: str
    ground_truth: dict | None
    base: str


def selection(a: Attribution, attr) -> dict:
    """data/<config>/heads.json: what tune reads (the ranking too, so that tune.spt.top_k can take more)."""
    return {
        "heads": [list(h) for h in a.selected],
        "ranking": [list(h) for h in a.ranked],
        "k": len(a.selected),
        "valid": a.valid,
        "method": attr.method,
        "mode": attr.mode,
        "quantity": a.quantity,
        "layout": a.layout.as_dict(),
        "base": a.base,
    }


def metrics(a: Attribution, attr) -> dict:
    """metrics/<config>/heads.json."""
    return {
        "valid": a.valid,
        "why": a.why,
        "selected": [f"L{l}H{h}" for l, h in a.selected],
        "method": attr.method,
        "mode": attr.mode,
        "quantity": a.quantity,
        "prompts": a.prompts,
        "reads": a.reads,
        "counterfactual": a.counterfactual,
        "choice": a.choice,
        "stability": a.stability,
        "faithfulness": {"measure": a.measure} | a.faithfulness,
        "ground_truth": a.ground_truth,
        # layers x heads: a grid, so that `dvc exp show` keeps one column, not one per head
        "scores": [[round(float(s), 6) for s in row] for row in a.scores],
    }


def plot_rows(a: Attribution) -> list[dict]:
    """plots/<config>/head_scores.json."""
    return [{"head": f"L{l}H{h}", "layer": l, "score": round(float(a.scores[l, h]), 6)} for l, h in a.layout.heads]


def summary(found: Attribution, attr) -> list[tuple[str, dict, str]]:
    """The stage's printed tables: (title, rows, first column)."""
    cf, n = found.counterfactual, sum(found.prompts.values())
    eff = cf["effect"]
    status = "valid" if found.valid else f"NOT VALID: {found.why}"
    heads = (
        f"selected heads ({found.quantity}, {attr.method}, {attr.mode} patching, {n} prompts; counterfactual "
        f"{cf['choice']!r}, effect {eff['value']} [{eff['ci95'][0]}, {eff['ci95'][1]}]; {status})",
        {f"L{l}H{h}": {"score": float(found.scores[l, h])} for l, h in found.selected},
        "head",
    )
    rows = {}
    for wording, curve in found.faithfulness.items():
        for point in curve["curve"]:
            rows[f"{wording} k={point['k']}"] = {
                "none": curve["none"]["value"],
                "selected": point["selected"]["value"],
                "random mean": point["random_mean"],
                "above draws": f"{point['above_draws']}/{curve['draws']}",
            }
    ablated = (f"{found.measure} under mean ablation: the top k against random draws", rows, "curve")
    tables = [heads, ablated]
    if found.ground_truth:
        truth = {
            w: {"precision": g["precision"], "recall": g["recall"]}
            for w, g in found.ground_truth.items()
            if isinstance(g, dict)
        }
        tables.append((f"planted heads {', '.join(found.ground_truth['planted'])} found", truth, "attribution"))
    return tables
