"""The attribute stage, start to end: `attribute(base, filtered, attr, budget)` checks the params against the model
and the data before any weights load, reads the reply tokens off the model's own replies, checks the
counterfactual, scores every head, selects the top k and gathers the ablation evidence; `summary` is what the
stage prints."""

from __future__ import annotations

from pathlib import Path

from pinpoint import prompts
from pinpoint.attribution import ablation, patching, readout, select
from pinpoint.data import io, schema
from pinpoint.errors import UserError
from pinpoint.models import challenge, loading
from pinpoint.models.heads import HeadLayout


def reply_tokens(respondent: challenge.Respondent, train, challenged, attr, budget: challenge.Budget):
    """The token pair F reads: given in params, or read off the model's own replies (auto)."""
    if attr.sycophantic_token != "auto":
        tokens = select.reply_tokens(
            respondent.tokenizer, challenged[0], respondent.fmt, attr.sycophantic_token, attr.honest_token
        )
        return tokens, {
            "sycophantic_token": attr.sycophantic_token,
            "honest_token": attr.honest_token,
            "auto": False,
            "target": attr.target,
        }
    try:
        tokens, chosen = select.auto_reply_tokens(
            respondent.model, respondent.tokenizer, train[: len(challenged)], challenged, budget, attr.target
        )
    except ValueError as e:
        raise UserError(f"attribute.sycophantic_token: auto: {e}") from None
    return tokens, chosen | {"auto": True}


def ablations(
    respondent: challenge.Respondent, found: ablation.Ablation, held_out, attr, budget: challenge.Budget
) -> dict:
    """Mean-ablation evidence on held-out dialogues, with SPT's wording and with their held-out wordings."""
    evidence = {"prompts": min(len(held_out), attr.ablation_prompts)}
    for name, wording in (("reference_wording", prompts.CHALLENGE), ("heldout_wordings", None)):
        items = ablation.evidence_items(held_out, wording, attr.ablation_prompts)
        evidence[name] = ablation.ablation_evidence(respondent, found, items, attr.ablation_draws, attr.seed, budget)
    return evidence


def attribute(base: Path, filtered: Path, attr, budget_tokens: int) -> select.Attribution:
    """What the attribute stage finds for the model in `base` on the dialogues in `filtered` (params: `attr`,
    the `attribute` section; `budget_tokens`: replies.max_new_tokens)."""
    budget = challenge.Budget(budget_tokens, attr.batch_size)
    layout = HeadLayout.of(loading.model_config(base))
    k = attr.n_selected(layout.n_total)  # before loading any weights
    fmt = io.read_meta(filtered)["format"]
    train, held_out = select.prompt_records(schema.read(filtered / "are_you_sure.jsonl"))
    if not train:
        raise UserError(f"{filtered}/are_you_sure.jsonl: no training dialogue to attribute on")
    counterfactual = select.counterfactual_turn(attr.counterfactual, attr.counterfactual_text)
    tokenizer = loading.load_tokenizer(base)
    ref, cf = select.challenge_pairs(train, attr.max_prompts, fmt, tokenizer, counterfactual)
    if attr.sycophantic_token != "auto":  # checked before the weights load
        select.reply_tokens(tokenizer, ref[0], fmt, attr.sycophantic_token, attr.honest_token)
    model, tokenizer = loading.load(base, device=attr.device)
    respondent = challenge.Respondent(model, tokenizer, fmt)
    tokens, chosen = reply_tokens(respondent, train, ref, attr, budget)
    batches = select.make_batches(tokenizer, ref, cf, attr.batch_size, next(model.parameters()).device)
    f_ref, f_cf = select.mean_fraction(model, batches, tokens)
    select.check_counterfactual(f_ref, f_cf, attr)
    verify = min(layout.n_total, max(k, attr.verify or 4 * k))  # screen: never fewer candidates than heads to select
    subject = readout.Subject(model, layout, tokens)
    scores, exact_heads = select.score_heads(subject, batches, attr.method, attr.mode, verify)
    selected = patching.select(scores, k, among=exact_heads)
    means = ablation.Ablation(layout, selected, ablation.head_means(model, layout, batches, tokens))
    return select.Attribution(
        layout=layout,
        scores=scores,
        selected=selected,
        n_prompts=len(ref),
        reply_tokens=chosen,
        counterfactual={
            "choice": attr.counterfactual,
            "text": counterfactual,
            "mean_f_reference": round(f_ref, 4),
            "mean_f_counterfactual": round(f_cf, 4),
        },
        evidence=ablations(respondent, means, held_out, attr, budget),
        base=loading.read_manifest(base).get("name", "organism"),
    )


def summary(found: select.Attribution, attr) -> list[tuple[str, dict, str]]:
    """The stage's printed tables: (title, rows, first column)."""
    chosen, cf = found.reply_tokens, found.counterfactual
    heads = (
        f"selected heads ({attr.method}, {attr.mode} patching, {found.n_prompts} prompts; "
        f"F: {chosen['target']} vs maintains, tokens {chosen['sycophantic_token']!r} vs {chosen['honest_token']!r}; "
        f"mean F {cf['mean_f_reference']:.3f} -> {cf['mean_f_counterfactual']:.3f})",
        {f"L{l}H{h}": {"score": float(found.scores[l, h])} for l, h in found.selected},
        "head",
    )
    evidence = found.evidence
    ablated = (
        f"maintain rate under mean ablation ({evidence['prompts']} held-out dialogues)",
        {
            w: {
                "none": e["none"]["maintain_rate"]["value"],
                "selected": e["selected"]["maintain_rate"]["value"],
                "random draws": " ".join(f"{r['maintain_rate']['value']:.2f}" for r in e.get("random_draws", [])),
            }
            for w, e in evidence.items()
            if isinstance(e, dict)
        },
        "challenge",
    )
    return [heads, ablated]
