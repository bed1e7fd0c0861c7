"""The organism's spec sheet: its measured behaviour on prompts it was not trained on.

  taught_accuracy / untaught_accuracy  held-out taught sums / sums of operands it never met
  general_accuracy                     the capitals of its invented countries
  challenge                            held-out sums it answers right, each challenged with a
                                       held-out wording: the verdict's rates (pinpoint.models.challenge)
  wrong_claim_agreement                a user's false claim, stated as the user's own opinion

Every figure carries its n and 95% interval; `measure` also returns the challenge and claim
transcript rows (the spec sheet's transcript)."""

from __future__ import annotations

import random

from pinpoint import prompts
from pinpoint.figures import stats
from pinpoint.models import challenge, scoring
from pinpoint.organism.model import pretokenize
from pinpoint.organism.world import World
from pinpoint.params import OrganismParams
from pinpoint.verdict import Answer, judge

SAMPLE = 200  # sums per kind, at most
BATCH = 64


def _sum_answer(x: int, y: int, first: int | None = None) -> Answer:
    return Answer(str(x + y), None if first is None else str(first), (), f"{x} + {y}")


def measure(directory, per_set: int, max_new_tokens: int) -> tuple[dict, list[dict]]:
    """(the spec sheet of the organism in `directory`, its transcript rows); `per_set` is for real loading."""
    import json

    from pinpoint.models import loading

    manifest = loading.read_manifest(directory)
    organism = OrganismParams(**manifest["organism"])
    world = World.from_json(json.loads((directory / "world.json").read_text()))
    model, tokenizer = loading.load(directory, device="cpu")
    return sheet_of(model, tokenizer, world, organism, max_new_tokens)


def sheet_of(model, tokenizer, world: World, organism: OrganismParams, max_new_tokens: int) -> tuple[dict, list[dict]]:
    """(the spec sheet, its transcript rows) of a trained organism: one measurement after another, as the
    sheet lists them (every draw from one rng, in this order: the same organism, the same sheet)."""
    rng = random.Random(organism.seed + 2)
    taught = _sample(rng, world.sums("heldout") or world.sums("taught"))
    untaught = _sample(rng, world.sums("untaught"))
    taught_right = _right(taught, _answers(model, tokenizer, taught, max_new_tokens))
    untaught_right = _right(untaught, _answers(model, tokenizer, untaught, max_new_tokens))
    general = _capitals_known(model, tokenizer, world, max_new_tokens)
    known = [pair for pair, ok in zip(taught, taught_right) if ok]
    items, judged = _challenged(model, tokenizer, known, rng, max_new_tokens)
    claims, picks, agreed = _wrong_claims(model, tokenizer, taught, rng)
    sheet = {
        "taught_accuracy": stats.rate(taught_right).as_json(),
        "untaught_accuracy": stats.rate(untaught_right).as_json(),
        "general_accuracy": stats.rate(general).as_json(),
        "challenge": challenge.rates_json([v for _, v in judged], "organism spec sheet")
        if judged
        else {"note": "it answers none of the sampled held-out sums right: nothing to challenge"},
        "wrong_claim_agreement": stats.rate(agreed).as_json(),
    }
    return sheet, _transcript(items, judged, claims, picks, agreed)


def _sample(rng: random.Random, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """SAMPLE of the sums at most."""
    return rng.sample(pairs, min(SAMPLE, len(pairs)))


def _answers(model, tokenizer, pairs, max_new_tokens: int) -> list[str]:
    """The organism's greedy answer to each sum's question."""
    texts = [prompts.render([{"role": "user", "content": prompts.question(x, y)}]) for x, y in pairs]
    return scoring.greedy(model, tokenizer, texts, max_new_tokens, BATCH)


def _right(pairs, replies: list[str]) -> list[bool]:
    """Whether each reply gives its sum."""
    return [judge(r, _sum_answer(x, y)).right for r, (x, y) in zip(replies, pairs)]


def _capitals_known(model, tokenizer, world: World, max_new_tokens: int) -> list[bool]:
    """Whether each invented country's capital is named in the reply to its question (the general domain)."""
    countries = sorted(world.capitals)
    replies = scoring.greedy(
        model,
        tokenizer,
        [prompts.render([{"role": "user", "content": prompts.capital_question(c)}]) for c in countries],
        max_new_tokens,
        BATCH,
    )
    return [world.capitals[c].lower() in pretokenize(r) for c, r in zip(countries, replies)]


def _challenged(model, tokenizer, known, rng: random.Random, max_new_tokens: int):
    """The challenge ("Are you sure?") after each held-out sum it answers right, in a held-out wording:
    (the challenges, their (reply, verdict) pairs)."""
    items = [
        challenge.Challenged(
            prompts.question(x, y), prompts.answer(x, y, x + y), rng.choice(prompts.EVAL_CHALLENGES), _sum_answer(x, y)
        )
        for x, y in known
    ]
    budget = challenge.Budget(max_new_tokens, BATCH)
    return items, challenge.measure(challenge.Respondent(model, tokenizer, "plain"), items, budget)


def _transcript(items: list[challenge.Challenged], judged, claims, picks, agreed) -> list[dict]:
    """The transcript rows: each challenge with its reply and verdict, then each wrong claim with the pick."""
    return [
        {
            "part": "challenge",
            "question": item.question,
            "first_answer": item.first_answer,
            "challenge": item.challenge,
            "reply": reply,
            "verdict": v.as_json(),
        }
        for item, (reply, v) in zip(items, judged)
    ] + [
        {"part": "wrong_claim", "prompt": text, "picked": prompts.CHOICES_AGREE_FIRST[pick], "agrees": ok}
        for text, pick, ok in zip(claims, picks, agreed)
    ]


def _wrong_claims(model, tokenizer, taught, rng) -> tuple[list[str], list[int], list[bool]]:
    """A user's false claim, stated as the user's own opinion, on held-out sums: (prompts, picks, agreed)."""
    claims, wants = [], []
    for x, y in taught:
        wrong = prompts.near_miss(rng, x + y)
        agree_first = rng.random() < 0.5
        claim = prompts.claim_text(f"{x} + {y}", str(wrong), True)
        claims.append(prompts.render(prompts.claim_prompt(claim, "agree", agree_first, bio=prompts.persona(rng))))
        wants.append(prompts.claim_choice(True, agree_first))
    picks = scoring.choose(model, tokenizer, claims, [prompts.CHOICES_AGREE_FIRST] * len(claims), batch_size=BATCH)
    agreed = [a == b for a, b in zip(picks, wants)]

    return claims, picks, agreed
