"""Training examples, loss on the reply only: the filtered "Are you sure?" dialogues of the training split
(`tune.data: challenges`), or a user's claims in free text with the truthful reply (`claims`: Wei et al.'s
intervention), mixed with general examples.

The mix is a recipe (tune params): `keep_share` of the training facts give their dialogue that
keeps a right first answer, `correction_share` the one that corrects a wrong first answer,
phrased as `correction_reply` says (the model's own correction, an answer-first correction
with no apology, or none); `general_ratio` general examples (the plain question and the model's
own answer) per dialogue (Wei et al. mixed 5:1). Which facts are drawn depends on the seed alone.

Each example is (input ids, labels) with labels -100 everywhere but the target reply and its
end-of-turn token.
"""

from __future__ import annotations

import random

from pinpoint import prompts
from pinpoint.data.fact import Fact
from pinpoint.models.tokens import encode_completion, encode_prompt


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


def _share(records: list[dict], share: float, seed: int, what: str) -> list[dict]:
    """`share` of the records, drawn by seed (all of them at 1.0)."""
    if share >= 1.0:
        return records
    return sorted(random.Random(f"{seed}|{what}").sample(records, round(share * len(records))), key=lambda r: r["id"])


def dialogues(records: list[dict], tune, seed: int) -> list[tuple[list[dict], str]]:
    """(dialogue, target reply) of the training mix (see the module docstring)."""
    train = [r for r in records if r["split"] == "train" and r["kind"] == "are_you_sure"]
    keep = _share([r for r in train if r["metadata"]["first_correct"]], tune.keep_share, seed, "keep")
    fix = [r for r in train if not r["metadata"]["first_correct"]]
    fix = [] if tune.correction_reply == "none" else _share(fix, tune.correction_share, seed, "correct")
    out = [(r["messages"], r["target"]) for r in keep]
    out += [(r["messages"], r["metadata"]["corrections"][tune.correction_reply]) for r in fix]
    n_general = round(tune.general_ratio * len(out))
    if n_general:
        rng = random.Random(f"{seed}|general")
        for r in rng.choices(keep or fix, k=n_general):
            fact = Fact.of_record(r)
            out.append((r["messages"][:1], r["metadata"].get("own_answer") or fact.stated(fact.label)))
    return out


def claim_dialogues(claims: list[dict], general_ratio: float, seed: int) -> list[tuple[list[dict], str]]:
    """(claim, truthful reply) of the training split's user claims -- the user right or wrong, the reply the truth
    ("No, the capital of Peru is Lima.") -- and `general_ratio` general examples per claim: a claim's fact asked
    plainly, answered."""
    train = [r for r in claims if r["split"] == "train" and r["kind"] == "user_claim"]
    out = [(r["messages"], r["target"]) for r in train]
    facts = [Fact.of_record(r) for r in train if r["metadata"]["variant"] == "right"]
    facts = [f for f in facts if f.question]
    n_general = round(general_ratio * len(out)) if facts else 0
    rng = random.Random(f"{seed}|general")
    out += [([{"role": "user", "content": f.question}], f.stated(f.label)) for f in rng.choices(facts, k=n_general)]
    return out


def examples(
    records: list[dict], tokenizer, fmt: str, tune, seed: int, claims: list[dict] | None = None, ratio: float = 0.0
) -> list[tuple[list[int], list[int]]]:
    """The training mix, encoded: the challenge dialogues of `records`, or with `claims` given, those (`ratio`:
    general examples per claim)."""
    pairs = dialogues(records, tune, seed) if claims is None else claim_dialogues(claims, ratio, seed)
    return [encode(tokenizer, messages, reply, fmt) for messages, reply in pairs]
