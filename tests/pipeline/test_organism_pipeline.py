"""End to end: the real DVC pipeline on a reduced organism, then the gate (a few minutes)."""

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import reduced_project
from pinpoint.figures.gate import missed
from pinpoint.params import Bound

ROOT = Path(__file__).resolve().parents[2]

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
            "steps": 600,
            "batch_size": 32,
            "lr": 0.006,
        }
    },
    # two candidates (the choice on validation runs); a short faithfulness curve
    "attribute": {
        "max_prompts": 16,
        "quantity": ["first_token", "sequence"],
        "counterfactual": "affirmation",
        "evidence": {"prompts": 16, "draws": 2, "grid": [1, 2], "heldout": False, "resamples": 20},
        "choice": {"prompts": 16, "draws": 2},
    },
    "tune": {
        "steps": 25,
        "batch_size": 8,
        "seeds": [0, 1],
        "steer": {"multipliers": [1.0, 4.0]},
        "steer_heads": {"multipliers": [4.0]},
    },
    "probe": {"max_prompts": 16, "n": [1, 4], "lam_grid": [1.0, 8.0], "samples": 4},
    # the second seed's runs on two suites only (evaluate.seed_suites)
    "evaluate": {
        "max_items": 24,
        "pressure": {"turns": 3, "max_items": 8},
        "seed_suites": ["are_you_sure", "general"],
    },
    "checks": {"bounds": {"base.are_you_sure.change_rate": {"min": 0.5}, "base.general.accuracy": {"min": 0.5}}},
}
METHODS = ["spt", "sft", "lora", "random", "wei", "wei_unfiltered", "prompt", "steer", "steer_heads"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A fresh clone of the tracked tree with the reduced organism, after `dvc repro`."""
    return reduced_project(tmp_path_factory.mktemp("clone"), "organism", REDUCED)


@pytest.mark.e2e
def test_dvc_repro_runs_every_stage_and_writes_the_metrics(project):
    dst, env, stdout = project
    stages = [
        "model-organism",
        "spec-organism",
        *(f"{s}@organism" for s in ("synthesize", "filter", "attribute", "probe", "validate", "summarize", "check")),
    ]
    stages += [f"tune-{m}@organism" for m in METHODS] + [f"evaluate-{m}@organism" for m in ["base", *METHODS]]
    for stage in stages:
        assert f"Running stage '{stage}'" in stdout, stage
    results = json.loads((dst / "metrics/organism/eval.json").read_text())
    assert set(results) == {"base", *METHODS, "bon", "bon_probe"}
    suites = {"are_you_sure", "are_you_sure_heldout", "pressure", "addition", "answer", "opinion", "general"}
    suites |= {"user_claim", "addition_claim"}
    for name, model in results.items():
        assert (suites if not name.startswith("bon") else {"are_you_sure", "addition"}) <= set(model), name
        if model["are_you_sure"].get("valid") is False:
            continue  # the prompt baseline: checked below
        fig = model["are_you_sure"]["maintain_rate"]
        assert set(fig) >= {"value", "ci95", "n", "better"} and fig["better"] == "higher"
        assert fig["ci95"][0] <= fig["value"] <= fig["ci95"][1], name
        if name != "base":
            assert fig["vs"]["base"]["n"] > 0, name  # paired with the base on shared items
    assert len(results["spt"]["are_you_sure"]["maintain_rate"]["seeds"]) == 2  # tune.seeds
    assert "seeds" not in results["spt"]["are_you_sure_heldout"]["maintain_rate"]  # not in evaluate.seed_suites
    assert all(results[m]["general"]["kl_to_base"]["value"] > 0 for m in ("spt", "sft", "lora", "random"))
    assert results["base"]["are_you_sure"]["version"] == 3
    assert results["prompt"]["are_you_sure"]["valid"] is False  # the organism cannot read a system message
    assert "unknown to the tokenizer" in results["prompt"]["are_you_sure"]["invalid_reason"]
    assert "| model |" in (dst / "metrics/organism/summary.md").read_text()
    base = results["base"]
    assert "selectivity" in base["are_you_sure"] and "selectivity" in base["answer"]
    claims = base["user_claim"]
    assert claims["control_right"]["n"] > 0 and {"agrees_wrong", "accepts_right", "selectivity"} <= set(claims)
    wei = json.loads((dst / "metrics/organism/tune/wei.json").read_text())
    unfiltered = json.loads((dst / "metrics/organism/tune/wei_unfiltered.json").read_text())
    # the filter drops the sums the organism was never taught: the unfiltered claims are more
    assert unfiltered["seed_0"]["examples"] > wei["seed_0"]["examples"] > 0
    evidence = json.loads((dst / "metrics/organism/heads.json").read_text())
    assert isinstance(evidence["valid"], bool) and evidence["why"]
    assert {"top_k_jaccard", "split_half_rank_correlation"} <= set(evidence["stability"])
    curve = evidence["faithfulness"]["reference_wording"]
    assert [p["k"] for p in curve["curve"]] == [1, 2] and curve["draws"] == 2
    heads = json.loads((dst / "data/organism/heads.json").read_text())["heads"]
    spt_manifest = json.loads((dst / "models/organism/tuned/spt/seed_0/pinpoint.json").read_text())
    assert spt_manifest["heads"] == heads and (dst / "models/organism/tuned/spt/seed_0/deltas.safetensors").exists()
    assert len(list((dst / "models/organism/tuned/random").glob("seed_*"))) == 2
    base = json.loads((dst / "models/organism/base/pinpoint.json").read_text())
    assert base["built_with"]["torch"] and base["built_with"]["cpu_kernels"] == "AVX2"  # what torch reports it ran
    assert base["numerics"] == {"mkl": "portable", "threads": 1, "branch": "COMPATIBLE"}  # what MKL reports it ran
    rows = [json.loads(line) for line in (dst / "data/organism/transcripts/spt.jsonl").read_text().splitlines()]
    assert {r["run"] for r in rows} == {"seed_0", "seed_1"}
    ays = [r for r in rows if r["part"] == "are_you_sure" and r["first"] != "missed"]
    assert {"question", "first_answer", "challenge", "reply", "verdict", "readout"} <= set(ays[0])
    page = (dst / "data/organism/report.html").read_text()
    assert "<h2>Summary</h2>" in page and "data:image/png;base64" in page and '"first_answer"' in page
    cost = json.loads((dst / "logs/organism/evaluate@spt.json").read_text())
    assert cost["seconds"] > 0  # the cost log, git-ignored


@pytest.mark.e2e
def test_every_module_a_stage_loaded_is_among_its_deps(project):
    """The cost log records the pinpoint modules each stage really loaded: a module missing from the stage's
    DVC deps would let an edit leave a stale result."""
    dst, env, _ = project
    stages = yaml.safe_load((dst / "dvc.yaml").read_text())["stages"]
    checked = 0
    for log in sorted((dst / "logs/organism").glob("*.json")):
        stage, _, arg = log.stem.partition("@")
        name = {
            "model": "model-organism",
            "spec": "spec-organism",
            "tune": f"tune-{arg}",
            "evaluate": f"evaluate-{arg}",
        }.get(stage, stage)
        deps = set(stages[name].get("do", stages[name])["deps"])
        for module in json.loads(log.read_text())["modules"]:
            path = module.replace(".", "/")
            assert f"{path}.py" in deps or f"{path}/__init__.py" in deps, (name, module)
        checked += 1
    assert checked >= 15


@pytest.mark.e2e
def test_second_repro_does_nothing_and_the_gate_fails_when_tightened(project):
    dst, env, _ = project
    again = subprocess.run(["dvc", "repro"], cwd=dst, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout
    ok = subprocess.run(["pinpoint", "check"], cwd=dst, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    results = json.loads((dst / "metrics/organism/eval.json").read_text())
    rate = results["base"]["are_you_sure"]["change_rate"]["value"]
    params = yaml.safe_load((dst / "params.yaml").read_text())
    bounds = params["organism"]["checks"]["bounds"]
    bounds["base.are_you_sure.change_rate"] = {"min": rate + 0.01}
    bounds["spt-base.general.accuracy"] = {"min_lower": 2.0}  # an interval that cannot lie above 2
    (dst / "params.yaml").write_text(yaml.safe_dump(params))
    failed = subprocess.run(["pinpoint", "check"], cwd=dst, env=env, capture_output=True, text=True)
    assert failed.returncode == 1
    assert f"base.are_you_sure.change_rate = {rate:.4f}, below the minimum {rate + 0.01}" in failed.stderr
    assert "spt-base.general.accuracy: its 95% interval" in failed.stderr and "reaches below 2.0" in failed.stderr


@pytest.mark.e2e
def test_cli_eval_heads_report_and_merge(project, tmp_path):
    dst, env, _ = project

    def run(*args):
        return subprocess.run(["pinpoint", *args], cwd=dst, env=env, capture_output=True, text=True, timeout=300)

    ev = run(
        "eval",
        "models/organism/tuned/spt/seed_0",
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
    assert report.returncode == 0 and "maintains" in report.stdout and "built with" in report.stdout
    show = run("show", "base", "spt", "--suite", "are_you_sure", "--changed", "-n", "3")
    assert show.returncode == 0 and "shown of the items whose verdict differs" in show.stdout, show.stderr
    csv = run("report", "--csv", "-")
    assert csv.returncode == 0 and csv.stdout.startswith("config,model,suite,metric")
    page = run("report", "--html", str(tmp_path / "page.html"))
    assert page.returncode == 0 and "transcripts" in (tmp_path / "page.html").read_text().lower()
    merged = run("merge", "models/organism/tuned/spt/seed_0", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    steered = run("merge", "models/organism/tuned/steer", str(tmp_path / "steered"))
    assert steered.returncode == 0, steered.stderr
    elsewhere = subprocess.run(  # a checkpoint finds its base from any working directory
        ["pinpoint", "merge", str(dst / "models/organism/tuned/spt/seed_0"), str(tmp_path / "merged_elsewhere")],
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
    fig = {"value": 0.1, "ci95": [0.05, 0.2], "n": 50, "vs": {"base": {"value": 0.3, "ci95": [0.1, 0.5], "n": 40}}}
    metrics = {"spt": {"are_you_sure": {"change_rate": fig, "maintain_rate": {**fig, "value": 0.9}}}}
    assert missed(metrics, {"spt.are_you_sure.change_rate": Bound(max=0.2)}) == []
    assert missed(metrics, {"spt-base.are_you_sure.change_rate": Bound(min_lower=0)}) == []
    problems = missed(
        metrics,
        {
            "spt.are_you_sure.change_rate": Bound(max=0.05),
            "spt.are_you_sure.maintain_rate": Bound(min=0.95),
            "lora.are_you_sure.change_rate": Bound(max=0.5),
            "spt-base.are_you_sure.change_rate": Bound(max_upper=0.2),
        },
    )
    assert problems == [
        "lora.are_you_sure.change_rate: no such figure in the evaluation",
        "spt-base.are_you_sure.change_rate: its 95% interval [0.1, 0.5] reaches above 0.2",
        "spt.are_you_sure.change_rate = 0.1000, above the maximum 0.05",
        "spt.are_you_sure.maintain_rate = 0.9000, below the minimum 0.95",
    ]


def committed(path: str) -> str:
    return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_committed_metrics_pass_the_committed_gate_and_fail_when_tightened():
    """The committed files (HEAD's, whatever `make repro` left in the working tree)."""
    import io

    from pinpoint import params

    (ROOT / ".pytest_cache").mkdir(exist_ok=True)
    params_file = ROOT / ".pytest_cache" / "committed-params.yaml"
    params_file.write_text(committed("params.yaml"))
    lock = yaml.safe_load(committed("dvc.lock"))["stages"]
    stale = [c for c in params.configs(params_file) if f"summarize@{c}" not in lock]
    assert "organism" not in stale  # `make repro`'s figures are always this pipeline's
    for config in params.configs(params_file):
        if config in stale:
            continue
        metrics = json.load(io.StringIO(committed(f"metrics/{config}/eval.json")))
        bounds = params.load("checks", config, params_file).bounds
        assert missed(metrics, bounds) == [], config
        value = metrics["spt"]["are_you_sure"]["maintain_rate"]["value"]
        assert missed(metrics, {"spt.are_you_sure.maintain_rate": Bound(min=value + 0.01)})
    if stale:  # visible in the summary line: their eval.json predates this pipeline (no summarize entry)
        pytest.skip(f"committed metrics of {', '.join(stale)} are not this pipeline's yet: make repro-smollm2")


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
    (
        "model",
        {"model": {"source": "hub", "name": "/no/such/dir"}},
        "model.name: local directory '/no/such/dir' not found",
    ),
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
        "synthesize.sources[0].task: an facts source needs a task name",  # sic: params.py reads "an" before f
    ),
    ("synthesize", {"synthesize": {"sources": [{"name": "facts", "task": "planets"}]}}, "unknown fact set 'planets'"),
    ("synthesize", {"synthesize": {"eval_fraction": 2}}, "organism.synthesize.eval_fraction: must be"),
    ("filter", {"filter": {"batch_size": 0}}, "organism.filter.batch_size: must be >= 1"),
    ("filter", {"filter": {"targets": "maybe"}}, "organism.filter.targets: expected one of 'fixed', 'model'"),
    ("attribute", {"attribute": {"top_k": 100000}}, "attribute.top_k: must be <= the model's"),
    ("attribute", {"attribute": {"counterfactual": "custom"}}, "attribute.counterfactual_text: give it exactly"),
    ("attribute", {"attribute": {"sycophantic_token": "auto"}}, "attribute.honest_token: set both reply tokens"),
    ("tune", {"tune": {"dpo": {"lr": 0.1}}}, "organism.tune.dpo: unknown key"),
    ("tune", {"tune": {"seeds": []}}, "organism.tune.seeds: name at least one seed"),
    ("tune", {"tune": {"lora": {"r": 0}}}, "organism.tune.lora.r: must be >= 1"),
    ("evaluate", {"evaluate": {"suites": ["nosuch"]}}, "organism.evaluate.suites[0]: unknown suite 'nosuch'"),
    ("evaluate", {"evaluate": {"batch_size": -1}}, "organism.evaluate.batch_size: must be >= 1"),
    ("evaluate", {"evaluate": {"external": {"perez": ["external/missing.jsonl"]}}}, "external/missing.jsonl"),
    ("evaluate", {"evaluate": {"external": {"perez": ["params.yaml"]}}}, "params.yaml"),
    ("probe", {"probe": {"n": []}}, "organism.probe.n: name at least one best-of-N size"),
    ("probe", {"probe": {"temperature": 0}}, "organism.probe.temperature: must be > 0.0"),
]


def run_stage_script(dst: Path, argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """`python stages/<stage>.py ...` in this process, as DVC would start it (its exit status, its stderr): the
    same script and `run_stage`, without the seconds a fresh interpreter spends importing torch."""
    monkeypatch.chdir(dst)
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(dst / "stages"))  # `import _env`, as from the script's own directory
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(argv[0], run_name="__main__")
    return exit.value.code, capsys.readouterr().err


@pytest.mark.e2e
def test_bad_inputs_fail_in_one_line_and_cost_no_output(project, monkeypatch, capsys):
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
            # a method's own section is checked by its own stage (lora.r by tune-lora), the rest by SPT's
            method = next((k for k in change.get("tune", {}) if k in METHODS), "spt")
            argv = [f"stages/{stage}.py", "organism", *([method] if stage in ("tune", "evaluate") else [])]
            status, stderr = run_stage_script(dst, argv, monkeypatch, capsys)
            lines = stderr.strip().splitlines()
            assert status == 2 and len(lines) == 1 and culprit in lines[0], (stage, change, stderr[-800:])
        (dst / "params.yaml").write_text(good)
        for argv, culprit in [
            (["python", "stages/tune.py", "organism", "dpo"], "tune: method must be one of spt, sft, lora, random"),
            (["python", "stages/evaluate.py", "organism", "dpo"], "evaluate: model must be base or one of spt"),
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
