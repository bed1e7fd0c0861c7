"""DVC stage `probe@<config>`: a linear sycophancy probe per layer; probe-penalised best-of-N."""

import torch

from pinpoint import bon, models, params, probe
from pinpoint.data import io, schema
from pinpoint.evaluation import suites
from pinpoint.prompts import render
from pinpoint.report import markdown_table, print_table
from pinpoint.stage import UserError, atomic_dir, run_stage, write_json


def main(paths):
    probe_params = params.load("probe", paths.config)
    data = paths.filtered
    fmt = io.read_meta(data)["format"]
    ays, claims = schema.read(data / "are_you_sure.jsonl"), schema.read(data / "claims.jsonl")
    agreeing = [r for r in schema.read(data / "addition.jsonl") if r["metadata"]["opinion"] == "agree"]
    addition = agreeing[: probe_params.max_prompts] if probe_params.multiple_choice else []
    train_ays = [r for r in ays if r["split"] == "train"]
    eval_ays = [r for r in ays if r["split"] == "eval"][: probe_params.max_prompts]
    train_claims = [r for r in claims if r["split"] == "train"]
    # the probe never sees the eval prompts best-of-N is reported on; one fact, one split
    groups = {e.group for e in probe.labelled_pairs(train_ays, train_claims, lambda m: "")}
    if len(groups) < 10 or not eval_ays:
        raise UserError(
            f"{data}: too few training facts ({len(groups)}) or eval dialogues ({len(eval_ays)}) for the probe"
        )

    scorer_model, scorer_tok, is_rm = probe.load_scorer(probe_params.scorer, probe_params.device, paths.base)
    policy, tokenizer = models.load(paths.base, device=probe_params.device) if is_rm else (scorer_model, scorer_tok)
    # rendered as the scoring model reads them (a reward model in its own template)
    examples = probe.labelled_pairs(train_ays, train_claims, lambda m: render(m, fmt, scorer_tok))
    feats = probe.features(scorer_model, scorer_tok, examples, probe_params.batch_size)  # (examples, layers, d)
    labels = torch.tensor([e.sycophantic for e in examples])
    splits = probe.split_groups(examples, probe_params.seed)
    per_layer, layer, best = probe.sweep(feats, labels, splits, probe_params.l2)
    per_layer[layer].update(probe.test_auc_by_kind(best, feats[:, layer - 1], labels, splits, examples))
    scorer = bon.Scorer(scorer_model, scorer_tok, best, layer, is_rm, probe_params.batch_size)

    # the challenge after the policy's own right first answer, as the are_you_sure suite builds it
    ctx = suites.Context(data, fmt, tokenizer, probe_params.batch_size, probe_params.max_new_tokens)
    n_max = max(probe_params.n)
    lam = probe_params.lam
    if lam is None:  # chosen on training prompts
        texts, recs = suites.challenged(policy, tokenizer, train_ays[: probe_params.max_prompts], ctx)
        grid = probe_params.lam_grid
        tried = bon.are_you_sure(policy, tokenizer, scorer, texts, recs, n_max, [n_max], grid, probe_params)
        lam = bon.choose_lambda({x: tried[x][f"apologize_rate_n{n_max}"] for x in grid})
    texts, recs = suites.challenged(policy, tokenizer, eval_ays, ctx)
    lams = [0.0, lam]
    ays_rows = bon.are_you_sure(policy, tokenizer, scorer, texts, recs, n_max, probe_params.n, lams, probe_params)
    add_rows = {}
    if addition:
        add_rows = bon.addition(
            policy,
            tokenizer,
            scorer,
            addition,
            lambda m: render(m, fmt, tokenizer),
            n_max,
            probe_params.n,
            lams,
            probe_params,
        )

    with atomic_dir(paths.probe_model) as tmp:
        probe.save(tmp, best, layer, probe.manifest(probe_params.scorer, fmt, lam, paths.base, paths.probe_model))
    write_json(paths.metrics / "probe.json", probe.metrics(per_layer, layer, lam, len(examples) // 2))
    write_json(paths.plots / "probe.json", [{"layer": k, **v} for k, v in per_layer.items()])
    write_json(paths.metrics / "bon.json", bon.eval_rows(ays_rows, add_rows, lam, n_max, len(recs), len(addition)))
    print_table(
        f"probe: held-out accuracy and AUC per layer (kept: layer {layer})",
        {f"layer {k}": v for k, v in per_layer.items()},
        "",
    )
    table = markdown_table(bon.summary_table(ays_rows, lam, probe_params.n))
    print(f"best-of-N on {len(recs)} held-out challenges\n\n{table}\n")


if __name__ == "__main__":
    run_stage(main)
