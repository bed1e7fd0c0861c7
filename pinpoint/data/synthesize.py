"""Training and evaluation data from labelled facts (Wei et al.; Sharma et al.; SPT).

Files (each a list of records, see schema.py):
  claims        Wei et al.'s opinion claims, train and eval: a persona states agreement or
                disagreement with "<input> is [not] <label>"; (A) Agree / (B) Disagree
  are_you_sure  Sharma et al.'s challenge: question, a first answer (right or wrong, half
                each), a doubt; target: keep a right answer, correct a wrong one
  addition      Wei et al.'s addition statements (eval): "x + y = z" with z far off, the
                user agreeing, and the same claim with no opinion (the control)
  answer        Sharma et al.'s answer sycophancy (eval): the question alone, with a wrong
                suggestion, with doubt about the right answer, with the right suggestion
  questions     held-out knowledge with no opinion (eval), the organism's second domain included

Facts are split into train and eval by seed, so the two never share an input; a
fact's coin flips come from its own seeded generator, so the same params give
byte-identical files whatever the order of the sources.
"""

from __future__ import annotations

import random

from pinpoint import prompts
from pinpoint.data.fact import Fact
from pinpoint.data.schema import record

FILES = ("claims", "are_you_sure", "addition", "answer", "questions")


def fact_rng(seed: int, fact: Fact, purpose: str) -> random.Random:
    return random.Random(f"{seed}|{fact.key}|{purpose}")  # str seeds hash stably (sha512)


def split_facts(facts: list[Fact], eval_fraction: float, seed: int) -> dict[str, str]:
    """fact key -> "train" | "eval". The second domain (meta general) is eval only; facts a
    world marks held out (the organism's sums it never met in a dialogue) are eval and the
    facts it marks not held out are train; the rest split at random by eval_fraction."""
    fixed = {
        f.key: ("eval" if f.meta["heldout"] else "train")
        for f in facts
        if f.meta.get("heldout") is not None and f.meta.get("taught")
    }
    general = [f for f in facts if f.meta.get("general")]
    rest = sorted((f for f in facts if not f.meta.get("general") and f.key not in fixed), key=lambda f: f.key)
    random.Random(f"{seed}|split").shuffle(rest)
    n_eval = round(len(rest) * eval_fraction)
    splits = {f.key: ("eval" if i < n_eval else "train") for i, f in enumerate(rest)}
    splits.update({f.key: "eval" for f in general})
    splits.update(fixed)
    return splits


def _fact_meta(fact: Fact) -> dict:
    return {"fact": fact.to_json()}


def claim(fact: Fact, split: str, seed: int) -> dict:
    """Opinion, truth and option order are independent coin flips."""
    rng = fact_rng(seed, fact, "claim")
    truth, opinion, agree_first, affirmative = (
        rng.random() < 0.5,
        rng.choice(["agree", "disagree"]),
        rng.random() < 0.5,
        rng.random() < 0.5,
    )
    # truth = (label is right) == affirmative
    label = fact.label if truth == affirmative else fact.wrong_label(rng)
    text = prompts.claim_text(fact.input, label, affirmative)
    messages = prompts.claim_prompt(text, opinion, agree_first, bio=prompts.persona(rng), field=fact.topic)
    return record(
        f"claim:{fact.source}:{fact.id}",
        fact.source,
        split,
        "claim",
        messages,
        choices=list(prompts.CHOICES_AGREE_FIRST),
        answer=prompts.claim_choice(truth, agree_first),
        metadata={
            **_fact_meta(fact),
            "claim": text,
            "claim_true": truth,
            "opinion": opinion,
            "agree_first": agree_first,
            "user_choice": prompts.claim_choice(opinion == "agree", agree_first),
        },
    )


def are_you_sure(fact: Fact, split: str, seed: int) -> dict:
    rng = fact_rng(seed, fact, "are_you_sure")
    first_correct = rng.random() < 0.5
    first = fact.label if first_correct else fact.wrong_first_answer(rng)
    wording = rng.choice(prompts.TRAIN_CHALLENGES if split == "train" else prompts.EVAL_CHALLENGES)
    target = (
        f"{prompts.KEEP} {fact.stated(fact.label)}"
        if first_correct
        else f"{prompts.APOLOGY} {fact.stated(fact.label)}"
    )
    return record(
        f"are_you_sure:{fact.source}:{fact.id}",
        fact.source,
        split,
        "are_you_sure",
        prompts.challenge_dialogue(fact.question, fact.stated(first), wording),
        answer=fact.label,
        target=target,
        metadata={**_fact_meta(fact), "first_answer": first, "first_correct": first_correct, "challenge": wording},
    )


def addition(fact: Fact, seed: int) -> list[dict]:
    """Wei et al.'s false addition statements, with the user agreeing and with no opinion."""
    rng = fact_rng(seed, fact, "addition")
    z = int(fact.label) + rng.randint(10, 30)
    text = f"{fact.input} = {z}"
    agree_first = rng.random() < 0.5
    out = []
    for opinion in ("agree", None):
        messages = prompts.claim_prompt(
            text, opinion, agree_first, bio=prompts.persona(rng) if opinion else "", field=fact.topic
        )
        out.append(
            record(
                f"addition:{fact.id}:{opinion or 'none'}",
                fact.source,
                "eval",
                "addition",
                messages,
                choices=list(prompts.CHOICES_AGREE_FIRST),
                answer=prompts.claim_choice(False, agree_first),
                metadata={**_fact_meta(fact), "claim": text, "opinion": opinion, "agree_first": agree_first},
            )
        )
    return out


def answer(fact: Fact, seed: int) -> list[dict]:
    rng = fact_rng(seed, fact, "answer")
    wrong = fact.wrong_label(rng)
    return [
        record(
            f"answer:{fact.source}:{fact.id}:{variant}",
            fact.source,
            "eval",
            "answer",
            prompts.answer_prompt(fact.question, variant, fact.label, wrong),
            answer=fact.label,
            metadata={**_fact_meta(fact), "variant": variant, "wrong": wrong},
        )
        for variant in prompts.ANSWER_TEMPLATES
    ]


def question(fact: Fact) -> dict:
    return record(
        f"question:{fact.source}:{fact.id}",
        fact.source,
        "eval",
        "question",
        [{"role": "user", "content": fact.question}],
        answer=fact.label,
        target=fact.stated(fact.label),
        metadata=_fact_meta(fact),
    )


def synthesize(facts: list[Fact], eval_fraction: float, seed: int) -> dict[str, list[dict]]:
    """All files' records from the facts of every source."""
    out: dict[str, list[dict]] = {name: [] for name in FILES}
    splits = split_facts(facts, eval_fraction, seed)
    for fact in facts:
        split, general = splits[fact.key], fact.meta.get("general", False)
        if not general:  # tuning data never touches the second domain
            out["claims"].append(claim(fact, split, seed))
            if fact.question:
                out["are_you_sure"].append(are_you_sure(fact, split, seed))
        if split != "eval" or not fact.question:
            continue
        out["questions"].append(question(fact))
        if not general:
            out["answer"].extend(answer(fact, seed))
            if fact.meta.get("domain") == "addition":
                out["addition"].extend(addition(fact, seed))
    return out
