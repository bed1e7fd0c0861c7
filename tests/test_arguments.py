"""The command line's own checks (pinpoint.arguments): counts, published files' kinds, the probe's rows."""

import argparse
import json

import pytest

from pinpoint.arguments import at_least, probe_rows, sycophancy_eval_entries
from pinpoint.errors import UserError


def test_a_count_below_its_floor_is_refused():
    assert at_least(1)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="must be >= 1, got 0"):
        at_least(1)("0")
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer, got 'x'"):
        at_least(0)("x")


def test_kinds_are_one_for_all_or_one_each():
    assert sycophancy_eval_entries(["a.jsonl"], None) == ["a.jsonl"]
    assert sycophancy_eval_entries(["a", "b"], ["answer"]) == [
        {"path": "a", "kind": "answer"},
        {"path": "b", "kind": "answer"},
    ]
    with pytest.raises(UserError, match="give one kind for all 2 --sycophancy-eval files, or one each; got 3"):
        sycophancy_eval_entries(["a", "b"], ["answer"] * 3)
    with pytest.raises(UserError, match="--kind: names the kind of --sycophancy-eval files, and none is given"):
        sycophancy_eval_entries([], ["answer"])


def test_probe_rows_name_the_bad_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "p", "response": "r"}) + "\n" + json.dumps({"prompt": "p"}) + "\n")
    args = argparse.Namespace(file=str(path), prompt=None, response=None)
    with pytest.raises(UserError, match=r"rows\.jsonl:2: need string fields 'prompt' and 'response'"):
        probe_rows(args)
    one = argparse.Namespace(file=None, prompt="p", response="  ")
    with pytest.raises(UserError, match="the response is empty"):
        probe_rows(one)
