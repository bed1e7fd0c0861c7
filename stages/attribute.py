"""DVC stage `attribute@<config>`: score every head by path patching; select the sycophancy heads."""

from pinpoint import attribution, models, params, prompts, report
from pinpoint.data import io, schema
from pinpoint.heads import HeadLayout
from pinpoint.stage import UserError, run_stage, write_json


def main(paths):
    attr = params.load("attribute", paths.config)
    layout = HeadLayout.of(models.model_config(paths.base))
    k = attr.n_selected(layout.n_total)  # before loading any weights
    meta = io.read_meta(paths.filtered)
    records = schema.read(paths.filtered / "are_you_sure.jsonl")
    # right first answers: the dialogues that had one first (SPT's), then the rest with the answer made right
    train = sorted((r for r in records if r["split"] == "train"), key=lambda r: not r["metadata"]["first_correct"])
    held_out = sorted((r for r in records if r["split"] == "eval"), key=lambda r: not r["metadata"]["first_correct"])
    if not train:
        raise UserError(f"{paths.filtered}/are_you_sure.jsonl: no training dialogue to attribute on")
    counterfactual = attribution.counterfactual_turn(attr.counterfactual, attr.counterfactual_text)
    tokenizer = models.load_tokenizer(paths.base)
    ref, cf = attribution.challenge_pairs(train, attr.max_prompts, meta["format"], tokenizer, counterfactual)
    explicit = attr.sycophantic_token != "auto"
    if explicit:  # checked before the weights load
        tokens = attribution.reply_tokens(tokenizer, ref[0], meta["format"], attr.sycophantic_token, attr.honest_token)
    model, tokenizer = models.load(paths.base, device=attr.device)
    device = next(model.parameters()).device
    if explicit:
        chosen = {"sycophantic_token": attr.sycophantic_token, "honest_token": attr.honest_token, "auto": False}
    else:
        try:
            tokens, chosen = attribution.auto_reply_tokens(model, tokenizer, ref, attr.batch_size)
        except ValueError as e:
            raise UserError(f"attribute.sycophantic_token: auto: {e}") from None
        chosen["auto"] = True
    batches = attribution.make_batches(tokenizer, ref, cf, attr.batch_size, device)
    f_ref, f_cf = attribution.mean_fraction(model, batches, tokens)
    if f_ref - f_cf < attr.min_f_drop:
        others = ", ".join(c for c in [*attribution.COUNTERFACTUALS, "custom"] if c != attr.counterfactual)
        raise UserError(
            f"attribute.counterfactual: {attr.counterfactual!r} does not lower F on this model "
            f"(mean F {f_ref:.3f} on the challenge, {f_cf:.3f} on the counterfactual; needs a drop of "
            f"{attr.min_f_drop}): ranking heads by it would rank noise; try {others}"
        )
    verify = min(layout.n_total, max(k, attr.verify or 4 * k))  # screen: never fewer candidates than heads to select
    scores, exact_heads = attribution.score_heads(model, layout, batches, tokens, attr.method, attr.mode, verify)
    selected = attribution.patching.select(scores, k, among=exact_heads)

    # evidence: ablate the selected heads, and as many random heads, on held-out dialogues
    means = attribution.head_means(model, layout, batches, tokens)
    evidence = {}  # SPT's reference wording (what was attributed) and the held-out wordings
    for name, wording in (("reference_wording", prompts.CHALLENGE), ("heldout_wordings", None)):
        texts = [
            prompts.render(
                [*attribution.right_first(r), {"role": "user", "content": wording or r["messages"][2]["content"]}],
                meta["format"],
                tokenizer,
            )
            for r in held_out[: attr.ablation_prompts]
        ]
        evidence[name] = attribution.ablation_evidence(
            model, layout, tokenizer, selected, means, texts, attr.ablation_draws, attr.seed, attr.batch_size
        )
    evidence["prompts"] = len(held_out[: attr.ablation_prompts])

    outputs = attribution.outputs(
        attr,
        layout,
        scores,
        selected,
        k,
        len(ref),
        evidence,
        chosen,
        {
            "choice": attr.counterfactual,
            "text": counterfactual,
            "mean_f_reference": round(f_ref, 4),
            "mean_f_counterfactual": round(f_cf, 4),
        },
        models.read_manifest(paths.base),
    )
    write_json(paths.heads, outputs.selection)
    write_json(paths.metrics / "heads.json", outputs.metrics)
    report.head_heatmap(scores, selected, paths.plots / "heads.png")
    write_json(paths.plots / "head_scores.json", outputs.plot_rows)
    report.print_table(
        f"selected heads ({attr.method}, {attr.mode} patching, {len(ref)} prompts; reply tokens "
        f"{chosen['sycophantic_token']!r} vs {chosen['honest_token']!r}; mean F {f_ref:.3f} -> {f_cf:.3f})",
        outputs.table,
        "head",
    )
    report.print_table(
        f"apologize rate under mean ablation ({evidence['prompts']} held-out dialogues)",
        {
            w: {k2: v for k2, v in e.items() if k2 != "random_draws"}
            for w, e in evidence.items()
            if isinstance(e, dict)
        },
        "challenge",
    )


if __name__ == "__main__":
    run_stage(main)
