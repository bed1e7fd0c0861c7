"""A broken model file is bad input like any other: the model stage says in one line which file and what is wrong
with it, exits 2, and keeps the last good base model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_model
from pinpoint.errors import UserError
from pinpoint.models import gguf, loading

ROOT = Path(__file__).resolve().parents[2]


def model_stage(project: Path, name: str, source: str) -> subprocess.CompletedProcess:
    """stages/model.py in a scratch project whose model is `name` (a path), built by `source`."""
    params = {"configs": ["organism"], "methods": ["spt"], "organism": {"model": {"name": name, "source": source}}}
    (project / "params.yaml").write_text(json.dumps(params))
    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(ROOT / "stages/model.py"), "organism"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


@pytest.fixture
def last_good(tmp_path) -> Path:
    """A project whose base was built before: a bad model file must leave it as it was."""
    base = tmp_path / "models" / "organism" / "base"
    base.mkdir(parents=True)
    (base / "pinpoint.json").write_text('{"kind": "full"}\n')
    return base


def cut(source: Path, to: Path, size: int) -> Path:
    to.write_bytes(source.read_bytes()[:size])
    return to


def tiny_directory(at: Path) -> Path:
    tiny_model("llama").save_pretrained(at)
    return at


def broken(kind: str, tmp_path: Path) -> tuple[str, str, str]:
    """(model.name, model.source, what the one line must say) of a broken model input of `kind`."""
    if kind == "gguf cut short":
        return str(cut(gguf.smollm2_file(), tmp_path / "cut.gguf", 1_000_000)), "gguf", "is cut short or corrupt"
    if kind == "not a gguf file":
        (tmp_path / "text.gguf").write_text("hello")
        return str(tmp_path / "text.gguf"), "gguf", "is not a GGUF file (5 bytes"
    directory = tiny_directory(tmp_path / "tiny")
    if kind == "no weights":
        (directory / "model.safetensors").unlink()
        return str(directory), "hub", "holds no weights"
    if kind == "unknown architecture":
        config = json.loads((directory / "config.json").read_text()) | {"model_type": "no_such_family"}
        (directory / "config.json").write_text(json.dumps(config))
        return str(directory), "hub", "names architecture 'no_such_family', which transformers does not know"
    weights = directory / "model.safetensors"
    cut(weights, tmp_path / "whole.safetensors", weights.stat().st_size - 100).replace(weights)
    return str(directory), "hub", "model.safetensors' is cut short"


KINDS = ["gguf cut short", "not a gguf file", "no weights", "unknown architecture", "safetensors cut short"]


@pytest.mark.slow  # a stage process per case
@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_model_file_is_one_line_and_keeps_the_last_good_base(kind, tmp_path, last_good):
    name, source, says = broken(kind, tmp_path)
    done = model_stage(tmp_path, name, source)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0] and "model.name" in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert (last_good / "pinpoint.json").read_text() == '{"kind": "full"}\n'  # the last good base, untouched


@pytest.mark.parametrize("kind", KINDS[2:])
def test_each_broken_directory_is_caught_before_anything_loads(kind, tmp_path):
    name, _, says = broken(kind, tmp_path)
    with pytest.raises(UserError, match="model.name: .*" + says.split(" (")[0].replace("'", ".")):
        loading.check_local_model(Path(name), name)
    intact = tiny_directory(tmp_path / "intact")
    loading.check_local_model(intact, str(intact))  # a whole one passes


def test_a_safetensors_file_cut_anywhere_is_caught(tmp_path):
    weights = tiny_directory(tmp_path / "tiny") / "model.safetensors"
    size = weights.stat().st_size
    assert loading.safetensors_problem(weights) is None
    for keep in (0, 7, 8, 100, size // 2, size - 1):
        part = cut(weights, tmp_path / f"cut{keep}.safetensors", keep)
        assert "cut short" in loading.safetensors_problem(part), keep
