"""DVC stage `attribute`: score every head by path patching; select the sycophancy heads."""

from pathlib import Path

from pinpoint import attribution, models, params, report
from pinpoint.data import io, schema
from pinpoint import prompts
from pinpoint.prompts import render
from pinpoint.stage import UserError, run_stage, write_json

BASE, DATA = Path("models/base"), Path("data/filtered")
METRICS, SELECTED, PLOT_PNG, PLOT_JSON = Path("metrics/heads.json"), Path("data/heads.json"), Path("plots/heads.png"), Path("plots/head_scores.json")


def main():
    p = params.load("attribute")
    layout = models.HeadLayout.of(models.model_config(BASE))
    k = p.n_selected(layout.n_total)  # before loading any weights
    meta = io.read_meta(DATA)
    records = schema.read(DATA / "are_you_sure.jsonl")
    tokenizer = models.load_tokenizer(BASE)  # the reply tokens are checked before the weights load
    train = [r for r in records if r["split"] == "train"]
    ref, cf = attribution.challenge_pairs(train, p.max_prompts, meta["format"], tokenizer)
    if not ref:
        raise UserError(f"{DATA}/are_you_sure.jsonl: no training dialogue with a right first answer to attribute on")
    try:
        tokens = attribution.reply_tokens(tokenizer, ref[0], meta["format"], p.sycophantic_token, p.honest_token)
    except ValueError as e:
        raise UserError(f"attribute: {e}") from None
    model, tokenizer = models.load(BASE, device=p.device)
    device = next(model.parameters()).device
    batches = attribution.make_batches(tokenizer, ref, cf, p.batch_size, device)
    verify = min(layout.n_total, max(k, p.verify or 4 * k))  # screen: never fewer candidates than heads to select
    scores, exact_heads = attribution.score_heads(model, layout, batches, tokens, p.method, p.mode, verify)
    selected = attribution.patching.select(scores, k, among=exact_heads)

    # evidence: ablate the selected heads, and as many random heads, on held-out dialogues
    held_out = [r for r in records if r["split"] == "eval" and r["metadata"].get("first_correct")][: p.ablation_prompts]
    means = attribution.head_means(model, layout, batches, tokens)
    evidence = {}  # SPT's reference wording (what was attributed) and the held-out wordings
    for name, wording in (("reference_wording", prompts.CHALLENGE), ("heldout_wordings", None)):
        texts = [render(r["messages"][:2] + [{"role": "user", "content": wording or r["messages"][2]["content"]}], meta["format"], tokenizer) for r in held_out]
        evidence[name] = attribution.ablation_evidence(model, layout, tokenizer, selected, means, texts, p.ablation_draws, p.seed, p.batch_size)

    names = [f"L{l}H{h}" for l, h in selected]
    write_json(SELECTED, {"heads": [list(x) for x in selected], "k": k, "method": p.method, "mode": p.mode,
                          "layout": {"n_layers": layout.n_layers, "n_heads": layout.n_heads, "n_kv_heads": layout.n_kv_heads, "head_dim": layout.head_dim},
                          "base": models.read_manifest(BASE).get("name", "organism")})
    write_json(METRICS, {"method": p.method, "mode": p.mode, "n_prompts": len(ref), "selected": names,
                         "ablation_apologize_rate": evidence,
                         # layers x heads: a grid, so that `dvc exp show` keeps one column, not one per head
                         "scores": [[round(float(s), 6) for s in row] for row in scores]})
    report.head_heatmap(scores, selected, PLOT_PNG)
    write_json(PLOT_JSON, [{"head": f"L{l}H{h}", "layer": l, "score": round(float(scores[l, h]), 6)} for l in range(layout.n_layers) for h in range(layout.n_heads)])
    report.print_table(f"selected heads ({p.method}, {p.mode} patching, {len(ref)} prompts)", {n: {"score": float(scores[l, h])} for n, (l, h) in zip(names, selected)}, "head")
    report.print_table("apologize rate under mean ablation (held-out sums)", {w: {k2: v for k2, v in e.items() if k2 != "random_draws"} for w, e in evidence.items()}, "challenge")


if __name__ == "__main__":
    run_stage(main)
