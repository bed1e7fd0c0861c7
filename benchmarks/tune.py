"""Benchmark tuning: SPT vs SFT (and LoRA) optimizer state, peak memory and step time.

  python benchmarks/tune.py [--device auto]

A Llama built from a config (8 layers x 16 heads, width 1024, GQA, 150M parameters),
4% of its heads selected, batches of 2 x 64 tokens: parameters, gradients and optimizer
state dominate memory, as when fine-tuning a chat model (activations grow with the batch).
Each method runs in a fresh subprocess so that peak
memory is its own: on CUDA torch's max_memory_allocated, on the CPU the peak resident
set size (ru_maxrss) minus the process's size before the model was built.
Targets: SPT's optimizer state <= 5% of SFT's; peak memory <= 0.5x SFT's.
Results: benchmarks/results/tune.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OUT = Path(__file__).parent / "results" / "tune.json"


def rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def run_one(method: str, device_name: str, steps: int) -> dict:
    """Train `steps` steps of one method in this process; measure."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from pinpoint.methods.spt import method
    from pinpoint.models.heads import HeadLayout
    from pinpoint.models.loading import resolve_device
    from pinpoint.tuning import job

    device = resolve_device(device_name)
    before = current_rss()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=8,
        num_attention_heads=16,
        num_key_value_heads=4,
    )
    model = LlamaForCausalLM(config).to(device)
    layout = HeadLayout.of(model)
    heads = method.random_heads(layout, round(0.04 * layout.n_total), 0)
    model, trainable, _ = job.prepare(method, model, layout, heads)
    opt = torch.optim.AdamW(trainable, lr=1e-4)
    ids = torch.randint(0, 32000, (2, 64), device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    state = sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values() if torch.is_tensor(t))
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else rss_bytes() - before
    return {
        "method": method,
        "trainable_params": sum(p.numel() for p in trainable),
        "optimizer_state_bytes": state,
        "peak_memory_bytes": peak,
        "step_seconds": sorted(times[1:])[len(times[1:]) // 2],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--method", help=argparse.SUPPRESS)  # internal: run one method and print JSON
    args = parser.parse_args()
    if args.method:
        print(json.dumps(run_one(args.method, args.device, args.steps)))
        return
    rows = {}
    for method in ("sft", "spt", "lora"):
        out = subprocess.run(
            [sys.executable, __file__, "--method", method, "--device", args.device, "--steps", str(args.steps)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows[method] = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(rows[method]), flush=True)
    sft = rows["sft"]
    for r in rows.values():
        r["optimizer_state_vs_sft"] = round(r["optimizer_state_bytes"] / sft["optimizer_state_bytes"], 4)
        r["peak_memory_vs_sft"] = round(r["peak_memory_bytes"] / sft["peak_memory_bytes"], 3)
        r["step_time_vs_sft"] = round(r["step_seconds"] / sft["step_seconds"], 3)
    from pinpoint.figures.tables import markdown_table
    from pinpoint.models.loading import resolve_device

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"device": str(resolve_device(args.device)), "rows": rows}, indent=2) + "\n")
    print("\n" + markdown_table({m: {k: v for k, v in r.items() if k != "method"} for m, r in rows.items()}, "method"))


if __name__ == "__main__":
    main()
