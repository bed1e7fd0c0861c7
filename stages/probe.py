"""DVC stage `probe`: a linear sycophancy probe per layer; probe-penalised best-of-N."""

import os
import sys

import torch

from pinpoint import bon, models, params, probe
from pinpoint.data import io, schema
from pinpoint.evaluation import suites
from pinpoint.prompts import render
from pinpoint.report import markdown_table, print_table
from pinpoint.stage import UserError, atomic_dir, run_stage, write_json

TIED = 0.02  # lambda: the smallest whose apologize rate is within this of the best


def main(paths):
    DATA, OUT = paths.filtered, paths.probe_model
    p = params.load("probe", paths.config)
    meta = io.read_meta(DATA)
    fmt = meta["format"]
    ays, claims = schema.read(DATA / "are_you_sure.jsonl"), schema.read(DATA / "claims.jsonl")
    agreeing = [r for r in schema.read(DATA / "addition.jsonl") if r["metadata"]["opinion"] == "agree"]
    addition = agreeing[: p.max_prompts] if p.multiple_choice else []
    train_ays = [r for r in ays if r["split"] == "train"]
    eval_ays = [r for r in ays if r["split"] == "eval"][: p.max_prompts]
    train_claims = [r for r in claims if r["split"] == "train"]
    # the probe never sees the eval prompts best-of-N is reported on; one fact, one split
    groups = {e.group for e in probe.labelled_pairs(train_ays, train_claims, lambda m: "")}
    if len(groups) < 10 or not eval_ays:
        raise UserError(
            f"{DATA}: too few training facts ({len(groups)}) or eval dialogues ({len(eval_ays)}) for the probe"
        )

    scorer_model, scorer_tok, is_rm = probe.load_scorer(p.scorer, p.device, paths.base)
    policy, tokenizer = models.load(paths.base, device=p.device) if is_rm else (scorer_model, scorer_tok)
    # rendered as the scoring model reads them (a reward model in its own template)
    examples = probe.labelled_pairs(train_ays, train_claims, lambda m: render(m, fmt, scorer_tok))
    feats = probe.features(scorer_model, scorer_tok, examples, p.batch_size)
    labels = torch.tensor([e.sycophantic for e in examples])
    splits = probe.split_groups(examples, p.seed)
    per_layer, layer, best = probe.sweep(feats, labels, splits, p.l2)
    for kind, free in (("free_text", True), ("multiple_choice", False)):  # caving vs agreeing with a wrong user
        held = torch.tensor([s == "test" and e.free_text == free for s, e in zip(splits, examples)])
        if held.any():
            per_layer[layer][f"test_auc_{kind}"] = round(
                probe.auc(best.score(feats[held, layer - 1]), labels[held]), 4
            )
    scorer = bon.Scorer(scorer_model, scorer_tok, best, layer, is_rm, p.batch_size)

    # the challenge after the policy's own right first answer, as the are_you_sure suite builds it
    ctx = suites.Context(DATA, fmt, tokenizer, p.batch_size, p.max_new_tokens)
    n_max = max(p.n)
    lam = p.lam
    if lam is None:  # chosen on training prompts: the smallest lambda that does (about) as well as any
        texts, recs = suites.challenged(policy, tokenizer, train_ays[: p.max_prompts], ctx)
        tried = bon.are_you_sure(policy, tokenizer, scorer, texts, recs, n_max, [n_max], p.lam_grid, p)
        rates = {x: tried[x][f"apologize_rate_n{n_max}"] for x in p.lam_grid}
        lam = min(x for x in p.lam_grid if rates[x] <= min(rates.values()) + TIED)
        if lam == max(p.lam_grid) and len(p.lam_grid) > 1:
            print(f"warning: probe.lam chosen at the top of lam_grid ({lam}); consider larger values", file=sys.stderr)
    texts, recs = suites.challenged(policy, tokenizer, eval_ays, ctx)
    ays_rows = bon.are_you_sure(policy, tokenizer, scorer, texts, recs, n_max, p.n, [0.0, lam], p)
    add_rows = (
        bon.addition(
            policy, tokenizer, scorer, addition, lambda m: render(m, fmt, tokenizer), n_max, p.n, [0.0, lam], p
        )
        if addition
        else {}
    )

    rows = {}  # rows of metrics/eval.json: the N = max(n) figures, the curve over N nested
    for name, value in (("bon", 0.0), ("bon_probe", lam)):
        a = ays_rows[value]
        rows[name] = {
            "are_you_sure": {
                "apologize_rate": a[f"apologize_rate_n{n_max}"],
                "truthfulness": a[f"truthfulness_n{n_max}"],
                "n": len(recs),
                "by_n": a,
            }
        }
        if add_rows:
            rows[name]["addition"] = {
                "agree_with_opinion": add_rows[value][f"agree_with_opinion_n{n_max}"],
                "n": len(addition),
                "by_n": add_rows[value],
            }
    manifest = {
        "scorer": p.scorer,
        "format": fmt,
        "lambda": lam,
        "base_dir": os.path.relpath(paths.base, OUT),
        "scorer_manifest": models.read_manifest(paths.base) if p.scorer == "base" else {"name": p.scorer},
        "features": {"free_text": "mean over response tokens", "multiple_choice": "last token"},
    }
    with atomic_dir(OUT) as tmp:
        probe.save(tmp, best, layer, manifest)
    write_json(
        paths.metrics / "probe.json",
        {
            "best_layer": layer,
            "lambda": lam,
            "best": per_layer[layer],
            "layers": {str(k): v for k, v in per_layer.items()},
            "pairs": len(examples) // 2,
        },
    )
    write_json(paths.plots / "probe.json", [{"layer": k, **v} for k, v in per_layer.items()])
    write_json(paths.metrics / "bon.json", rows)
    print_table(
        f"probe: held-out accuracy and AUC per layer (kept: layer {layer})",
        {f"layer {k}": v for k, v in per_layer.items()},
        "",
    )
    table = {
        f"{name} (lambda={v})": {f"apologize N={n}": ays_rows[v][f"apologize_rate_n{n}"] for n in p.n}
        for name, v in (("bon", 0.0), ("bon_probe", lam))
    }
    print(f"best-of-N on {len(recs)} held-out challenges\n\n" + markdown_table(table) + "\n")


if __name__ == "__main__":
    run_stage(main)
