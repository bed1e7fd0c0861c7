import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pinpoint import params
from pinpoint.params import OrganismParams
from pinpoint.registry.methods import METHODS

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, sections) -> Path:
    """A params.yaml with one configuration, the organism, made of `sections`."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"configs": ["organism"], "methods": ["spt"], "organism": sections}))
    return path


def test_defaults_of_the_repo_validate():
    model = params.load("model", path=ROOT / "params.yaml")
    assert model.name == "organism" and model.organism.kv_heads < model.organism.heads
    for config in params.configs(ROOT / "params.yaml"):
        for section in params.SECTIONS:
            params.load(section, config, ROOT / "params.yaml")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"model": {"nmae": "x"}}, r"model\.nmae: unknown key"),
        ({"model": {"organism": {"steps": "many"}}}, r"model\.organism\.steps: expected an integer, got 'many'"),
        ({"model": {"organism": {"lr": -0.1}}}, r"model\.organism\.lr: must be > 0.0 and <= 1.0, got -0.1"),
        ({"model": {"dtype": "float8"}}, r"model\.dtype: expected one of 'auto'"),
        ({"model": {"organism": {"heads": 8, "kv_heads": 3}}}, r"model\.organism\.kv_heads: must divide heads"),
        ({"model": {"organism": {"cave_rate": 1.5}}}, r"model\.organism\.cave_rate: must be >= 0.0 and <= 1.0"),
        ({"model": {"organism": {"layers": True}}}, r"model\.organism\.layers: expected an integer, got True"),
    ],
)
def test_bad_params_name_the_key(tmp_path, data, message):
    with pytest.raises(params.ParamsError, match=message):
        params.load("model", path=write(tmp_path, data))


def run_model_stage(tmp_path, data):
    """Run stages/model.py in a scratch project; returns the finished process."""
    write(tmp_path, data)
    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(ROOT / "stages/model.py"), "organism"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"model": {"unknown": 1}}, "model.unknown: unknown key"),
        ({"model": {"organism": {"steps": "x"}}}, "model.organism.steps: expected an integer"),
        ({"model": {"organism": {"lr": -1}}}, "model.organism.lr: must be > 0.0"),
        ({"model": {"name": "no-such-org/no-such-model"}}, "model.name: cannot resolve 'no-such-org/no-such-model'"),
    ],
)
@pytest.mark.slow  # a stage process per case
def test_model_stage_fails_in_one_line_and_writes_nothing(tmp_path, data, message):
    done = run_model_stage(tmp_path, data)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "models").exists() and not (tmp_path / "metrics").exists()


@pytest.mark.slow  # a stage process
def test_unknown_architecture_in_a_local_model_dir(tmp_path):
    from transformers import BertConfig

    BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16).save_pretrained(
        tmp_path / "bert"
    )
    done = run_model_stage(tmp_path, {"model": {"name": str(tmp_path / "bert")}})
    assert done.returncode == 2 and "architecture 'bert' is not supported" in done.stderr
    assert not (tmp_path / "models").exists()


def test_an_empty_section_means_its_defaults():
    # `external:` with nothing under it reads as null in YAML: all defaults, as an absent key
    evaluate = params.parse(params.EvaluateParams, {"external": None}, "evaluate")
    assert evaluate.external.sycophancy_eval == [] and evaluate.external.perez == []
    assert params.parse(params.ModelParams, {"organism": None}, "model").organism == OrganismParams()


def test_a_stage_started_by_a_python_without_pinpoint_says_so_in_one_line(tmp_path):
    """-S: no site-packages, so no pinpoint (as the system's python, which dvc runs outside the environment)."""
    done = subprocess.run(
        [sys.executable, "-S", str(ROOT / "stages/model.py"), "organism"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "has no pinpoint installed" in lines[0], done.stderr
    assert "source .venv/bin/activate" in lines[0]


def test_tune_sections_are_per_method_and_interval_bounds_check(tmp_path):
    tune = params.load("tune", path=write(tmp_path, {"tune": {"seeds": [0, 3], "lora": {"r": 4}}}))
    assert tune.seeds == [0, 3] and tune.lora.r == 4 and getattr(tune, METHODS["random"].section) is tune.spt
    with pytest.raises(params.ParamsError, match=r"organism\.tune\.seeds: a seed is named twice"):
        params.load("tune", path=write(tmp_path, {"tune": {"seeds": [1, 1]}}))
    bounds = params.load("checks", path=write(tmp_path, {"checks": {"bounds": {"spt-base.a.b": {"min_lower": 0}}}}))
    assert bounds.bounds["spt-base.a.b"].min_lower == 0
    with pytest.raises(params.ParamsError, match=r"give min, max, min_lower or max_upper"):
        params.load("checks", path=write(tmp_path, {"checks": {"bounds": {"spt.a.b": {}}}}))
