"""Benchmark: reading shared beginnings once (pinpoint.models.shared_prefix) against reading every prompt whole.

  python benchmarks/prefill.py [--quick]

SmolLM2-135M-Instruct (the pipeline's models/smollm2/base, or de-quantized from the installed wheel
into a temporary directory), fp32 on the CPU, on 32 chat-formatted "Are you sure?" dialogues (its
system message, a question, a right first answer, the challenge: about 70 tokens, the first 29 shared by all).
Each pair runs in one process, one after the other, on the same inputs:

1. greedy: 24 new tokens per dialogue, batch 32 -- `scoring.greedy` (the shared system message read
   once) vs `model.generate` on the left-padded prompts; the replies must be the same text.
2. sampling: 8 replies to each of 8 dialogues (best-of-N's shape) -- each prompt read once and its
   cache copied 8 times vs `num_return_sequences=8` (transformers copies the prompt 8 times, then
   reads every copy).
3. completions: log p of two continuations per dialogue (the readout's shape: its own restated answer,
   and the same with the wrong one) -- each prompt read once vs each (prompt, continuation) read whole, in one batch;
   the largest difference in log p is reported (float summation order only).

Targets (ratios, whole over once): greedy >= 1.2x, sampling >= 2x, completions >= 1.5x, same replies,
|delta log p| <= 1e-3. Results: benchmarks/results/prefill.json. --quick: 8 dialogues, a smoke run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import torch
from attribute import timed  # benchmarks/attribute.py's: the best of `repeat` runs (here one)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results" / "prefill.json"


def load():
    from pinpoint.models import gguf, loading

    base = ROOT / "models/smollm2/base"
    if not (base / loading.MANIFEST).exists():
        base = Path(tempfile.mkdtemp()) / "smollm2"
        gguf.convert_gguf(gguf.smollm2_file(), base, gguf.SMOLLM2)
    return loading.load(base, device="cpu")


def dialogues(tokenizer, n: int) -> tuple[list[str], list[str], list[str]]:
    """(prompts, right restatements, wrong restatements), n of each: the built-in capitals (the next
    country's capital as the wrong one), SPT's reference challenge."""
    from pinpoint import prompts
    from pinpoint.data import real_facts

    capitals = real_facts.load("capitals")[: n + 1]
    out, right, wrong = [], [], []
    for fact, other in zip(capitals, capitals[1:]):
        said = fact.stated(fact.label)
        out.append(
            prompts.render(prompts.challenge_dialogue(fact.question, said, prompts.CHALLENGE), "chat", tokenizer)
        )
        right.append(said)
        wrong.append(fact.stated(other.label))
    return out, right, wrong


@torch.no_grad()
def plain_greedy(model, tokenizer, texts, new_tokens):
    from pinpoint.models.scoring import end_of_turn, end_of_turn_ids
    from pinpoint.models.tokens import encode_prompt, left_pad

    ids, mask = left_pad([encode_prompt(tokenizer, t) for t in texts], tokenizer.pad_token_id, "cpu")
    gen = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=end_of_turn_ids(model, tokenizer),
    )
    return [end_of_turn(tokenizer.decode(g[ids.shape[1] :], skip_special_tokens=True)) for g in gen]


@torch.no_grad()
def plain_samples(model, tokenizer, texts, n, new_tokens):
    from pinpoint.models.scoring import end_of_turn_ids
    from pinpoint.models.tokens import encode_prompt, left_pad

    torch.manual_seed(0)
    ids, mask = left_pad([encode_prompt(tokenizer, t) for t in texts], tokenizer.pad_token_id, "cpu")
    return model.generate(
        input_ids=ids,
        attention_mask=mask,
        do_sample=True,
        top_k=0,
        num_return_sequences=n,
        max_new_tokens=new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=end_of_turn_ids(model, tokenizer),
    )


@torch.no_grad()
def plain_logprobs(model, tokenizer, texts, completions):
    """Every (prompt, continuation) read whole, all in one left-padded batch (as scoring did before)."""
    from pinpoint.models.tokens import encode_completion, encode_prompt, forward, left_pad

    pairs = [(encode_prompt(tokenizer, t), encode_completion(tokenizer, c)) for t, c in zip(texts, completions)]
    ids, mask = left_pad([h + t for h, t in pairs], tokenizer.pad_token_id, "cpu")
    logits = forward(model, ids, mask).logits
    out = []
    for row, (_, tail) in enumerate(pairs):
        logp = torch.log_softmax(logits[row, -len(tail) - 1 : -1].float(), -1)
        out.append(logp.gather(-1, torch.tensor(tail)[:, None]).sum().item())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from pinpoint import environment, prompts
    from pinpoint.models import scoring

    environment.pin_threads()
    model, tokenizer = load()
    n = 8 if args.quick else 32
    texts, right, wrong = dialogues(tokenizer, n)
    out = {"model": "SmolLM2-135M-Instruct (fp32, CPU)", "dialogues": n, "machine": platform.processor() or "cpu"}

    t_once, once = timed(lambda: scoring.greedy(model, tokenizer, texts, 24, batch_size=n))
    t_whole, whole = timed(lambda: plain_greedy(model, tokenizer, texts, 24))
    same = sum(a == b for a, b in zip(once, whole))
    out["greedy"] = {"once_s": round(t_once, 2), "whole_s": round(t_whole, 2), "ratio": round(t_whole / t_once, 2)}
    out["greedy"]["same_replies"] = f"{same}/{n}"

    k = 8
    sampling = scoring.Sampling(k, 1.0, 0)
    t_once, _ = timed(lambda: scoring.sample(model, tokenizer, texts[:k], sampling, 24, batch_size=k * k))
    t_whole, _ = timed(lambda: plain_samples(model, tokenizer, texts[:k], k, 24))
    out["sampling"] = {"once_s": round(t_once, 2), "whole_s": round(t_whole, 2), "ratio": round(t_whole / t_once, 2)}

    asked = [t for t in texts for _ in range(2)]
    tails = [prompts.reply_text(c, "chat") for pair in zip(right, wrong) for c in pair]
    t_once, lp_once = timed(lambda: scoring.completion_logprobs(model, tokenizer, asked, tails, batch_size=2 * n))
    t_whole, lp_whole = timed(lambda: plain_logprobs(model, tokenizer, asked, tails))
    gap = max(abs(a - b) for a, b in zip(lp_once, lp_whole))
    out["completions"] = {
        "once_s": round(t_once, 2),
        "whole_s": round(t_whole, 2),
        "ratio": round(t_whole / t_once, 2),
        "max_abs_diff_logp": float(f"{gap:.2e}"),
    }
    out["targets_met"] = {
        "greedy >= 1.2x, same replies": out["greedy"]["ratio"] >= 1.2 and same == n,
        "sampling >= 2x": out["sampling"]["ratio"] >= 2,
        "completions >= 1.5x, |dlogp| <= 1e-3": out["completions"]["ratio"] >= 1.5 and gap <= 1e-3,
    }
    print(json.dumps(out, indent=2))
    if not args.quick:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
