"""The numeric path: MKL's branch is read back from MKL itself and agrees with what MKL prints; a stage applies its
configuration's numerics, and stops in one line where MKL runs another branch than the pins ask; `pinpoint drift`
says first when the committed figures and the working tree's were computed on different paths."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pinpoint import environment
from pinpoint.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def branch_in_a_process(**env) -> tuple[str, str]:
    """(mkl_branch() in a fresh process with `env`, the CNR field of MKL's own verbose line there)."""
    code = "from pinpoint import environment; print(environment.mkl_branch())"
    clean = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "MKL_VERBOSE")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean | env | {"MKL_VERBOSE": "1"}
    )
    verbose = [part for line in done.stdout.splitlines() for part in line.split() if part.startswith("CNR:")]
    return done.stdout.strip().splitlines()[-1], verbose[0][4:] if verbose else ""


@pytest.mark.parametrize("pin", ["COMPATIBLE", "AVX2,STRICT", "AUTO"])
def test_the_branch_read_back_is_the_one_mkl_reports_in_its_verbose_line(pin):
    read, printed = branch_in_a_process(MKL_CBWR=pin)
    assert read == printed and read  # the two ways of asking MKL agree
    assert read == environment.expected_branch(pin, environment.cpu_vendor())  # and MKL does what it documents


def test_importing_pinpoint_pins_the_portable_branch():
    read, _ = branch_in_a_process()
    assert read == "COMPATIBLE"


def test_the_documented_branch_per_vendor():
    assert environment.expected_branch("AVX2,STRICT", "GenuineIntel") == "AVX2,STRICT"
    assert environment.expected_branch("AVX2,STRICT", "AuthenticAMD") == "AUTO,STRICT"
    assert environment.expected_branch("AVX512", "AuthenticAMD") == "AUTO"
    assert environment.expected_branch("COMPATIBLE", "AuthenticAMD") == "COMPATIBLE"
    assert environment.expected_branch("COMPATIBLE", "GenuineIntel") == "COMPATIBLE"


def test_a_stage_stops_in_one_line_where_mkl_runs_another_branch(monkeypatch, tmp_path):
    from pinpoint import stage
    from pinpoint.paths import Paths

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(environment, "USER_SET", frozenset())
    monkeypatch.setattr(environment, "mkl_branch", lambda: "AUTO")  # a CPU where MKL ignores the pin
    with pytest.raises(UserError, match=r"MKL runs its AUTO branch, not COMPATIBLE .*set MKL_CBWR yourself"):
        stage.numerics_in_force(Paths("organism"), "filter")
    monkeypatch.setattr(environment, "USER_SET", frozenset({"MKL_CBWR"}))  # the user's own choice: a note only
    monkeypatch.setenv("MKL_CBWR", "AVX512")
    found = stage.numerics_in_force(Paths("organism"), "filter")
    assert found["mkl_branch"] == "AUTO" and found["asked"] == {"mkl": "portable", "threads": 2}


def test_a_later_stage_takes_the_numerics_the_base_was_built_with(monkeypatch, tmp_path):
    from pinpoint import stage
    from pinpoint.paths import Paths

    monkeypatch.chdir(tmp_path)
    base = Paths("organism").base
    base.mkdir(parents=True)
    (base / "pinpoint.json").write_text(json.dumps({"kind": "organism", "numerics": {"mkl": "vendor", "threads": 3}}))
    assert stage.numerics_asked(Paths("organism"), "evaluate") == environment.Numerics("vendor", 3)
    assert stage.numerics_asked(Paths("smollm2"), "evaluate") == environment.Numerics()  # no base yet: defaults


def commit(repo: Path, files: dict[str, object]) -> None:
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(json.dumps(data))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)


def drift(repo: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pinpoint.cli", "drift", "--config", "smollm2"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )


def test_drift_is_exact_on_one_path_and_says_so_first_on_another(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    amd = {"mkl": "vendor", "threads": 2, "branch": "AUTO,STRICT", "cpu_vendor": "AuthenticAMD"}
    figure = {"value": 0.5, "ci95": [0.3, 0.7], "n": 30}
    commit(
        tmp_path,
        {
            "metrics/smollm2/model.json": {"base": {}, "numerics": amd},
            "metrics/smollm2/eval.json": {"spt": {"are_you_sure": {"maintain_rate": figure}}},
        },
    )
    assert drift(tmp_path).returncode == 0  # the same path, the same bits

    (tmp_path / "metrics/smollm2/eval.json").write_text(
        json.dumps({"spt": {"are_you_sure": {"maintain_rate": figure | {"value": 0.55}}}})
    )
    done = drift(tmp_path)
    assert done.returncode == 1 and "maintain_rate.value: committed 0.5, computed 0.55" in done.stderr

    intel = amd | {"branch": "AVX2,STRICT", "cpu_vendor": "GenuineIntel"}
    (tmp_path / "metrics/smollm2/model.json").write_text(json.dumps({"base": {}, "numerics": intel}))
    done = drift(tmp_path)
    first = done.stderr.splitlines()[0]
    assert "computed on MKL branch AUTO,STRICT, AuthenticAMD" in first and "AVX2,STRICT, GenuineIntel" in first
    assert done.returncode == 0 and "1 of 1 figures of smollm2 lie in their committed 95% interval" in done.stderr
    (tmp_path / "metrics/smollm2/eval.json").write_text(
        json.dumps({"spt": {"are_you_sure": {"maintain_rate": figure | {"value": 0.9}}}})
    )
    done = drift(tmp_path)
    assert done.returncode == 1 and "0 of 1 figures" in done.stderr and "computed 0.9" in done.stderr
