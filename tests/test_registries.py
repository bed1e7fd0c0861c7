"""Adding a tuning method or an evaluation suite is its own code plus one registration line:
params, training, loading, scoring and the report's columns follow from the registries."""

import types

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from conftest import tiny_model
from pinpoint import checkpoints, models, params, report
from pinpoint.evaluation import suites
from pinpoint.heads import HeadLayout
from pinpoint.params import ParamsError
from pinpoint.tuning import METHODS, loop, register
from pinpoint.tuning import base as tuning_base
from pinpoint.tuning.base import load_base


def norms_module():
    """A toy method: train only the normalisation weights; the checkpoint is those weights."""
    module = types.ModuleType("norms")

    def prepare(model, layout, heads, tune):
        for name, param in model.named_parameters():
            param.requires_grad_("norm" in name)
        return model, [q for q in model.parameters() if q.requires_grad], None

    def save(model, state, directory, tokenizer):
        torch.save({n: q.detach() for n, q in model.named_parameters() if "norm" in n}, directory / "norms.pt")

    def load(directory, manifest, dtype, device):
        model, tokenizer, _ = load_base(directory, manifest, dtype, device)
        model.load_state_dict(torch.load(directory / "norms.pt"), strict=False)
        return model, tokenizer

    module.prepare, module.save, module.load = prepare, save, load
    return module


@pytest.fixture
def toy_registrations(monkeypatch):
    monkeypatch.setitem(METHODS, "norms", None)  # setitem restores the registry after the test
    register("norms", norms_module(), lr=1e-2)
    toy = suites.Suite(
        "echo",
        lambda ctx: [{"id": "x"}],
        lambda model, tok, recs, ctx: {"echo_rate": 0.25, "n": 1},
        (suites.Metric("echo_rate", "echo", suites.LOWER),),
    )
    monkeypatch.setitem(suites.SUITES, "echo", toy)
    yield


def test_a_registered_method_and_suite_flow_through(toy_registrations, tmp_path, monkeypatch):
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "configs": ["organism"],
                "methods": ["spt", "norms"],
                "organism": {"tune": {"lr": {"norms": 0.05}}, "evaluate": {"suites": ["echo"]}},
            }
        )
    )
    assert params.methods(path) == ["spt", "norms"]
    assert params.load("tune", path=path).learning_rate("norms") == 0.05
    assert params.load("evaluate", path=path).suites == ["echo"]

    model = tiny_model("llama")
    model.save_pretrained(tmp_path / "base")
    models.write_manifest(tmp_path / "base", {"kind": "full"})
    layout = HeadLayout.of(model)
    model, trainable, state = METHODS["norms"].prepare(model, layout, [], None)
    examples = [([1, 2, 3, 4, 5], [-100, -100, -100, 4, 5])] * 4
    loop.train(model, trainable, examples, steps=3, batch_size=2, lr=0.05, weight_decay=0.0, seed=0, pad_id=0)
    out = tmp_path / "norms"
    out.mkdir()
    METHODS["norms"].save(model, state, out, None)
    models.write_manifest(out, tuning_base.manifest("norms", tmp_path / "base", out, layout, [], seed=0))
    monkeypatch.setattr(  # the tiny base has no tokenizer
        "pinpoint.models.load_pretrained", lambda src, *a, **k: (AutoModelForCausalLM.from_pretrained(src), None)
    )
    reloaded, _ = checkpoints.load(out, device="cpu")  # by the kind its manifest names
    for (name, a), b in zip(model.named_parameters(), reloaded.parameters()):
        assert torch.equal(a, b) or "norm" not in name

    ctx = suites.Context(tmp_path, "plain", None)
    parts = suites.load_parts(["echo"], ctx)
    results = {"base": suites.score_parts(reloaded, None, parts, ctx)}
    assert results["base"]["echo"]["echo_rate"] == 0.25
    assert "echo ↓" in report.summary_table(results)


def test_an_unregistered_method_or_suite_is_refused(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump({"configs": ["organism"], "methods": ["dpo"], "organism": {"evaluate": {"suites": ["echo"]}}})
    )
    with pytest.raises(ParamsError, match=r"methods\[0\]: unknown tuning method 'dpo'"):
        params.methods(path)
    with pytest.raises(ParamsError, match=r"organism\.evaluate\.suites\[0\]: unknown suite 'echo'"):
        params.load("evaluate", path=path)
