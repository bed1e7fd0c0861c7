"""Benchmark head attribution: naive vs exact vs screen, as ratios measured in one run.

  python benchmarks/attribute.py [--quick] [--device auto]

1. The organism (models/organism/base, after `make repro`): 64 challenge prompts.
2. A 24-layer x 16-head Llama built from a config (small width, random weights, CPU),
   16 prompts of 48 tokens whose counterfactual changes the last 4 tokens.
On CUDA, case 2 also runs at a larger width. Results: benchmarks/results/attribute.json.
Targets: exact >= 10x naive with |exact - naive| <= 1e-5; screen >= 50x naive on the
24 x 16 model with top-k overlap >= 90%.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinpoint.attribution import patching, readout  # noqa: E402
from pinpoint.models import loading
from pinpoint.models.heads import HeadLayout  # noqa: E402
from pinpoint.paths import Paths  # noqa: E402

OUT = Path(__file__).parent / "results" / "attribute.json"


def timed(fn, repeat: int = 1):
    best, result = float("inf"), None
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def compare(name, model, batch, tokens, k, mode="path", naive_repeat=1, repeat=3) -> dict:
    layout = HeadLayout.of(model)
    subject = readout.Subject(model, layout, tokens)
    with torch.no_grad():
        t_naive, s_naive = timed(lambda: patching.naive(subject, batch, mode), naive_repeat)
        t_exact, s_exact = timed(lambda: patching.exact(subject, batch, mode), repeat)
    t_screen, (s_screen, _) = timed(lambda: patching.screen(subject, batch, mode, verify=2 * k), repeat)
    top_exact = set(patching.select(s_exact, k))
    verified = [
        (l, h) for l in range(layout.n_layers) for h in range(layout.n_heads) if not torch.isnan(s_screen[l, h])
    ]
    top_screen = set(patching.select(s_screen, k, among=verified))
    row = {
        "model": name,
        "mode": mode,
        "heads": f"{layout.n_layers}x{layout.n_heads}",
        "prompts": int(batch.ref_ids.shape[0]),
        "tokens": int(batch.ref_ids.shape[1]),
        "naive_s": round(t_naive, 4),
        "exact_s": round(t_exact, 4),
        "screen_s": round(t_screen, 4),
        "exact_speedup": round(t_naive / t_exact, 1),
        "screen_speedup": round(t_naive / t_screen, 1),
        "exact_max_abs_diff": float((s_exact - s_naive).abs().max()),
        "top_k": k,
        "screen_topk_overlap": round(len(top_exact & top_screen) / k, 3),
    }
    print(json.dumps(row), flush=True)
    return row


def organism_case(device) -> list[dict]:
    paths = Paths("organism")
    base = paths.base
    if not (base / loading.MANIFEST).exists():
        print(f"{base} not found: run `make repro` first; skipping the organism", file=sys.stderr)
        return []
    from pinpoint import prompts
    from pinpoint.attribution import counterfactual, first_token
    from pinpoint.data import sample, schema

    model, tok = loading.load(base, device=device)
    records = counterfactual.by_split(schema.read(paths.filtered / "are_you_sure.jsonl"))["train"]
    records = sample.stratified(records, 64, 0)  # as the attribute stage samples them
    ref = counterfactual.texts(records, "plain", tok, prompts.CHALLENGE)
    cf = counterfactual.texts(records, "plain", tok, counterfactual.COUNTERFACTUALS["affirmation"])
    (batch,) = first_token.make_batches(tok, ref, cf, 64, model.device)
    tokens = first_token.reply_tokens(tok, ref[0], "plain", "Apologies", "Yes")
    k = max(1, round(0.04 * HeadLayout.of(model).n_total))
    return [compare("organism", model, batch, tokens, k, mode, naive_repeat=2) for mode in ("path", "activation")]


def config_case(device, hidden: int, prompts: int, length: int, name: str) -> list[dict]:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=1000,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=24,
        num_attention_heads=16,
        num_key_value_heads=4,
        max_position_embeddings=512,
    )
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    g = torch.Generator().manual_seed(0)
    ref = torch.randint(0, 1000, (prompts, length), generator=g)
    cf = ref.clone()
    cf[:, -5:-1] = torch.randint(0, 1000, (prompts, 4), generator=g)  # "don't" -> "do": a change near the end
    mask = torch.ones_like(ref)
    batch = readout.Batch(ref.to(device), mask.to(device), cf.to(device), mask.to(device))
    return [compare(name, model, batch, (11, 22), round(0.04 * 24 * 16), mode) for mode in ("path", "activation")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="fewer prompts (a smoke run)")
    args = parser.parse_args()
    device = loading.resolve_device(args.device)
    torch.set_grad_enabled(True)
    rows = organism_case(device)
    rows += config_case(device, hidden=128, prompts=8 if args.quick else 16, length=48, name="llama-24x16-d128")
    if device.type == "cuda":
        rows += config_case(device, hidden=1024, prompts=32, length=128, name="llama-24x16-d1024")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"device": str(device), "torch": torch.__version__, "rows": rows}, indent=2) + "\n")
    from pinpoint.figures.tables import markdown_table

    print(
        "\n"
        + markdown_table(
            {f"{r['model']} ({r['mode']})": {k: v for k, v in r.items() if k not in ("model", "mode")} for r in rows},
            "model",
        )
    )


if __name__ == "__main__":
    main()
