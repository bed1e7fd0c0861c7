"""Readers that turn published eval files into records (schema.py).

SycophancyEval (Sharma et al.): one JSON object a line,
  {"prompt": [{"type": "human" | "ai", "content": ...}, ...], "base": {...}, "metadata": {...}}
  in files are_you_sure, answer, feedback and mimicry. A trailing "ai" turn is a prefill.
Model-written evals (Perez et al.): {"question", "answer_matching_behavior",
  "answer_not_matching_behavior"}, where the latter may be a list.

Errors name the file and line.
"""

from __future__ import annotations

from pathlib import Path

from pinpoint.data.schema import SchemaError, iter_jsonl, record

SYCOPHANCY_EVAL_KINDS = {"are_you_sure": "are_you_sure", "answer": "answer", "feedback": "feedback", "mimicry": "mimicry"}


def _messages(prompt, where: str) -> list[dict]:
    if not isinstance(prompt, list) or not prompt:
        raise SchemaError(f"{where}: 'prompt' must be a non-empty list of turns")
    out = []
    for i, turn in enumerate(prompt):
        if not isinstance(turn, dict) or turn.get("type") not in ("human", "ai") or not isinstance(turn.get("content"), str):
            raise SchemaError(f"{where}: prompt[{i}] must be {{'type': 'human' | 'ai', 'content': str}}")
        out.append({"role": "user" if turn["type"] == "human" else "assistant", "content": turn["content"]})
    if out[0]["role"] != "user":
        raise SchemaError(f"{where}: prompt[0] must be a human turn")
    return out


def _answer_variant(template: str) -> str:
    """Which of Sharma's answer templates a prompt used."""
    t = template or "{question}"
    if "{incorrect_answer}" in t:
        return "suggest_wrong"
    if "don't think" in t and "{correct_answer}" in t:
        return "doubt_correct"
    if "{correct_answer}" in t:
        return "suggest_correct"
    return "none"


def read_sycophancy_eval(path: str | Path, kind: str | None = None) -> list[dict]:
    """A SycophancyEval file as records; kind from the file name unless given."""
    path = Path(path)
    kind = kind or SYCOPHANCY_EVAL_KINDS.get(path.stem)
    if kind not in SYCOPHANCY_EVAL_KINDS:
        raise SchemaError(f"{path}: cannot tell the SycophancyEval file kind from its name; expected one of {', '.join(SYCOPHANCY_EVAL_KINDS)}")
    records = []
    for n, row in iter_jsonl(path):
        where = f"{path}:{n}"
        if not isinstance(row, dict):
            raise SchemaError(f"{where}: expected a JSON object")
        messages = _messages(row.get("prompt"), where)
        base, meta = row.get("base") or {}, row.get("metadata") or {}
        if not isinstance(base, dict) or not isinstance(meta, dict):
            raise SchemaError(f"{where}: 'base' and 'metadata' must be objects")
        src, rid = f"sycophancy_eval:{kind}", f"{kind}:{path.stem}:{n}"
        extra = {"base": base, **meta}
        if kind == "are_you_sure":
            answer = base.get("correct_letter") or base.get("correct_answer")
            if not isinstance(answer, str):
                raise SchemaError(f"{where}: base needs 'correct_letter' (or 'correct_answer')")
            records.append(record(rid, src, "eval", "are_you_sure", messages, answer=answer, metadata=extra))
        elif kind == "answer":
            if not isinstance(base.get("correct_answer"), str):
                raise SchemaError(f"{where}: base needs 'correct_answer'")
            extra["variant"] = _answer_variant(meta.get("prompt_template", ""))
            extra["wrong"] = base.get("incorrect_answer")
            records.append(record(rid, src, "eval", "answer", messages, answer=base["correct_answer"], metadata=extra))
        elif kind == "feedback":
            extra["template_type"] = meta.get("prompt_template_type", "")
            records.append(record(rid, src, "eval", "feedback", messages, metadata=extra))
        else:  # mimicry: does the reply repeat the user's wrong attribution?
            records.append(record(rid, src, "eval", "mimicry", messages, answer=base.get("attribution"), metadata=extra))
    return records


def read_perez(path: str | Path) -> list[dict]:
    """A Perez et al. file as multiple-choice records; choice 0 matches the user's view."""
    path = Path(path)
    records = []
    for n, row in iter_jsonl(path):
        where = f"{path}:{n}"
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise SchemaError(f"{where}: expected an object with a string 'question'")
        matching = row.get("answer_matching_behavior")
        others = row.get("answer_not_matching_behavior")
        if isinstance(matching, list):
            matching = matching[0] if len(matching) == 1 else None
        others = others if isinstance(others, list) else [others]
        if not isinstance(matching, str) or not others or not all(isinstance(o, str) for o in others):
            raise SchemaError(f"{where}: 'answer_matching_behavior' must be a string and 'answer_not_matching_behavior' a string or list of strings")
        question = row["question"]
        if question.rstrip().endswith("Answer:"):  # the Perez prompt ends with its own cue
            question = question.rstrip()[: -len("Answer:")].rstrip()
        records.append(record(
            f"opinion:{path.stem}:{n}", f"perez:{path.stem}", "eval", "opinion",
            [{"role": "user", "content": question}], choices=[matching, *others],
            metadata={"user_choice": 0, "file": path.name},
        ))
    return records
