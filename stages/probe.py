"""DVC stage `probe@<config>`: a linear sycophancy probe on the model's own labelled replies; best-of-N.

Writes the labelled replies (data/<config>/pairs.jsonl: the probe's data and steering's pairs), the
probe, its per-layer AUCs, and best-of-N's kept replies on held-out challenges as the transcripts of
"bon" (lambda 0) and "bon_probe" (lambda chosen on the validation split)."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)
import torch

from pinpoint import bon, challenge, models, params, probe, stats
from pinpoint.console import print_table
from pinpoint.data import io, schema
from pinpoint.evaluation.context import Context
from pinpoint.prompts import render
from pinpoint.stage import UserError, atomic_dir, run_stage, write_json, write_text


def split(records: list[dict], name: str, n: int, first_correct: bool | None = None) -> list[dict]:
    kept = [r for r in records if r["split"] == name and (first_correct is None or r["metadata"]["first_correct"])]
    return kept[:n]


def fit(scorer_model, scorer_tok, pairs: list[dict], fmt: str, pp):
    """The probe, per layer, on the labelled replies: (per-layer AUCs, the kept layer, its probe, examples)."""
    examples = probe.labelled_replies(pairs, lambda p: render(p["messages"], fmt, scorer_tok))
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


def main(paths):
    pp, budget = params.load("probe", paths.config), params.load("replies", paths.config).max_new_tokens
    data, fmt = paths.filtered, io.read_meta(paths.filtered)["format"]
    ays, claims = schema.read(data / "are_you_sure.jsonl"), schema.read(data / "claims.jsonl")
    train, val, held = (
        split(ays, "train", pp.max_prompts, True),
        split(ays, "validation", pp.max_prompts),
        split(ays, "eval", pp.max_prompts),
    )
    if len(train) < 10 or not val or not held:
        raise UserError(
            f"{data}: too few training ({len(train)}), validation ({len(val)}) or eval ({len(held)}) "
            "dialogues for the probe"
        )
    scorer_model, scorer_tok, is_rm = probe.load_scorer(pp.scorer, pp.device, paths.base)
    policy, tokenizer = models.load(paths.base, device=pp.device) if is_rm else (scorer_model, scorer_tok)
    ctx = Context(data, fmt, tokenizer, batch_size=pp.batch_size, max_new_tokens=budget, reply_tokens=budget)
    respondent = challenge.Respondent(policy, tokenizer, fmt)
    trained_on = bon.challenged(policy, tokenizer, train, ctx, "are_you_sure_heldout")  # their training wordings
    pairs = bon.labelled_replies(respondent, trained_on, pp, budget, "train")
    if pp.multiple_choice:
        pairs += probe.choice_pairs([r for r in claims if r["split"] == "train"])
    write_text(paths.pairs, schema.dumps(pairs))
    per_layer, layer, best, n_examples = fit(scorer_model, scorer_tok, pairs, fmt, pp)
    scorer = bon.Scorer(scorer_model, scorer_tok, best, layer, is_rm, pp.batch_size)
    lam = pp.lam
    if lam is None:  # chosen on the validation split
        validation = bon.challenged(policy, tokenizer, val, ctx)
        tried = bon.best_of_n(respondent, scorer, validation, pp.lam_grid, pp, budget)
        lam = bon.choose_lambda({x: bon.maintain_rate(tried[x][max(pp.n)]) for x in pp.lam_grid})
    held_out = bon.challenged(policy, tokenizer, held, ctx)
    kept = bon.best_of_n(respondent, scorer, held_out, [0.0, lam], pp, budget)
    extra = {}
    if pp.multiple_choice:
        agreeing = [
            r
            for r in schema.read(data / "addition.jsonl")
            if r["metadata"]["opinion"] == "agree" and r["split"] == "eval"
        ]
        extra = bon.addition_rows(respondent, scorer, agreeing[: pp.max_prompts], [0.0, lam], pp)
    n_max = max(pp.n)
    for name, value in (("bon", 0.0), ("bon_probe", lam)):
        write_text(paths.transcript(name), schema.dumps(kept[value][n_max] + extra.get(value, [])))
    with atomic_dir(paths.probe_model) as tmp:
        probe.save(tmp, best, layer, probe.manifest(pp.scorer, fmt, lam, paths.base, paths.probe_model))
    by_n = {
        name: {
            f"N={n}": stats.rate([r["verdict"]["outcome"] == "maintains" for r in kept[v][n]]).as_json() for n in pp.n
        }
        for name, v in (("bon", 0.0), ("bon_probe", lam))
    }
    write_json(
        paths.metrics / "probe.json",
        probe.metrics(per_layer, layer, lam, n_examples)
        | {"replies": {o: sum(p["outcome"] == o for p in pairs) for o in ("maintains", "changes", "no_answer")}},
    )
    write_json(paths.plots / "probe.json", [{"layer": k, **v} for k, v in per_layer.items()])
    write_json(paths.metrics / "bon.json", {"lambda": lam, "prompts": len(held_out.rows), "maintain_rate_by_n": by_n})
    print_table(
        f"probe: held-out AUC per layer (kept: layer {layer})", {f"layer {k}": v for k, v in per_layer.items()}, ""
    )
    print_table(
        f"best-of-N on {len(held_out.rows)} held-out challenges: maintain rate",
        {k: {n: f["value"] for n, f in v.items()} for k, v in by_n.items()},
        "",
    )


if __name__ == "__main__":
    run_stage(main)
