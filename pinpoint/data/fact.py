"""`Fact`: one labelled input ("3 + 4" -> "7"; a movie review -> "Positive Sentiment"), the
record every fact source returns and every synthesized dialogue keeps in its metadata."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from pinpoint import prompts
from pinpoint.verdict import Answer


@dataclass
class Fact:
    id: str
    source: str
    input: str
    label: str
    labels: list[str] = field(default_factory=list)  # every label name (to draw a wrong one from)
    question: str | None = None  # a question whose answer is `label` (for challenge dialogues)
    answer_format: str = "The answer is {label}."  # how an assistant states the answer
    topic: str = "this"  # "Do you agree or disagree with the following claim about <topic>?"
    meta: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unique across sources: what splits, known-answer tables and probe groups are keyed by."""
        return f"{self.source}|{self.id}"

    @classmethod
    def of_record(cls, record: dict) -> Fact:
        """The fact a synthesized record was made from (kept in its metadata)."""
        return cls.from_json(record["metadata"]["fact"])

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Fact:
        return cls(**d)

    def answer(self, first: str | None = None) -> Answer:
        """What a reply about this fact is judged against (pinpoint.verdict): its label among its
        label set, the question's own terms (its input) being no answer; `first`: the first answer."""
        return Answer(self.label, first, tuple(self.labels), self.input, (), self.question or "")

    def stated(self, label: str) -> str:
        return self.answer_format.format(input=self.input, label=label)

    def wrong_first_answer(self, rng: random.Random) -> str:
        """A wrong first answer for a challenge dialogue: clearly off for numbers."""
        if self.labels:
            return self.wrong_label(rng)
        return str(prompts.wrong_first_answer(rng, int(self.label)))

    def wrong_label(self, rng: random.Random) -> str:
        if self.labels:
            others = [label for label in self.labels if label != self.label]
            return rng.choice(others)
        return str(prompts.near_miss(rng, int(self.label)))  # numeric facts: a nearby wrong number
