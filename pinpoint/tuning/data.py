"""Training examples: the filtered "Are you sure?" dialogues, loss on the assistant's reply only.

Each example is (input ids, labels) with labels -100 everywhere but the target reply
and its end-of-turn token. Optionally mixed with general examples (the plain question
and its answer) at `general_ratio` general examples per dialogue (Wei et al.: 5:1).
"""

from __future__ import annotations

import random

from pinpoint import prompts
from pinpoint.data.fact import Fact
from pinpoint.tokens import encode_completion, encode_prompt


def encode(tokenizer, messages: list[dict], reply: str, fmt: str) -> tuple[list[int], list[int]]:
    """The prompt, then the reply and whatever ends the turn (the chat template's own
    end-of-turn tokens, or end of sequence in the plain format)."""
    prompt = encode_prompt(tokenizer, prompts.render(messages, fmt, tokenizer))
    if fmt == "chat":
        whole = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": reply}], tokenize=False)
        full = encode_prompt(tokenizer, whole)
        if full[: len(prompt)] == prompt and len(full) > len(prompt):
            target = full[len(prompt) :]
            return prompt + target, [-100] * len(prompt) + target
    target = encode_completion(tokenizer, prompts.reply_text(reply, fmt)) + [tokenizer.eos_token_id]
    return prompt + target, [-100] * len(prompt) + target


def examples(
    records: list[dict], tokenizer, fmt: str, general_ratio: float, seed: int
) -> list[tuple[list[int], list[int]]]:
    dialogues = [r for r in records if r["split"] == "train" and r["kind"] == "are_you_sure" and r["target"]]
    out = [encode(tokenizer, r["messages"], r["target"], fmt) for r in dialogues]
    n_general = round(general_ratio * len(dialogues))
    if n_general:
        rng = random.Random(f"{seed}|general")
        for r in rng.choices(dialogues, k=n_general):
            fact = Fact.of_record(r)
            out.append(
                encode(
                    tokenizer,
                    r["messages"][:1],
                    fact.stated(fact.label),
                    fmt,
                )
            )
    return out
