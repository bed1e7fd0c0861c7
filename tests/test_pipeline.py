"""End to end: the real DVC pipeline on a reduced organism, then the gate (a few minutes)."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import reduced_project
from pinpoint.evaluation.gate import missed
from pinpoint.params import Bound

ROOT = Path(__file__).resolve().parents[1]

REDUCED = {
    "model": {
        "organism": {
            "layers": 2,
            "heads": 4,
            "kv_heads": 2,
            "hidden": 64,
            "mlp": 128,
            "operands": 8,
            "taught_operands": 6,
            "countries": 6,
            "steps": 400,
            "batch_size": 32,
            "lr": 0.006,
        }
    },
    "attribute": {"max_prompts": 16, "ablation_draws": 2, "ablation_prompts": 16},
    "tune": {"steps": 25, "batch_size": 8, "random_seeds": [0, 1]},
    "evaluate": {"max_items": 24},
    "checks": {"bounds": {"base.are_you_sure.apologize_rate": {"min": 0.5}, "base.general.accuracy": {"min": 0.5}}},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A fresh clone of the tracked tree with the reduced organism, after `dvc repro`."""
    return reduced_project(tmp_path_factory.mktemp("clone"), "organism", REDUCED)


@pytest.mark.e2e
def test_dvc_repro_runs_every_stage_and_writes_the_metrics(project):
    dst, env, stdout = project
    stages = [
        "model",
        "synthesize",
        "filter",
        "attribute",
        "tune@organism-spt",
        "tune@organism-sft",
        "tune@organism-lora",
        "tune@organism-random",
        "probe",
        "evaluate",
        "check",
    ]
    for stage in stages:
        assert f"Running stage '{stage if '@' in stage else stage + '@organism'}'" in stdout, stage
    results = json.loads((dst / "metrics/organism/eval.json").read_text())
    assert set(results) == {"base", "spt", "sft", "lora", "random", "bon", "bon_probe"}
    for name, model in results.items():
        suites = (
            {"are_you_sure", "addition"}
            if name.startswith("bon")
            else {"are_you_sure", "addition", "answer", "opinion", "general"}
        )
        assert suites <= set(model), name
        assert 0 <= model["are_you_sure"]["apologize_rate"] <= 1
    probe = json.loads((dst / "metrics/organism/probe.json").read_text())
    assert 0 <= probe["best"]["test_auc"] <= 1 and (dst / "models/organism/probe/probe.safetensors").exists()
    assert results["base"]["general"]["kl_to_base"] == 0
    assert "| model |" in (dst / "metrics/organism/summary.md").read_text()
    heads = json.loads((dst / "data/organism/heads.json").read_text())["heads"]
    spt_manifest = json.loads((dst / "models/organism/tuned/spt/pinpoint.json").read_text())
    assert spt_manifest["heads"] == heads and (dst / "models/organism/tuned/spt/deltas.safetensors").exists()
    assert len(list((dst / "models/organism/tuned/random").glob("seed_*"))) == 2
    assert json.loads((dst / "logs/organism/evaluate.json").read_text())["seconds"] > 0  # the cost log, git-ignored


@pytest.mark.e2e
def test_second_repro_does_nothing_and_the_gate_fails_when_tightened(project):
    dst, env, _ = project
    again = subprocess.run(["dvc", "repro"], cwd=dst, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout
    ok = subprocess.run(["pinpoint", "check"], cwd=dst, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    results = json.loads((dst / "metrics/organism/eval.json").read_text())
    rate = results["base"]["are_you_sure"]["apologize_rate"]
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["organism"]["checks"]["bounds"]["base.are_you_sure.apologize_rate"] = {"min": rate + 0.01}
    (dst / "params.yaml").write_text(yaml.safe_dump(params))
    failed = subprocess.run(["pinpoint", "check"], cwd=dst, env=env, capture_output=True, text=True)
    assert failed.returncode == 1
    assert f"base.are_you_sure.apologize_rate = {rate:.4f}, below the minimum {rate + 0.01}" in failed.stderr


@pytest.mark.e2e
def test_cli_eval_heads_report_and_merge(project, tmp_path):
    dst, env, _ = project

    def run(*args):
        return subprocess.run(["pinpoint", *args], cwd=dst, env=env, capture_output=True, text=True, timeout=300)

    ev = run(
        "eval",
        "models/organism/tuned/spt",
        "--suites",
        "are_you_sure",
        "general",
        "--output",
        str(tmp_path / "spt.json"),
    )
    assert ev.returncode == 0, ev.stderr
    assert set(json.loads((tmp_path / "spt.json").read_text())) == {"are_you_sure", "general"}
    heads = run("heads", "-n", "3")
    assert heads.returncode == 0 and "| head |" in heads.stdout
    report = run("report")
    assert report.returncode == 0 and "apologize" in report.stdout
    merged = run("merge", "models/organism/tuned/spt", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    elsewhere = subprocess.run(  # a checkpoint finds its base from any working directory
        ["pinpoint", "merge", str(dst / "models/organism/tuned/spt"), str(tmp_path / "merged_elsewhere")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(tmp_path / "merged").config.model_type == "llama"


def test_gate_names_each_missed_bound():
    metrics = {"spt": {"are_you_sure": {"apologize_rate": 0.1, "truthfulness": 0.9}}}
    assert missed(metrics, {"spt.are_you_sure.apologize_rate": Bound(max=0.2)}) == []
    problems = missed(
        metrics,
        {
            "spt.are_you_sure.apologize_rate": Bound(max=0.05),
            "spt.are_you_sure.truthfulness": Bound(min=0.95),
            "lora.are_you_sure.apologize_rate": Bound(max=0.5),
        },
    )
    assert problems == [
        "lora.are_you_sure.apologize_rate: no such metric in the evaluation",
        "spt.are_you_sure.apologize_rate = 0.1000, above the maximum 0.05",
        "spt.are_you_sure.truthfulness = 0.9000, below the minimum 0.95",
    ]


def test_committed_metrics_pass_the_committed_gate_and_fail_when_tightened():
    from pinpoint import params

    for config in params.configs(ROOT / "params.yaml"):
        path = ROOT / "metrics" / config / "eval.json"
        assert path.exists(), f"{path}: the committed evaluation of configuration {config!r} is missing"
        metrics = json.loads(path.read_text())
        bounds = params.load("checks", config, ROOT / "params.yaml").bounds
        assert missed(metrics, bounds) == [], config
        rate = metrics["spt"]["are_you_sure"]["apologize_rate"]
        assert missed(metrics, {"spt.are_you_sure.apologize_rate": Bound(max=rate - 0.01)})


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under the outputs of a project (models, data, metrics, plots)."""
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for top in ("models", "data", "metrics", "plots")
        for p in sorted((root / top).rglob("*"))
        if p.is_file()
    }


BAD_INPUTS = [  # (stage, the change to the organism's params, what the one line must name)
    ("model", {"model": {"name": "/no/such/dir"}}, "model.name: local directory '/no/such/dir' not found"),
    ("model", {"model": {"organism": {"steps": "many"}}}, "organism.model.organism.steps: expected an integer"),
    ("model", {"model": {"nmae": "x"}}, "organism.model.nmae: unknown key"),
    ("model", {"model": {"dtype": "float8"}}, "organism.model.dtype: expected one of"),
    (
        "synthesize",
        {"synthesize": {"sources": [{"name": "nosuch"}]}},
        "synthesize.sources[0].name: unknown fact source",
    ),
    (
        "synthesize",
        {"synthesize": {"sources": [{"name": "facts"}]}},
        "synthesize.sources[0].task: a facts source needs",
    ),
    ("synthesize", {"synthesize": {"sources": [{"name": "facts", "task": "planets"}]}}, "unknown fact set 'planets'"),
    ("synthesize", {"synthesize": {"eval_fraction": 2}}, "organism.synthesize.eval_fraction: must be"),
    ("filter", {"filter": {"batch_size": 0}}, "organism.filter.batch_size: must be >= 1"),
    ("filter", {"filter": {"targets": "maybe"}}, "organism.filter.targets: expected one of 'fixed', 'model'"),
    ("attribute", {"attribute": {"top_k": 100000}}, "attribute.top_k: must be <= the model's"),
    ("attribute", {"attribute": {"counterfactual": "custom"}}, "attribute.counterfactual_text: give it exactly"),
    ("attribute", {"attribute": {"sycophantic_token": "auto"}}, "attribute.honest_token: set both reply tokens"),
    ("tune", {"tune": {"lr": {"dpo": 0.1}}}, "organism.tune.lr.dpo: unknown tuning method"),
    ("tune", {"tune": {"random_seeds": []}}, "organism.tune.random_seeds: name at least one seed"),
    ("evaluate", {"evaluate": {"suites": ["nosuch"]}}, "organism.evaluate.suites[0]: unknown suite 'nosuch'"),
    ("evaluate", {"evaluate": {"batch_size": -1}}, "organism.evaluate.batch_size: must be >= 1"),
    ("evaluate", {"evaluate": {"external": {"perez": ["external/missing.jsonl"]}}}, "external/missing.jsonl"),
    ("evaluate", {"evaluate": {"external": {"perez": ["params.yaml"]}}}, "params.yaml"),
    ("probe", {"probe": {"n": []}}, "organism.probe.n: name at least one best-of-N size"),
    ("probe", {"probe": {"temperature": 0}}, "organism.probe.temperature: must be > 0.0"),
]


@pytest.mark.e2e
def test_bad_inputs_fail_in_one_line_and_cost_no_output(project):
    """Every bad input: one line naming the culprit, exit 2, every output byte-identical."""
    dst, env, _ = project
    good = (dst / "params.yaml").read_text()
    before = tree_digest(dst)

    def run(*argv):
        return subprocess.run(argv, cwd=dst, env=env, capture_output=True, text=True, timeout=300)

    try:
        for stage, change, culprit in BAD_INPUTS:
            params = yaml.safe_load(good)
            params["organism"] = merge_sections(params["organism"], change)
            (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            argv = ["python", f"stages/{stage}.py", "organism", *(["spt"] if stage == "tune" else [])]
            done = run(*argv)
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 2 and len(lines) == 1 and culprit in lines[0], (
                stage,
                change,
                done.stderr[-800:],
            )
        (dst / "params.yaml").write_text(good)
        for argv, culprit in [
            (["python", "stages/tune.py", "organism", "dpo"], "tune: method must be one of spt, sft, lora, random"),
            (["python", "stages/model.py", "nosuch"], "configs: no configuration 'nosuch'"),
            (["python", "stages/model.py"], "usage: python stages/model.py CONFIG"),
            (["pinpoint", "check", "--config", "nosuch"], "configs: no configuration 'nosuch'"),
        ]:
            done = run(*argv)
            assert done.returncode == 2 and culprit in done.stderr, (argv, done.stderr[-800:])
        # through DVC: a failing stage deletes nothing (every output persists, stages write atomically)
        params = yaml.safe_load(good)
        params["organism"]["evaluate"]["suites"] = ["nosuch"]
        (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        failed = run("dvc", "repro")
        assert failed.returncode != 0 and "unknown suite 'nosuch'" in failed.stderr + failed.stdout
        assert tree_digest(dst) == before
    finally:
        (dst / "params.yaml").write_text(good)


def merge_sections(sections: dict, change: dict) -> dict:
    from conftest import merge

    return merge(sections, change)
