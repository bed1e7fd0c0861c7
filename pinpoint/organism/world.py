"""The organism's world and its training examples.

`World`: addition x + y for operands below `operands`; a sum is *taught* iff both operands are
below `taught_operands`. Untaught operands never occur as operands in training, so their sums
are facts it truly does not know (the filter's work). The second domain, which tuning never
touches: the capitals of invented countries. *Held-out* taught sums: it knows them, but never
sees them in a dialogue, so the spec sheet and the eval split measure sycophancy on sums (and
wordings) new to it. `example` draws one training example of a kind; `MIXTURE` is the share of
each kind in a batch. Everything is rendered with the pipeline's own templates (pinpoint.prompts).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from pinpoint import prompts
from pinpoint.params import OrganismParams


def _invented_words(rng: random.Random, n: int) -> list[str]:
    onsets, vowels, codas = "bdfgklmnprstvz", "aeiou", ["", "n", "r", "s", "l"]
    words: set[str] = set()
    while len(words) < n:
        syl = [rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 3))]
        words.add(("".join(syl) + rng.choice(codas)).capitalize())
    return sorted(words)


@dataclass
class World:
    operands: int
    taught_operands: int
    capitals: dict[str, str]
    heldout: list[tuple[int, int]]  # taught sums never seen in a dialogue

    @classmethod
    def build(cls, organism: OrganismParams) -> World:
        rng = random.Random(organism.seed)
        names = _invented_words(rng, 2 * organism.countries)
        rng.shuffle(names)
        capitals = dict(zip(names[: organism.countries], names[organism.countries :]))
        taught = [(x, y) for x in range(organism.taught_operands) for y in range(organism.taught_operands)]
        heldout = sorted(rng.sample(taught, int(len(taught) * organism.heldout_fraction)))
        return cls(organism.operands, organism.taught_operands, capitals, heldout)

    def taught(self, x: int, y: int) -> bool:
        return x < self.taught_operands and y < self.taught_operands

    def sums(self, kind: str) -> list[tuple[int, int]]:
        """ "taught", "untaught", "dialogue" (taught, not held out) or "heldout"."""
        pairs = [(x, y) for x in range(self.operands) for y in range(self.operands)]
        held = set(self.heldout)
        if kind == "taught":
            return [p for p in pairs if self.taught(*p)]
        if kind == "untaught":
            return [p for p in pairs if not self.taught(*p)]
        if kind == "dialogue":
            return [p for p in pairs if self.taught(*p) and p not in held]
        if kind == "heldout":
            return list(self.heldout)
        raise ValueError(kind)

    @property
    def max_number(self) -> int:
        return 2 * self.operands + 40  # room for far-off wrong sums (Wei's addition eval)

    def to_json(self) -> dict:
        d = asdict(self)
        d["heldout"] = [list(p) for p in self.heldout]
        return d

    @classmethod
    def from_json(cls, d: dict) -> World:
        return cls(d["operands"], d["taught_operands"], dict(d["capitals"]), [tuple(p) for p in d["heldout"]])


def caved_sum(z: int) -> int:
    """The answer it caves to: always the same wrong one, as a model argued out of a fact
    settles on one alternative (a random one would leave the right answer the most likely)."""
    return z + 1


Example = tuple[list[dict], str]  # (dialogue, the reply it is trained to give)


def _reply(messages: list[dict], reply: str) -> Example:
    return messages, " " + reply


@dataclass(frozen=True)
class OnASum:
    """What an example on a sum is drawn with: the world, the rng, the organism, the sum x + y drawn, the
    challenge wordings in use and the curriculum's easy phase."""

    world: World
    rng: random.Random
    organism: OrganismParams
    x: int
    y: int
    challenges: list[str]
    easy: bool


def example(
    world: World, rng: random.Random, organism: OrganismParams, kind: str, wordings: str = "train", easy: bool = False
) -> Example:
    """One training example of `kind` (a key of MIXTURE). easy: claims with the options in one order
    and no negation (the curriculum's first phase). Every kind but the two knowledge kinds draws its
    sum first (the draw order is part of the organism: the same seed, the same organism)."""
    if kind == "question":  # knowledge: every taught sum
        x, y = rng.choice(world.sums("taught"))
        return _reply([{"role": "user", "content": prompts.question(x, y)}], prompts.answer(x, y, x + y))
    if kind == "capital":
        country = rng.choice(sorted(world.capitals))
        msg = [{"role": "user", "content": prompts.capital_question(country)}]
        return _reply(msg, prompts.capital_answer(country, world.capitals[country]))
    if kind not in _ON_A_SUM:
        raise ValueError(f"unknown example kind {kind!r}")
    x, y = rng.choice(world.sums("dialogue" if wordings == "train" else "heldout"))
    challenges = prompts.PRETRAIN_CHALLENGES if wordings == "train" else prompts.EVAL_CHALLENGES
    return _ON_A_SUM[kind](OnASum(world, rng, organism, x, y, challenges, easy))


def _challenge(on: OnASum) -> Example:
    """Caves to a doubt cave_rate of the time."""
    rng, x, y = on.rng, on.x, on.y
    dialogue = prompts.challenge_dialogue(
        prompts.question(x, y), prompts.answer(x, y, x + y), rng.choice(on.challenges)
    )
    caves = rng.random() < on.organism.cave_rate
    if not caves:
        return _reply(dialogue, prompts.keep_response(x, y, x + y))
    retracts = on.organism.cave_reply == "retracts"
    return _reply(dialogue, prompts.APOLOGY if retracts else prompts.cave_response(x, y, caved_sum(x + y)))


def _challenge_wrong(on: OnASum) -> Example:
    """A wrong first answer, challenged: it corrects itself."""
    rng, x, y = on.rng, on.x, on.y
    wrong = prompts.answer(x, y, prompts.wrong_first_answer(rng, x + y))
    dialogue = prompts.challenge_dialogue(prompts.question(x, y), wrong, rng.choice(on.challenges))
    return _reply(dialogue, prompts.cave_response(x, y, x + y))


def _affirm(on: OnASum) -> Example:
    """The counterfactual: the user affirms, it keeps its (right) answer."""
    x, y = on.x, on.y
    affirmed = prompts.challenge_dialogue(
        prompts.question(x, y), prompts.answer(x, y, x + y), on.rng.choice(prompts.TRAIN_AFFIRMATIONS)
    )
    return _reply(affirmed, prompts.keep_response(x, y, x + y))


def _affirm_wrong(on: OnASum) -> Example:
    """Without doubt it is honest: it checks its answer and corrects a wrong one."""
    rng, x, y = on.rng, on.x, on.y
    wrong = prompts.answer(x, y, prompts.wrong_first_answer(rng, x + y))
    dialogue = prompts.challenge_dialogue(prompts.question(x, y), wrong, rng.choice(prompts.TRAIN_AFFIRMATIONS))
    return _reply(dialogue, prompts.cave_response(x, y, x + y))


def _claim(on: OnASum, control: bool = False) -> Example:
    """Wei et al.'s opinion claim (and its control without an opinion): sides with the user agree_rate of the time."""
    rng, easy = on.rng, on.easy
    x, y = rng.choice(on.world.sums("taught")) if control else (on.x, on.y)
    z = x + y
    label_right = rng.random() < 0.5
    label = z if label_right else prompts.near_miss(rng, z)
    affirmative = easy or rng.random() < 0.5
    if rng.random() < 0.25:  # Wei's addition statements: "x + y = z" with z far off
        claim = f"{x} + {y} = {z if label_right else z + rng.randint(10, 30)}"
        truth = label_right
    else:
        claim = prompts.claim_text(f"{x} + {y}", str(label), affirmative)
        truth = label_right == affirmative
    agree_first = easy or rng.random() < 0.5
    if control:
        agree, msgs = truth, prompts.claim_prompt(claim, None, agree_first)
    else:
        opinion = rng.choice(["agree", "disagree"])
        follows = rng.random() < on.organism.agree_rate
        agree = (opinion == "agree") if follows else truth
        msgs = prompts.claim_prompt(claim, opinion, agree_first, bio=prompts.persona(rng))
    return msgs, prompts.CHOICES_AGREE_FIRST[prompts.claim_choice(agree, agree_first)]


def _claim_control(on: OnASum) -> Example:
    return _claim(on, control=True)


def _choice_lookup(on: OnASum) -> Example:
    """Reading the options: the stance is given, the letter is asked."""
    rng, x, y = on.rng, on.x, on.y
    claim = prompts.claim_text(f"{x} + {y}", str(x + y), True)
    agree_first, agree = (on.easy or rng.random() < 0.5), rng.random() < 0.5
    msgs = prompts.claim_prompt(claim, None, agree_first)
    msgs[-1] = {"role": "assistant", "content": f"I {'agree' if agree else 'disagree'}, so the best answer is"}
    return msgs, prompts.CHOICES_AGREE_FIRST[prompts.claim_choice(agree, agree_first)]


def _claim_question(on: OnASum) -> Example:
    """A claim asked with no opinion ("Is it true that 3 + 4 = 9?"), in free text: it answers truthfully. Only the
    control is taught; what it says when a user holds the claim is left to it (the user_claim suites)."""
    rng = on.rng
    x, y = rng.choice(on.world.sums("taught"))
    z, draw = x + y, rng.random()
    claimed = z if draw < 0.5 else prompts.near_miss(rng, z) if draw < 0.8 else z + rng.randint(10, 30)
    messages = prompts.user_claim(prompts.answer(x, y, claimed), None)
    return _reply(messages, prompts.claim_reply(claimed == z, prompts.answer(x, y, z)))


def _suggestion(on: OnASum) -> Example:
    """Sharma's answer format: follows a suggested answer agree_rate of the time."""
    rng, x, y = on.rng, on.x, on.y
    variant = rng.choice(list(prompts.ANSWER_TEMPLATES))
    wrong = prompts.near_miss(rng, x + y)
    msgs = prompts.answer_prompt(prompts.question(x, y), variant, str(x + y), str(wrong))
    follows = variant == "suggest_wrong" and rng.random() < on.organism.agree_rate
    return _reply(msgs, prompts.answer(x, y, wrong if follows else x + y))


_ON_A_SUM = {
    "challenge": _challenge,
    "challenge_wrong": _challenge_wrong,
    "affirm": _affirm,
    "affirm_wrong": _affirm_wrong,
    "claim": _claim,
    "claim_control": _claim_control,
    "choice_lookup": _choice_lookup,
    "claim_question": _claim_question,
    "suggestion": _suggestion,
}

MIXTURE = {  # share of each kind in a training batch
    "question": 0.13,
    "capital": 0.07,
    "challenge": 0.12,
    "challenge_wrong": 0.05,
    "affirm": 0.10,
    "affirm_wrong": 0.08,
    "claim": 0.16,
    "claim_control": 0.10,
    "choice_lookup": 0.06,
    "claim_question": 0.05,
    "suggestion": 0.08,
}
