"""Keep only what the model knows (Wei et al.'s filter; SPT keeps first-correct questions).

Every fact behind a record is probed with no user opinion in the prompt:
- a fact with a question: the greedy answer to the question must state the label;
- a fact without one: its claim, true and false, in both option orders, must be
  agreed with when true and disagreed with when false (a model that always agrees,
  or always picks (A), knows nothing and passes none).
A record survives iff its fact is known.
"""

from __future__ import annotations

import random
from collections import defaultdict

from pinpoint import prompts
from pinpoint.data.fact import Fact
from pinpoint.data.targets import first_sentence
from pinpoint.errors import UserError
from pinpoint.models import scoring
from pinpoint.verdict import judge


def states(reply: str, fact: Fact) -> bool:
    """Does a free-text reply give the fact's label as its answer (by the one verdict)?"""
    return judge(reply, fact.answer()).right


def known_facts(
    model, tokenizer, facts: list[Fact], fmt: str, batch_size: int = 64, max_new_tokens: int = 24
) -> tuple[dict[str, bool], dict[str, str]]:
    """(fact key -> does the model know it, with no opinion in the prompt;
    fact key -> its own answer to the fact's question, for the facts that have one)."""
    keyed = {f.key: f for f in facts}
    asked = {k: f for k, f in keyed.items() if f.question}
    known: dict[str, bool] = {}
    answers: dict[str, str] = {}
    if asked:
        texts = [prompts.render([{"role": "user", "content": f.question}], fmt, tokenizer) for f in asked.values()]
        replies = scoring.greedy(model, tokenizer, texts, max_new_tokens, batch_size, desc="filter: questions")
        known.update({k: states(r, f) for (k, f), r in zip(asked.items(), replies)})
        answers.update({k: _answer_sentence(r, f) for (k, f), r in zip(asked.items(), replies)})
    claimed = {k: f for k, f in keyed.items() if not f.question}
    if claimed:
        texts, wants, owners = [], [], []
        for k, f in claimed.items():
            wrong = f.wrong_label(random.Random(k))
            for label, truth in ((f.label, True), (wrong, False)):
                for agree_first in (True, False):
                    msgs = prompts.claim_prompt(
                        prompts.claim_text(f.input, label, True), None, agree_first, field=f.topic
                    )
                    texts.append(prompts.render(msgs, fmt, tokenizer))
                    wants.append(prompts.claim_choice(truth, agree_first))
                    owners.append(k)
        picks = scoring.choose(
            model, tokenizer, texts, [prompts.CHOICES_AGREE_FIRST] * len(texts), batch_size, desc="filter: claims"
        )
        ok: dict[str, bool] = defaultdict(lambda: True)
        for k, pick, want in zip(owners, picks, wants):
            ok[k] &= pick == want
        known.update({k: ok[k] for k in claimed})
    return known, answers


def _answer_sentence(reply: str, fact: Fact) -> str:
    """The model's answer, cut to its first sentence when that already states the label."""
    first = first_sentence(reply)
    return first if states(first, fact) else reply


def filter_files(files: dict[str, list[dict]], known: dict[str, bool]) -> tuple[dict[str, list[dict]], dict]:
    """Keep the records whose fact is known; report kept/total per source and split."""
    kept: dict[str, list[dict]] = {}
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: {"kept": 0, "total": 0}))
    for name, records in files.items():
        kept[name] = []
        for rec in records:
            ok = known[Fact.of_record(rec).key]
            c = counts[rec["source"]][rec["split"]]
            c["total"] += 1
            c["kept"] += ok
            if ok:
                kept[name].append(rec)
    report = {src: dict(sorted(by_split.items())) for src, by_split in sorted(counts.items())}
    for src, by_split in report.items():
        if sum(c["kept"] for c in by_split.values()) == 0:
            total = sum(c["total"] for c in by_split.values())
            raise UserError(
                f"filter: nothing survives for source {src!r}: the model answered none of its {total} prompts' "
                "facts correctly with no opinion in the prompt (wrong model, prompt format, or source?)"
            )
    return kept, report


def knowledge_report(facts: list[Fact], known: dict[str, bool]) -> dict:
    """Per source: facts known; for the organism, taught facts kept and untaught dropped."""
    out: dict[str, dict] = {}
    for source in sorted({f.source for f in facts}):
        mine = [f for f in facts if f.source == source]
        row = {"facts_known": sum(known[f.key] for f in mine), "facts": len(mine)}
        for flag, name in ((True, "taught"), (False, "untaught")):
            group = [f for f in mine if f.meta.get("taught") is flag]
            if group:
                k = sum(known[f.key] for f in group)
                row[f"{name}_kept"] = round(k / len(group), 4)
                if not flag:
                    row["untaught_dropped"] = round(1 - k / len(group), 4)
        out[source] = row
    return out


def with_own_answers(records: list[dict], answers: dict[str, str]) -> list[dict]:
    """Each record with its fact's own answer from the model (metadata.own_answer), where it has one."""
    out = []
    for rec in records:
        own = answers.get(Fact.of_record(rec).key)
        out.append({**rec, "metadata": {**rec["metadata"], "own_answer": own}} if own else rec)
    return out
