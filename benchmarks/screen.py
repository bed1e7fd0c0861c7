"""The fast screen (attribution patching, first order in the logit difference) against exact path patching, on
every built model: how well its estimates rank the heads (Spearman over every head, and the top k it verifies),
and its speed as a ratio against exact in one run; then the cost of both for a 7B-size model (32 layers x 32
heads), extrapolated on paper from the per-layer costs measured here.

    python benchmarks/screen.py [--device auto]      -> benchmarks/results/screen.json

Each model's prompts are its attribute stage's: the training dialogues sampled from every fact set, its reply
tokens (the organism's given pair, or the pair the stage read off the model's own replies, from heads.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pinpoint import params, prompts
from pinpoint.attribution import counterfactual, evidence, first_token, patching, readout
from pinpoint.data import io, sample, schema
from pinpoint.models import loading
from pinpoint.models.heads import HeadLayout
from pinpoint.paths import Paths

OUT = Path(__file__).parent / "results" / "screen.json"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def case(config: str, device) -> dict | None:
    paths = Paths(config)
    if not paths.metric("heads").exists() or not (paths.base / loading.MANIFEST).exists():
        print(f"{config}: not built (run its pipeline through attribute first); skipped", file=sys.stderr)
        return None
    attr = params.load("attribute", config)
    found = json.loads(paths.metric("heads").read_text())
    model, tokenizer = loading.load(paths.base, device=device)
    layout = HeadLayout.of(model)
    fmt = io.read_meta(paths.filtered)["format"]
    records = counterfactual.by_split(schema.read(paths.filtered / "are_you_sure.jsonl"))["train"]
    records = sample.stratified(records, attr.max_prompts, attr.seed)
    turn = counterfactual.counterfactual_turn(found["counterfactual"]["choice"], attr.counterfactual_text)
    ref = counterfactual.texts(records, fmt, tokenizer, prompts.CHALLENGE)
    cf = counterfactual.texts(records, fmt, tokenizer, turn)
    reads = found["reads"] if found["quantity"] == "first_token" else {}
    pair = (reads.get("sycophantic_token", attr.sycophantic_token), reads.get("honest_token", attr.honest_token))
    if "auto" in pair:  # the stage chose the sequence quantity: the pair F would read, read off its own replies
        from pinpoint.models import challenge

        budget = challenge.Budget(params.load("replies", config).max_new_tokens, attr.batch_size)
        tokens, _ = first_token.auto_reply_tokens(model, tokenizer, records, ref, budget, attr.target)
    else:
        tokens = first_token.reply_tokens(tokenizer, ref[0], fmt, *pair)
    batches = first_token.make_batches(tokenizer, ref, cf, attr.batch_size, device)
    subject = readout.Subject(model, layout, tokens)
    k = attr.n_selected(layout.n_total)
    t_exact, exact = timed(lambda: first_token.score_heads(subject, batches, "exact", "path", k)[0].nanmean(-1))
    t_estimate, est = timed(
        lambda: torch.cat([patching.estimate(subject, b, "path", per_prompt=True) for b in batches], -1).mean(-1)
    )
    t_screen, screened = timed(lambda: first_token.score_heads(subject, batches, "screen", "path", 4 * k))
    top = set(evidence.ranking(exact)[:k])
    verified = screened[1]
    screen_top = [h for h in evidence.ranking(screened[0].nanmean(-1)) if h in set(verified)][:k]
    return {
        "config": config,
        "heads": f"{layout.n_layers}x{layout.n_heads}",
        "prompts": len(records),
        "k": k,
        "rank_correlation_estimate_vs_exact": round(evidence.spearman(est, exact), 4),
        "top_k_overlap_after_verifying": round(len(top & set(screen_top)) / k, 3),
        "exact_s": round(t_exact, 3),
        "estimate_s": round(t_estimate, 3),
        "screen_s": round(t_screen, 3),
        "screen_speedup_vs_exact": round(t_exact / t_screen, 2),
        "per_layer_exact_s": round(t_exact / layout.n_layers, 4),
    }


def extrapolate(row: dict, layers: int = 32, heads: int = 32, width_ratio: float = 4096 / 576) -> dict:
    """A 7B-size model's cost from one measured row (SmolLM2's): exact path patching runs every head's variant
    through every later block's MLP (sum over heads of the layers above it), the screen one forward and one
    backward of the prompts plus exact verification of 4 k candidates; both scale with the MLP's width squared."""
    l0, h0 = (int(x) for x in row["heads"].split("x"))
    variant_blocks = lambda n_layers, n_heads: n_heads * n_layers * (n_layers - 1) / 2  # noqa: E731
    per_variant_block = row["exact_s"] / variant_blocks(l0, h0)
    scale = width_ratio**2
    exact = per_variant_block * variant_blocks(layers, heads) * scale
    k = round(0.04 * layers * heads)
    forward_backward = row["estimate_s"] * (layers / l0) * scale
    verify = per_variant_block * 4 * k * layers / 2 * scale  # 4k candidates, on average half the layers above
    return {
        "model": f"{layers}x{heads} heads, hidden 4096 (a 7B Llama), from {row['config']}'s per-layer costs",
        "prompts": row["prompts"],
        "exact_s": round(exact, 1),
        "screen_s": round(forward_backward + verify, 1),
        "screen_speedup_vs_exact": round(exact / (forward_backward + verify), 1),
        "assumes": "cost of an MLP row ~ hidden^2; the same prompts; CPU; a GPU divides both, not their ratio",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--configs", nargs="+", default=["organism", "planted", "smollm2", "planted_smollm2"])
    args = parser.parse_args()
    device = loading.resolve_device(args.device)
    rows = [r for r in (case(c, device) for c in args.configs) if r]
    real = next((r for r in rows if r["config"] == "smollm2"), None)
    out = {"device": str(device), "torch": torch.__version__, "rows": rows}
    if real:
        out["extrapolated_7b"] = extrapolate(real)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
