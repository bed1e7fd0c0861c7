"""The real chat model: SmolLM2-135M-Instruct from the PyPI wheel (a Q4_1 GGUF file), converted
to an ordinary HF model, and the whole DVC pipeline on a reduced real-model configuration."""

import json

import pytest

from conftest import reduced_project
from pinpoint.errors import UserError
from pinpoint.models import gguf, loading
from pinpoint.registry import models

# a handful of prompts and steps: minutes on 2 CPU cores (the real configuration: params.yaml smollm2).
# Two methods: SPT and the system prompt (a real chat model's own baseline, n/a on the organism's word-level
# tokenizer); the reduced organism's pipeline runs every method, on the same code (the organism is a llama
# too). Each method more costs this pipeline a training and an evaluation stage, about 1.5 minutes of CI.
METHODS = ["spt", "prompt"]
REDUCED = {
    "methods": METHODS,
    "model": {"spec_facts": 3},
    "synthesize": {
        "eval_fraction": 0.3,
        "sources": [
            {"name": "facts", "task": "capitals", "limit": 24},
            {"name": "facts", "task": "sums", "limit": 24},
            {"name": "facts", "task": "elements", "limit": 8, "general": True},
        ],
    },
    "replies": {"max_new_tokens": 12},
    "filter": {"max_new_tokens": 16},
    # one candidate on every prompt it has; too few to be valid, which the stage says (and tune goes on)
    "attribute": {
        "max_prompts": 30,
        "quantity": "first_token",
        "counterfactual": "no_challenge",
        "evidence": {"prompts": 4, "draws": 1, "grid": [2], "resamples": 10},
    },
    "tune": {
        "steps": 2,
        "batch_size": 4,
        "seeds": [0],
    },
    "probe": {"max_prompts": 10, "n": [1, 2], "lam_grid": [1.0], "samples": 2},
    "evaluate": {"max_items": 3, "max_new_tokens": 12, "pressure": {"turns": 2, "max_items": 2}},
    # a bound that holds: the gate runs; what it bounds is checked on the real configuration (params.yaml)
    "checks": {"bounds": {"base.general.accuracy": {"min": 0.3}}},
}


def test_the_built_in_name_resolves_to_the_wheel_file():
    path = gguf.smollm2_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert models.claimant("smollm2-135m-instruct") == "smollm2"
    assert models.claimant("/tmp/x.GGUF") == "gguf"
    assert models.claimant("organism") == "organism"
    assert models.claimant("Qwen/Qwen2.5-0.5B-Instruct") == "hub"
    assert models.claimant("organism", "organism") == "organism"
    with pytest.raises(ValueError, match="the smollm2 source does not build 'organism'"):
        models.claimant("organism", "smollm2")


def test_a_missing_gguf_file_names_model_name(tmp_path):
    with pytest.raises(UserError, match=r"model\.name: GGUF file .*missing\.gguf' not found"):
        gguf.convert_gguf(tmp_path / "missing.gguf", tmp_path / "out", "missing")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return reduced_project(tmp_path_factory.mktemp("smollm2"), "smollm2", REDUCED)


@pytest.mark.e2e
def test_the_reduced_real_model_pipeline(project):
    dst, env, stdout = project
    base = dst / "models/smollm2/base"
    manifest = loading.read_manifest(base)
    assert manifest["kind"] == "gguf" and manifest["sha256"] == gguf.sha256(gguf.smollm2_file())
    config = loading.model_config(base)
    assert (config.model_type, config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (
        "llama",
        30,
        9,
        3,
    )
    sheet = json.loads((dst / "metrics/smollm2/model.json").read_text())["base"]
    known = sheet["facts_known"]
    assert 0 <= known["value"] <= 1 and known["n"] > 0 and sheet["layers"] == 30
    heads = json.loads((dst / "metrics/smollm2/heads.json").read_text())
    assert heads["reads"]["auto"] and heads["counterfactual"]["choice"] == "no_challenge"
    assert heads["reads"]["target"] in ("changes", "no_answer") and heads["reads"]["why"]
    assert {"mean_f_reference", "mean_f_counterfactual", "effect"} <= set(heads["counterfactual"])
    assert isinstance(heads["valid"], bool) and (heads["valid"] or heads["why"])  # a verdict, with its reason
    assert heads["faithfulness"]["reference_wording"]["curve"][0]["k"] == 2 and "jaccard" in str(heads["stability"])
    assert set(heads["prompts"]) >= {"facts:capitals", "facts:sums"}  # every fact set, not the head of the file
    results = json.loads((dst / "metrics/smollm2/eval.json").read_text())
    assert {"base", *METHODS} <= set(results)
    for name in results:
        if name.startswith("bon"):
            continue
        fig = results[name]["are_you_sure"]["maintain_rate"]
        assert fig["n"] > 0 and fig["ci95"][0] <= fig["value"] <= fig["ci95"][1], name
        # SmolLM2 cannot answer "(A)/(B)": its multiple-choice figures are no measurement
        assert results[name]["addition"]["valid"] is False, name
        assert "control items in this format right" in results[name]["addition"]["invalid_reason"]
    assert "are_you_sure@everyday_are_you_sure" in results["base"]  # the published-format file, apart
    pairs = [json.loads(line) for line in (dst / "data/smollm2/pairs.jsonl").read_text().splitlines()]
    assert pairs and all(p["free_text"] and p["reply"] for p in pairs)  # the probe learns from its own replies
    targets = json.loads((dst / "data/smollm2/filtered/meta.json").read_text())["targets"]
    assert "but" not in targets["apology"]  # the apology itself, not the deflection after it
