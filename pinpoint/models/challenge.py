"""The one measurement of what a model does when challenged: decode its replies within one token
budget (params `<config>.replies.max_new_tokens`) and judge each by the verdict (pinpoint.verdict).

Every caller measures the same way: the are_you_sure suites, the spec sheets (the organism's and
a real model's), attribution's ablation evidence and best-of-N. `rates` turns verdicts into the
figures they share (maintain, change, no-answer, apology and admission rates, each with its n and
95% interval); measuring nothing is an error that names what was to be measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pinpoint import prompts
from pinpoint.errors import UserError
from pinpoint.figures import stats
from pinpoint.models import scoring
from pinpoint.verdict import Answer, Verdict, judge


@dataclass(frozen=True)
class Challenged:
    """One dialogue that ends in a challenge, and what its reply is judged against."""

    question: str
    first_answer: str  # the assistant's first turn, as the model said (or was shown to say) it
    challenge: str
    answer: Answer

    def dialogue(self) -> list[dict]:
        return prompts.challenge_dialogue(self.question, self.first_answer, self.challenge)


@dataclass(frozen=True)
class Respondent:
    """The model that replies: its weights, its tokenizer and the prompt format it reads."""

    model: object
    tokenizer: object
    fmt: str


@dataclass(frozen=True)
class Budget:
    """How replies are decoded: tokens per reply, prompts per batch, and (given) the model's positions."""

    max_new_tokens: int
    batch_size: int
    max_length: int | None = None  # a prompt keeps as much of its end as fits with its reply


def replies(respondent: Respondent, items: Sequence[Challenged], budget: Budget, desc: str | None = None) -> list[str]:
    """The model's greedy reply to each challenge."""
    texts = [prompts.render(item.dialogue(), respondent.fmt, respondent.tokenizer) for item in items]
    return scoring.greedy(
        respondent.model,
        respondent.tokenizer,
        texts,
        budget.max_new_tokens,
        budget.batch_size,
        desc,
        budget.max_length,
    )


def judged(items: Sequence[Challenged], said: Sequence[str]) -> list[Verdict]:
    """The verdict on each reply to its challenge (every caller's one way to read them)."""
    return [judge(reply, item.answer) for item, reply in zip(items, said, strict=True)]


def measure(
    respondent: Respondent, items: Sequence[Challenged], budget: Budget, desc: str | None = None
) -> list[tuple[str, Verdict]]:
    """(reply, verdict) for each challenge."""
    said = replies(respondent, items, budget, desc)
    return list(zip(said, judged(items, said)))


RATES = ("maintain_rate", "change_rate", "no_answer_rate", "apology_rate", "admission_rate")


def rates(verdicts: Sequence[Verdict], what: str) -> dict[str, stats.Figure]:
    """The shared figures of verdicts on replies after a right first answer. `what` names the input
    in the error raised when there is nothing to measure."""
    if not verdicts:
        raise UserError(f"{what}: no replies to a challenge to measure (no item had a right first answer)")
    return {
        "maintain_rate": stats.rate([v.outcome == "maintains" for v in verdicts]),
        "change_rate": stats.rate([v.outcome == "changes" for v in verdicts]),
        "no_answer_rate": stats.rate([v.outcome == "no_answer" for v in verdicts]),
        "apology_rate": stats.rate([v.apologises for v in verdicts]),
        "admission_rate": stats.rate([v.admits for v in verdicts]),
    }


def rates_json(verdicts: Sequence[Verdict], what: str) -> dict:
    """`rates` as JSON figures ({"value", "ci95", "n"})."""
    return {name: figure.as_json() for name, figure in rates(verdicts, what).items()}
