"""What the command line is given, checked before anything loads a model: each mistake one line
(UserError) naming the flag, file or line."""

from __future__ import annotations

import argparse

from pinpoint.errors import UserError


def at_least(lo: int):
    """An argparse type: an integer >= lo (a batch of 0 would hang or silently score nothing)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value

    return parse


def sycophancy_eval_entries(paths: list[str], kinds: list[str] | None) -> list:
    """--sycophancy-eval files with their --kind (one for all, or one each); no --kind: each name tells its kind."""
    if not kinds:
        return list(paths)
    if not paths:
        raise UserError("--kind: names the kind of --sycophancy-eval files, and none is given")
    if len(kinds) == 1:
        kinds = kinds * len(paths)
    if len(kinds) != len(paths):
        n = len(paths)
        raise UserError(f"--kind: give one kind for all {n} --sycophancy-eval files, or one each; got {len(kinds)}")
    return [{"path": path, "kind": kind} for path, kind in zip(paths, kinds)]


def probe_rows(args) -> list[dict]:
    """The {prompt, response} pairs to score, checked before the probe and its model load:
    a file's bad line is named file:line, an empty response is refused (nothing to score)."""
    from pinpoint.data.schema import iter_jsonl

    if args.file:
        if args.prompt is not None or args.response is not None:
            raise UserError("--file: score a file or one --prompt/--response pair, not both")
        rows = [(f"{args.file}:{n}", row) for n, row in iter_jsonl(args.file)]
        if not rows:
            raise UserError(f"{args.file}: empty file (no rows to score)")
    elif args.prompt is None or args.response is None:
        raise UserError("give --prompt and --response, or --file")
    else:
        rows = [("--response", {"prompt": args.prompt, "response": args.response})]
    for where, row in rows:
        if not (isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("response"), str)):
            raise UserError(f"{where}: need string fields 'prompt' and 'response'")
        if not row["response"].strip():
            raise UserError(f"{where}: the response is empty: nothing to score")
    return [row for _, row in rows]
