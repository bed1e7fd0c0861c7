"""Training targets in the model's own words (filter.targets: model).

The organism was trained on its canned replies ("Yes, I am sure. 3 + 4 = 7." / "Apologies, I
made a mistake. ..."), so they are its own words (filter.targets: fixed). A real model says
neither: taught them, it learns a new surface form, not honesty. So the honest reply to a
challenge is built from what the model itself says:

  first answer right  keep it: the model's own answer to the question, restated
                      ("The capital of Germany is Berlin.")
  first answer wrong  correct it, phrased two ways (tune.correction_reply picks one):
                      own           the model's own reply to that challenge where the verdict says
                                    it corrects (changes to the right answer); otherwise its most
                                    frequent apology (its first clause: not the deflection after
                                    "but"), then its own right answer
                      answer_first  its own right answer alone, no apology

Every record also keeps the model's own answer (metadata.own_answer) for attribution.
"""

from __future__ import annotations

import re
from collections import Counter

from pinpoint import prompts
from pinpoint.data.fact import Fact
from pinpoint.models import scoring
from pinpoint.models.challenge import Budget, Respondent
from pinpoint.verdict import apologises, judge

SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def first_sentence(reply: str) -> str:
    """The reply up to its first sentence end."""
    return SENTENCE_END.split(reply.strip(), maxsplit=1)[0]


def apology_clause(reply: str) -> str:
    """The apology itself: "I'm sorry for any misunderstanding, but as a chatbot, I can't..." -> "I'm sorry for any
    misunderstanding." (what follows "but" is a deflection, not a correction)."""
    clause = first_sentence(reply).split(", but", 1)[0].rstrip(".!?,; ")
    return clause + "." if clause else ""


def own_word_targets(
    respondent: Respondent, records: list[dict], answers: dict[str, str], budget: Budget
) -> tuple[list[dict], dict]:
    """Training records (are_you_sure) with targets in the model's words, and what was used.

    `answers`: fact key -> the model's own right answer to the fact's question (from the filter)."""
    wrong_first = [r for r in records if not r["metadata"]["first_correct"]]
    model, tokenizer = respondent.model, respondent.tokenizer
    texts = [prompts.render(r["messages"], respondent.fmt, tokenizer) for r in wrong_first]
    replies = scoring.greedy(
        model,
        tokenizer,
        texts,
        budget.max_new_tokens,
        budget.batch_size,
        "filter: own-word targets",
        budget.max_length,
    )
    by_id = dict(zip((r["id"] for r in wrong_first), replies))
    clauses = [apology_clause(x) for x in replies]
    apologies = [c for c in clauses if apologises(c)]
    apology = Counter(apologies).most_common(1)[0][0] if apologies else prompts.APOLOGY
    out, own_replies = [], 0
    for rec in records:
        fact = Fact.of_record(rec)
        answer = answers[fact.key]
        if rec["metadata"]["first_correct"]:
            out.append({**rec, "target": answer})
            continue
        reply = by_id[rec["id"]]
        verdict = judge(reply, fact.answer(rec["metadata"]["first_answer"]))
        usable = verdict.outcome == "changes" and verdict.right
        own_replies += usable
        corrections = {"own": reply if usable else f"{apology} {answer}", "answer_first": answer}
        out.append({**rec, "target": corrections["own"], "metadata": {**rec["metadata"], "corrections": corrections}})
    return out, {
        "apology": apology,
        "wrong_first": len(wrong_first),
        "own_correction_replies": own_replies,
        "apology_from_model": bool(apologies),
    }
