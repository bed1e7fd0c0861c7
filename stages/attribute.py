"""DVC stage `attribute@<config>`: score every head by path patching; select the sycophancy heads."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import attribution, challenge, console, models, params, prompts, readout
from pinpoint.data import io, schema
from pinpoint.heads import HeadLayout
from pinpoint.stage import UserError, run_stage, write_json


def reply_tokens(respondent: challenge.Respondent, train, challenged, attr, budget: challenge.Budget):
    """The token pair F reads: given in params, or read off the model's own replies (auto)."""
    if attr.sycophantic_token != "auto":
        tokens = attribution.reply_tokens(
            respondent.tokenizer, challenged[0], respondent.fmt, attr.sycophantic_token, attr.honest_token
        )
        return tokens, {
            "sycophantic_token": attr.sycophantic_token,
            "honest_token": attr.honest_token,
            "auto": False,
            "target": attr.target,
        }
    try:
        tokens, chosen = attribution.auto_reply_tokens(
            respondent.model, respondent.tokenizer, train[: len(challenged)], challenged, budget, attr.target
        )
    except ValueError as e:
        raise UserError(f"attribute.sycophantic_token: auto: {e}") from None
    return tokens, chosen | {"auto": True}


def ablations(
    respondent: challenge.Respondent, ablation: attribution.Ablation, held_out, attr, budget: challenge.Budget
) -> dict:
    """Mean-ablation evidence on held-out dialogues, with SPT's wording and with their held-out wordings."""
    evidence = {"prompts": min(len(held_out), attr.ablation_prompts)}
    for name, wording in (("reference_wording", prompts.CHALLENGE), ("heldout_wordings", None)):
        items = attribution.evidence_items(held_out, wording, attr.ablation_prompts)
        evidence[name] = attribution.ablation_evidence(
            respondent, ablation, items, attr.ablation_draws, attr.seed, budget
        )
    return evidence


def main(paths):
    attr = params.load("attribute", paths.config)
    budget = challenge.Budget(params.load("replies", paths.config).max_new_tokens, attr.batch_size)
    layout = HeadLayout.of(models.model_config(paths.base))
    k = attr.n_selected(layout.n_total)  # before loading any weights
    fmt = io.read_meta(paths.filtered)["format"]
    train, held_out = attribution.prompt_records(schema.read(paths.filtered / "are_you_sure.jsonl"))
    if not train:
        raise UserError(f"{paths.filtered}/are_you_sure.jsonl: no training dialogue to attribute on")
    counterfactual = attribution.counterfactual_turn(attr.counterfactual, attr.counterfactual_text)
    tokenizer = models.load_tokenizer(paths.base)
    ref, cf = attribution.challenge_pairs(train, attr.max_prompts, fmt, tokenizer, counterfactual)
    if attr.sycophantic_token != "auto":  # checked before the weights load
        attribution.reply_tokens(tokenizer, ref[0], fmt, attr.sycophantic_token, attr.honest_token)
    model, tokenizer = models.load(paths.base, device=attr.device)
    respondent = challenge.Respondent(model, tokenizer, fmt)
    tokens, chosen = reply_tokens(respondent, train, ref, attr, budget)
    batches = attribution.make_batches(tokenizer, ref, cf, attr.batch_size, next(model.parameters()).device)
    f_ref, f_cf = attribution.mean_fraction(model, batches, tokens)
    attribution.check_counterfactual(f_ref, f_cf, attr)
    verify = min(layout.n_total, max(k, attr.verify or 4 * k))  # screen: never fewer candidates than heads to select
    subject = readout.Subject(model, layout, tokens)
    scores, exact_heads = attribution.score_heads(subject, batches, attr.method, attr.mode, verify)
    selected = attribution.patching.select(scores, k, among=exact_heads)
    ablation = attribution.Ablation(layout, selected, attribution.head_means(model, layout, batches, tokens))
    evidence = ablations(respondent, ablation, held_out, attr, budget)
    found = attribution.Attribution(
        layout,
        scores,
        selected,
        len(ref),
        chosen,
        {
            "choice": attr.counterfactual,
            "text": counterfactual,
            "mean_f_reference": round(f_ref, 4),
            "mean_f_counterfactual": round(f_cf, 4),
        },
        evidence,
        models.read_manifest(paths.base).get("name", "organism"),
    )
    write_json(paths.heads, attribution.selection(found, attr))
    write_json(paths.metrics / "heads.json", attribution.metrics(found, attr))
    write_json(paths.plots / "head_scores.json", attribution.plot_rows(found))
    console.print_table(
        f"selected heads ({attr.method}, {attr.mode} patching, {len(ref)} prompts; "
        f"F: {chosen['target']} vs maintains, "
        f"tokens {chosen['sycophantic_token']!r} vs {chosen['honest_token']!r}; mean F {f_ref:.3f} -> {f_cf:.3f})",
        {f"L{l}H{h}": {"score": float(scores[l, h])} for l, h in selected},
        "head",
    )
    console.print_table(
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


if __name__ == "__main__":
    run_stage(main)
