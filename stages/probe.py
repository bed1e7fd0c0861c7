"""DVC stage `probe`: a linear sycophancy probe per layer; probe-penalised best-of-N."""

from pathlib import Path

import torch

from pinpoint import bon, models, params, probe
from pinpoint.data import io, schema
from pinpoint.prompts import render
from pinpoint.report import markdown_table, print_table
from pinpoint.stage import UserError, atomic_dir, run_stage, write_json

DATA, OUT = Path("data/filtered"), Path("models/probe")


def main():
    p = params.load("probe")
    meta = io.read_meta(DATA)
    ays, claims = schema.read(DATA / "are_you_sure.jsonl"), schema.read(DATA / "claims.jsonl")
    addition = [r for r in schema.read(DATA / "addition.jsonl") if r["metadata"]["opinion"] == "agree"][: p.max_prompts]
    scorer_model, scorer_tok, is_rm = probe.load_scorer(p.scorer, p.device)
    policy, tokenizer = (scorer_model, scorer_tok) if not is_rm else models.load("models/base", device=p.device)
    fmt = meta["format"]

    def as_text(messages):
        return render(messages, fmt, scorer_tok)

    # the probe never sees the eval prompts that best-of-N is reported on
    examples = probe.labelled_pairs([r for r in ays if r["split"] == "train"], [r for r in claims if r["split"] == "train"], as_text)
    if len({e.group for e in examples}) < 10:
        raise UserError(f"{DATA}: too few labelled response pairs for a probe ({len(examples)} responses)")
    feats = probe.features(scorer_model, scorer_tok, examples, p.batch_size)
    labels = torch.tensor([e.sycophantic for e in examples])
    splits = probe.split_groups(examples, p.seed)
    per_layer, layer, best = probe.sweep(feats, labels, splits, p.l2)
    for kind, free in (("free_text", True), ("multiple_choice", False)):  # caving vs agreeing with a wrong user
        held = torch.tensor([s == "test" and e.free_text == free for s, e in zip(splits, examples)])
        if held.any():
            per_layer[layer][f"test_auc_{kind}"] = round(probe.auc(best.score(feats[held, layer]), labels[held]), 4)
    scorer = bon.Scorer(scorer_model, scorer_tok, best, layer, is_rm, p.batch_size)

    # lambda: chosen on training-split challenges (never on the eval prompts)
    right_first = lambda r: r["metadata"].get("first_correct")  # noqa: E731
    train_prompts = [r for r in ays if r["split"] == "train" and right_first(r)][: p.max_prompts]
    eval_prompts = [r for r in ays if r["split"] == "eval" and right_first(r)][: p.max_prompts]
    n_max = max(p.n)
    lam = p.lam
    if lam is None:
        tried = bon.are_you_sure(policy, tokenizer, scorer, train_prompts, lambda m: render(m, fmt, tokenizer), n_max, [n_max], p.lam_grid, p)
        lam = min(p.lam_grid, key=lambda x: (tried[x][f"apologize_rate_n{n_max}"], -tried[x][f"truthfulness_n{n_max}"], x))
    lams = [0.0, lam]
    ays_rows = bon.are_you_sure(policy, tokenizer, scorer, eval_prompts, lambda m: render(m, fmt, tokenizer), n_max, p.n, lams, p)
    add_rows = bon.addition(policy, tokenizer, scorer, addition, lambda m: render(m, fmt, tokenizer), n_max, p.n, lams, p) if addition else {}

    rows = {}
    for name, value in (("bon", 0.0), ("bon_probe", lam)):
        a = ays_rows[value]
        rows[name] = {"are_you_sure": {"apologize_rate": a[f"apologize_rate_n{n_max}"], "truthfulness": a[f"truthfulness_n{n_max}"], **a, "lambda": value, "n": len(eval_prompts)}}
        if add_rows:
            rows[name]["addition"] = {"agree_with_opinion": add_rows[value][f"agree_with_opinion_n{n_max}"], **add_rows[value]}
    manifest = {"scorer": p.scorer, "scorer_manifest": models.read_manifest("models/base") if p.scorer == "base" else {"name": p.scorer},
                "features": {"free_text": "mean over response tokens", "multiple_choice": "last token"}, "lambda": lam}
    with atomic_dir(OUT) as tmp:
        probe.save(tmp, best, layer, manifest)
    write_json("metrics/probe.json", {"best_layer": layer, "lambda": lam, "best": per_layer[layer],
                                      "layers": {str(k): v for k, v in per_layer.items()}, "pairs": len(examples) // 2})
    write_json("plots/probe.json", [{"layer": k, **v} for k, v in per_layer.items()])
    write_json("metrics/bon.json", rows)
    print_table(f"probe: held-out accuracy and AUC per layer (kept: layer {layer})", {f"layer {k}": v for k, v in per_layer.items()}, "")
    table = {f"{name} (lambda={rows[name]['are_you_sure']['lambda']})": {f"apologize N={n}": rows[name]["are_you_sure"][f"apologize_rate_n{n}"] for n in p.n} for name in rows}
    print("best-of-N on held-out challenges\n\n" + markdown_table(table) + "\n")


if __name__ == "__main__":
    run_stage(main)
