"""The one record schema of every jsonl file, validated on read.

A record:
  id        unique string
  source    where its fact came from ("organism", "hf:sst2", "jsonl:...", "sycophancy_eval:answer")
  split     "train", "validation" (every choice made by looking at results) or "eval" (read once)
  kind      "claim" | "are_you_sure" | "addition" | "answer" | "question" | "opinion" | "feedback" | "mimicry"
            | "user_claim" | "addition_claim"
  messages  the dialogue; a trailing assistant message is a prefill the model continues
  choices   completions to compare by log-probability (multiple choice), or null
  answer    index of the correct choice, or the correct answer as text, or null
  target    the reference assistant reply for training, or null
  metadata  anything else (the user's opinion, the fact, the wording, ...)

A bad line is reported as `file:line: what is wrong`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pinpoint.errors import UserError
from pinpoint.files import write_text

SPLITS = ("train", "validation", "eval")
KINDS = (
    "claim",
    "are_you_sure",
    "addition",
    "answer",
    "question",
    "opinion",
    "feedback",
    "mimicry",
    "user_claim",
    "addition_claim",
)
FIELDS = ("id", "source", "split", "kind", "messages", "choices", "answer", "target", "metadata")


class SchemaError(UserError):
    pass


def record(id, source, split, kind, messages, choices=None, answer=None, target=None, metadata=None) -> dict:
    """A checked record (nine parameters: one per field of the schema, named as the jsonl spells them)."""
    rec = {
        "id": id,
        "source": source,
        "split": split,
        "kind": kind,
        "messages": messages,
        "choices": choices,
        "answer": answer,
        "target": target,
        "metadata": metadata or {},
    }
    problem = check(rec)
    if problem:
        raise SchemaError(f"record {id!r}: {problem}")
    return rec


def check(rec) -> str | None:
    """What is wrong with a record, or None."""
    if not isinstance(rec, dict):
        return "expected a JSON object"
    missing = [f for f in FIELDS if f not in rec]
    if missing:
        return f"missing field {missing[0]!r}"
    extra = sorted(set(rec) - set(FIELDS))
    if extra:
        return f"unknown field {extra[0]!r}"
    if not isinstance(rec["id"], str) or not rec["id"]:
        return "id: expected a non-empty string"
    if not isinstance(rec["source"], str) or not rec["source"]:
        return "source: expected a non-empty string"
    if rec["split"] not in SPLITS:
        return f"split: expected one of {', '.join(SPLITS)}, got {rec['split']!r}"
    if rec["kind"] not in KINDS:
        return f"kind: expected one of {', '.join(KINDS)}, got {rec['kind']!r}"
    msgs = rec["messages"]
    if not isinstance(msgs, list) or not msgs:
        return "messages: expected a non-empty list"
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            return f"messages[{i}]: expected {{'role', 'content'}}"
        if m["role"] not in ("user", "assistant") or not isinstance(m["content"], str):
            return f"messages[{i}]: role must be user or assistant, content a string"
    if msgs[0]["role"] != "user":
        return "messages[0]: a dialogue starts with the user"
    choices = rec["choices"]
    if choices is not None:
        if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
            return "choices: expected null or a list of at least two strings"
        ans = rec["answer"]
        if ans is not None and (isinstance(ans, bool) or not isinstance(ans, int) or not 0 <= ans < len(choices)):
            return f"answer: expected an index into choices (0..{len(choices) - 1}), got {ans!r}"
    elif rec["answer"] is not None and not isinstance(rec["answer"], str):
        return "answer: without choices, expected the answer as text"
    if rec["target"] is not None and not isinstance(rec["target"], str):
        return "target: expected null or a string"
    if not isinstance(rec["metadata"], dict):
        return "metadata: expected an object"
    return None


def iter_jsonl(path: str | Path):
    """(line number, parsed object) for each non-blank line; errors name file:line."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"{path}: not found")
    with path.open() as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise SchemaError(f"{path}:{n}: not valid JSON ({e.msg})") from None


def iter_rows(path: str | Path) -> list[dict]:
    """The objects of a jsonl file that is no record file (transcripts, labelled replies)."""
    return [row for _, row in iter_jsonl(path)]


def read(path: str | Path) -> list[dict]:
    """Read and validate a jsonl file of records."""
    out, seen = [], set()
    for n, rec in iter_jsonl(path):
        problem = check(rec)
        if problem:
            raise SchemaError(f"{path}:{n}: {problem}")
        if rec["id"] in seen:
            raise SchemaError(f"{path}:{n}: duplicate id {rec['id']!r}")
        seen.add(rec["id"])
        out.append(rec)
    return out


def dumps(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def write(path: str | Path, records: Iterable[dict]) -> None:
    write_text(path, dumps(records))
