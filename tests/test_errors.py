"""Every mistake a user can make ends in one line on stderr naming the culprit and exit code 2,
before any model loads; Ctrl-C ends in "interrupted" and 130, leaving no partial output."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pinpoint import cli, params

PINPOINT = Path(sys.executable).parent / "pinpoint"
FEEDBACK_ROW = {"prompt": [{"type": "human", "content": "Comment on this argument."}], "base": {}, "metadata": {}}


def write_jsonl(path: Path, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def run(argv, capsys) -> tuple[int, str]:
    """cli.main's exit code and its stderr, which must be one line."""
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return code, err


@pytest.fixture
def data(tmp_path) -> str:
    """A data directory with no built-in records: only its metadata."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meta.json").write_text('{"format": "plain"}')
    return str(tmp_path / "data")


@pytest.fixture
def no_model(monkeypatch):
    """Loading a model is Ctrl-C: a command that gets that far has passed every check."""
    from pinpoint.models import checkpoints, loading

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loading, "load", interrupted)
    monkeypatch.setattr(checkpoints, "load", interrupted)


# --------------------------------------------------------------------------- params: evaluate.external


def evaluate(external: dict, suites=("answer", "opinion", "feedback")):
    """The params, then the files they name checked as the evaluate stage checks them before a model loads."""
    from pinpoint.data import external as files

    ev = params.parse(params.EvaluateParams, {"suites": list(suites), "external": external}, "evaluate")
    names = ("evaluate.external.sycophancy_eval", "evaluate.external.perez")
    try:
        files.checked(ev.external.sycophancy_eval, ev.external.perez, ev.suites, names)
    except files.SchemaError as e:
        raise params.ParamsError(str(e)) from None
    return ev


def test_a_sycophancy_eval_file_may_name_its_kind(tmp_path):
    path = write_jsonl(tmp_path / "sharma_feedback_arguments.jsonl", [FEEDBACK_ROW])
    with pytest.raises(
        params.ParamsError,
        match=r"^evaluate\.external\.sycophancy_eval\[0\]: .*cannot tell the "
        r"SycophancyEval file kind from its name; give its kind",
    ):
        evaluate({"sycophancy_eval": [path]})
    p = evaluate({"sycophancy_eval": [{"path": path, "kind": "feedback"}]})
    assert p.external.sycophancy_eval == [{"path": path, "kind": "feedback"}]
    cases = [
        ({"path": path, "kind": "feedbak"}, r"sycophancy_eval\[0\]\.kind: expected one of 'are_you_sure', 'answer'"),
        ({"path": path, "knd": "feedback"}, r"sycophancy_eval\[0\]\.knd: unknown key; allowed: path, kind"),
        ({"kind": "feedback"}, r"sycophancy_eval\[0\]\.path: name the file"),
        (3, r"sycophancy_eval\[0\]: expected a string or a mapping, got 3"),
    ]
    for entry, message in cases:
        with pytest.raises(params.ParamsError, match=message):
            evaluate({"sycophancy_eval": [entry]})


def test_external_files_no_evaluated_suite_reads_are_refused(tmp_path):
    feedback = write_jsonl(tmp_path / "feedback.jsonl", [FEEDBACK_ROW])
    mimicry = write_jsonl(tmp_path / "mimicry.jsonl", [FEEDBACK_ROW])
    empty = write_jsonl(tmp_path / "empty" / "answer.jsonl", [])
    cases = [
        (
            {"sycophancy_eval": [feedback]},
            r"sycophancy_eval\[0\]: .*feedback\.jsonl: a feedback file is read by the "
            r"feedback suite, which is not evaluated \(suites: answer, opinion\)",
        ),
        ({"sycophancy_eval": [mimicry]}, r"sycophancy_eval\[0\]: .*mimicry\.jsonl: a mimicry file: no suite scores"),
        ({"sycophancy_eval": [empty]}, r"sycophancy_eval\[0\]: .*answer\.jsonl: empty file \(no records\)"),
        ({"perez": [str(tmp_path / "missing.jsonl")]}, r"evaluate\.external\.perez\[0\]: .*missing\.jsonl: not found"),
    ]
    for external, message in cases:
        with pytest.raises(params.ParamsError, match=message):
            evaluate(external, suites=("answer", "opinion"))


# --------------------------------------------------------------------------- pinpoint eval


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--batch-size", "0"),
        ("--max-new-tokens", "0"),
        ("--batch-size", "-3"),
        ("--max-items", "-1"),
        ("--batch-size", "many"),
    ],
)
def test_eval_refuses_a_count_out_of_range(flag, value, capsys):
    code, err = run(["eval", "models/spt", flag, value], capsys)
    assert code == 2 and err.startswith(f"error: pinpoint eval: argument {flag}: ")


def eval_feedback(data, external_file, *extra) -> list[str]:
    """`pinpoint eval` on a feedback file, everything valid: it gets as far as loading the model."""
    return ["eval", "models/spt", "--data", data, "--sycophancy-eval", external_file, "--suites", "feedback", *extra]


def test_eval_refuses_external_files_before_loading_a_model(tmp_path, data, capsys, no_model):
    feedback = write_jsonl(tmp_path / "ext" / "feedback.jsonl", [FEEDBACK_ROW])
    sharma = write_jsonl(tmp_path / "ext" / "sharma_feedback_arguments.jsonl", [FEEDBACK_ROW])
    mimicry = write_jsonl(tmp_path / "ext" / "mimicry.jsonl", [FEEDBACK_ROW])
    empty = write_jsonl(tmp_path / "ext" / "answer.jsonl", [])
    cases = [
        (["--sycophancy-eval", feedback], "a feedback file is read by the feedback suite, which is not evaluated"),
        (["--sycophancy-eval", mimicry, "--suites", "feedback"], "mimicry.jsonl: a mimicry file: no suite scores"),
        (["--sycophancy-eval", empty, "--suites", "answer"], "answer.jsonl: empty file (no records)"),
        (["--sycophancy-eval", sharma, "--suites", "feedback"], "cannot tell the SycophancyEval file kind from its"),
        (["--kind", "feedback", "--suites", "feedback"], "--kind: names the kind of --sycophancy-eval files"),
        (
            ["--sycophancy-eval", sharma, feedback, "--kind", "feedback", "answer", "answer", "--suites", "feedback"],
            "--kind: give one kind for all 2 --sycophancy-eval files, or one each; got 3",
        ),
        (["--suites", "feedback"], "--suites: no records for feedback"),
    ]
    for extra, message in cases:
        code, err = run(["eval", "models/spt", "--data", data, *extra], capsys)
        assert code == 2 and message in err, err
    code, err = run(eval_feedback(data, sharma, "--kind", "feedback"), capsys)
    assert (code, err) == (130, "interrupted")  # every check passed: it went on to load the model


def test_ctrl_c_leaves_no_partial_output(tmp_path, data, capsys, no_model):
    feedback = write_jsonl(tmp_path / "ext" / "feedback.jsonl", [FEEDBACK_ROW])
    out = tmp_path / "result.json"
    code, err = run(eval_feedback(data, feedback, "--output", str(out)), capsys)
    assert (code, err) == (130, "interrupted") and not out.exists()


def test_ctrl_c_in_any_command_is_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_heads", interrupted)
    assert run(["heads"], capsys) == (130, "interrupted")


# --------------------------------------------------------------------------- pinpoint probe


def test_probe_refuses_an_empty_response_before_loading_anything(tmp_path, capsys):
    missing = str(tmp_path / "no_probe")  # the checks come first: this directory is never read
    code, err = run(["probe", "--prompt", "Is 7 prime?", "--response", "", "--probe-dir", missing], capsys)
    assert code == 2 and err == "error: --response: the response is empty: nothing to score"
    code, err = run(["probe", "--prompt", "Is 7 prime?", "--probe-dir", missing], capsys)
    assert code == 2 and err == "error: give --prompt and --response, or --file"


def test_probe_names_the_bad_line_of_a_file(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    good = json.dumps({"prompt": "Is 7 prime?", "response": "Yes."})
    cases = [
        (f"{good}\n\n{{not json\n", rf"{path}:3: not valid JSON"),
        (f"{good}\n{json.dumps({'prompt': 'q'})}\n", f"{path}:2: need string fields 'prompt' and 'response'"),
        (f"{good}\n[1, 2]\n", f"{path}:2: need string fields 'prompt' and 'response'"),
        (f"{json.dumps({'prompt': 'q', 'response': '  '})}\n", f"{path}:1: the response is empty: nothing to score"),
        ("\n", f"{path}: empty file (no rows to score)"),
    ]
    for text, message in cases:
        path.write_text(text)
        code, err = run(["probe", "--file", str(path), "--probe-dir", str(tmp_path / "no_probe")], capsys)
        assert code == 2 and message in err, err


def test_the_installed_command_fails_in_one_line():
    done = subprocess.run(
        [str(PINPOINT), "eval", "models/spt", "--batch-size", "0"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stdout == ""
    message = "error: pinpoint eval: argument --batch-size: must be >= 1, got 0 (see pinpoint eval --help)"
    assert done.stderr == message + "\n"
