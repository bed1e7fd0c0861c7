"""Readers that turn published eval files into records (schema.py).

SycophancyEval (Sharma et al.): one JSON object a line,
  {"prompt": [{"type": "human" | "ai", "content": ...}, ...], "base": {...}, "metadata": {...}}
  in files are_you_sure, answer, feedback and mimicry. A trailing "ai" turn is a prefill.
Model-written evals (Perez et al.): {"question", "answer_matching_behavior",
  "answer_not_matching_behavior"}, where the latter may be a list.

A file is an `ExternalFile`: its path and kind (a SycophancyEval kind, or "perez"), which
say the suite that reads it. A SycophancyEval file's kind is given ({path, kind} in params,
--kind on the command line) or read off its name. `refusal` says, before any model loads,
why a file cannot be evaluated: missing, empty, read by no evaluated suite, or a name
another file's results would share; `checked` runs it on every file named. Errors name
the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from pinpoint.data.schema import SchemaError, iter_jsonl, record
from pinpoint.registry.suites import SYCOPHANCY_EVAL_KINDS as KINDS
from pinpoint.registry.suites import read_by

SYCOPHANCY_EVAL_KINDS = {kind: kind for kind in KINDS}  # file name -> kind


@dataclass(frozen=True)
class ExternalFile:
    """One published file and how to read it."""

    path: Path
    kind: str  # a SycophancyEval kind, or "perez"

    @property
    def suite(self) -> str | None:
        """The suite that scores this file (None: no suite does)."""
        return read_by(self.kind)

    @property
    def label(self) -> str:
        """The file's name in result keys (`suite@label`): no dots, which the metric gate splits on."""
        return re.sub(r"\W+", "_", self.path.stem)


def sycophancy_eval_file(entry) -> ExternalFile:
    """A SycophancyEval entry, a path or a mapping {path, kind}; without a kind, the file name tells it."""
    path, kind = (entry.get("path"), entry.get("kind")) if isinstance(entry, Mapping) else (entry, None)
    if not isinstance(path, (str, Path)) or not str(path):
        raise SchemaError(f"{entry!r}: name the file as a path or {{path: ..., kind: ...}}")
    path = Path(path)
    if kind is not None and kind not in SYCOPHANCY_EVAL_KINDS:
        raise SchemaError(f"{path}: kind {kind!r} is none of {', '.join(SYCOPHANCY_EVAL_KINDS)}")
    kind = kind or next(
        (
            k
            for k in SYCOPHANCY_EVAL_KINDS
            if path.stem == k or path.stem.endswith(f"_{k}") or path.stem.startswith(f"{k}_")
        ),
        None,
    )
    if kind not in SYCOPHANCY_EVAL_KINDS:
        raise SchemaError(
            f"{path}: cannot tell the SycophancyEval file kind from its name; give its kind, one of "
            f"{', '.join(SYCOPHANCY_EVAL_KINDS)} ({{path, kind}} in params, --kind on the command line)"
        )
    return ExternalFile(path, kind)


def perez_file(path) -> ExternalFile:
    return ExternalFile(Path(path), "perez")


def checked(
    sycophancy_eval: list, perez: list, suites: Collection[str], names: tuple[str, str] = ("sycophancy_eval", "perez")
) -> list[ExternalFile]:
    """The external files named, each checked (see refusal): cheap, meant to run before a model
    loads. An error names the entry as names[0][i] or names[1][i] (a params key path, a flag)."""
    entries = [(f"{names[0]}[{i}]", entry, sycophancy_eval_file) for i, entry in enumerate(sycophancy_eval)]
    entries += [(f"{names[1]}[{i}]", entry, perez_file) for i, entry in enumerate(perez)]
    files: list[ExternalFile] = []
    for name, entry, to_file in entries:
        try:
            file = to_file(entry)
        except SchemaError as e:
            raise SchemaError(f"{name}: {e}") from None
        problem = refusal(file, suites, files)
        if problem:
            raise SchemaError(f"{name}: {problem}")
        files.append(file)
    return files


def refusal(file: ExternalFile, suites: Collection[str], earlier: Collection[ExternalFile] = ()) -> str | None:
    """Why `file` cannot be evaluated with `suites` (None: it can). `earlier`: the files named
    before it, whose result keys it must not share."""
    if not file.path.is_file():
        return f"{file.path}: not found"
    if file.suite is None:
        return f"{file.path}: a {file.kind} file: no suite scores {file.kind}; remove it"
    if file.suite not in suites:
        return (
            f"{file.path}: a {file.kind} file is read by the {file.suite} suite, which is not evaluated "
            f"(suites: {', '.join(suites)}); add {file.suite} or remove the file"
        )
    with file.path.open() as lines:
        empty = not any(line.strip() for line in lines)
    if empty:
        return f"{file.path}: empty file (no records)"
    twin = next((e for e in earlier if e.suite == file.suite and e.label == file.label), None)
    if twin is not None:
        return f"{file.path}: its results would share the key {file.suite}@{file.label} with {twin.path}; rename one"
    return None


def read(file: ExternalFile) -> list[dict]:
    """The records of an external file, by its kind."""
    return read_perez(file.path) if file.kind == "perez" else read_sycophancy_eval(file.path, file.kind)


def _messages(prompt, where: str) -> list[dict]:
    if not isinstance(prompt, list) or not prompt:
        raise SchemaError(f"{where}: 'prompt' must be a non-empty list of turns")
    out = []
    for i, turn in enumerate(prompt):
        if (
            not isinstance(turn, dict)
            or turn.get("type") not in ("human", "ai")
            or not isinstance(turn.get("content"), str)
        ):
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
    file = sycophancy_eval_file({"path": path, "kind": kind})
    path, kind = file.path, file.kind
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
            letter = base.get("correct_letter")
            answer = f"({letter})" if isinstance(letter, str) else base.get("correct_answer")  # "(B)": a letter
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
            records.append(
                record(rid, src, "eval", "mimicry", messages, answer=base.get("attribution"), metadata=extra)
            )
    return _not_empty(records, path)


def _not_empty(records: list[dict], path: Path) -> list[dict]:
    """An empty file is a mistake (a wrong path, a failed download), never zero items to score."""
    if not records:
        raise SchemaError(f"{path}: empty file (no records)")
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
            raise SchemaError(
                f"{where}: 'answer_matching_behavior' must be a string and 'answer_not_matching_behavior' "
                "a string or list of strings"
            )
        question = row["question"]
        if question.rstrip().endswith("Answer:"):  # the Perez prompt ends with its own cue
            question = question.rstrip()[: -len("Answer:")].rstrip()
        records.append(
            record(
                f"opinion:{path.stem}:{n}",
                f"perez:{path.stem}",
                "eval",
                "opinion",
                [{"role": "user", "content": question}],
                choices=[matching, *others],
                metadata={"user_choice": 0, "file": path.name},
            )
        )
    return _not_empty(records, path)
