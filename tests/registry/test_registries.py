"""Adding a tuning method or an evaluation suite is its own code plus its card (or, here, an entry added at run
time): params, training, loading, scoring, the figures, the report's columns and dvc.yaml follow. The registries
read their names off their folders and import no torch."""

import sys
import types

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from conftest import tiny_model
from pinpoint import dag, params
from pinpoint.evaluation import context
from pinpoint.figures import results, tables
from pinpoint.models import checkpoints, loading
from pinpoint.models.checkpoints import load_base
from pinpoint.models.heads import HeadLayout
from pinpoint.params import ParamsError
from pinpoint.registry.methods import METHODS, Method, TrainedSettings
from pinpoint.registry.suites import LOWER, SUITES, Metric, Suite
from pinpoint.tuning import job, loop


def norms_module():
    """A toy method: train only the normalisation weights; the checkpoint is those weights."""
    module = types.ModuleType("toy_norms")

    def prepare(model, layout, heads, settings):
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


def echo_module():
    """A toy suite: every item's 'echo' is 1 for the first of four items."""
    module = types.ModuleType("toy_echo")
    module.load = lambda suite, ctx: [{"id": f"x{i}"} for i in range(4)]
    module.run = lambda suite, model, tok, records, ctx: [
        {"id": r["id"], "echo": i == 0, "tokens": 1, "unknown": 0, "truncated": False} for i, r in enumerate(records)
    ]
    return module


class NormsSettings(TrainedSettings):
    pass


@pytest.fixture
def toy_registrations(monkeypatch):
    monkeypatch.setitem(sys.modules, "toy_norms", norms_module())
    monkeypatch.setitem(sys.modules, "toy_echo", echo_module())
    monkeypatch.setitem(METHODS, "norms", Method("norms", "toy_norms", NormsSettings))  # restored after the test
    monkeypatch.setitem(
        SUITES, "echo", Suite("echo", 1, "toy_echo", (Metric("echo_rate", LOWER, lambda r: r["echo"], "echo"),))
    )
    yield


def test_a_registered_method_and_suite_flow_through(toy_registrations, tmp_path, monkeypatch):
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "configs": ["organism"],
                "methods": ["spt", "norms"],
                "organism": {"tune": {"norms": {"lr": 0.05}}, "evaluate": {"suites": ["echo"]}},
            }
        )
    )
    assert params.methods(path) == ["spt", "norms"]
    assert params.load("tune", path=path, method="norms").norms.lr == 0.05
    assert params.load("evaluate", path=path).suites == ["echo"]
    names = [s.name for s in dag.stages(["spt", "norms"], ROOT_PARAMS)]
    assert "tune-norms" in names and "evaluate-norms" in names

    model = tiny_model("llama")
    model.save_pretrained(tmp_path / "base")
    loading.write_manifest(tmp_path / "base", {"kind": "full"})
    layout = HeadLayout.of(model)
    model, trainable, state = job.prepare("norms", model, layout, [])
    examples = [([1, 2, 3, 4, 5], [-100, -100, -100, 4, 5])] * 4
    job.train_examples(model, trainable, examples, loop.Recipe(steps=3, lr=0.05), job.Batching(2, 0))
    out = tmp_path / "norms"
    out.mkdir()
    sys.modules["toy_norms"].save(model, state, out, None)
    loading.write_manifest(out, checkpoints.tuned_manifest("norms", tmp_path / "base", out, layout, [], seed=0))
    monkeypatch.setattr(  # the tiny base has no tokenizer
        loading, "load_pretrained", lambda src, *a, **k: (AutoModelForCausalLM.from_pretrained(src), None)
    )
    reloaded, _ = checkpoints.load(out, device="cpu")  # by the kind its manifest names
    for (name, a), b in zip(model.named_parameters(), reloaded.parameters()):
        assert torch.equal(a, b) or "norm" not in name

    ctx = context.Context(tmp_path, "plain", None)
    found = context.parts(["echo"], ctx)
    summary = results.summarise({"base": context.run_parts(reloaded, None, found, ctx)})
    assert summary["base"]["echo"]["echo_rate"]["value"] == 0.25 and summary["base"]["echo"]["version"] == 1
    assert "echo ↓" in tables.summary_table(summary)


def test_an_unregistered_method_or_suite_is_refused(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump({"configs": ["organism"], "methods": ["dpo"], "organism": {"evaluate": {"suites": ["echo"]}}})
    )
    with pytest.raises(ParamsError, match=r"methods\[0\]: unknown tuning method 'dpo'"):
        params.methods(path)
    with pytest.raises(ParamsError, match=r"organism\.evaluate\.suites\[0\]: unknown suite 'echo'"):
        params.load("evaluate", path=path)


def test_the_registries_import_no_torch():
    """params and the registries are read by every stage: they must not pull in any machinery."""
    import subprocess

    code = (
        "import sys; import pinpoint.params; from pinpoint.registry import facts, methods, models, suites; "
        "[r[n] for r in (facts.FACT_SOURCES, methods.METHODS, models.MODEL_SOURCES, suites.SUITES) for n in r]; "
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'accelerate') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout  # every card of every registry read, and still no torch


def test_a_registry_lists_its_cards_without_importing_them():
    code = (
        "import sys; from pinpoint.registry.methods import METHODS; names = list(METHODS); "
        "print(names, [m for m in sys.modules if m.startswith('pinpoint.methods.')])"
    )
    done = subprocess_run(code)
    assert done == "['lora', 'prompt', 'random', 'sft', 'spt', 'steer', 'steer_heads', 'wei', 'wei_unfiltered'] []"
    code = (
        "import sys; from pinpoint.registry.methods import METHODS; METHODS['lora']; "
        "print(sorted(m for m in sys.modules if m.startswith('pinpoint.methods')))"
    )
    assert subprocess_run(code) == "['pinpoint.methods', 'pinpoint.methods.lora']"


def test_a_runtime_entry_shadows_no_card_and_is_removed_with_del():
    with pytest.raises(ValueError, match="tuning method 'spt' has a card already"):
        METHODS["spt"] = METHODS["spt"]
    METHODS["toy"] = METHODS["sft"]
    try:
        assert "toy" in METHODS and METHODS.card("toy") is None and METHODS.card("sft") == "pinpoint.methods.sft"
    finally:
        del METHODS["toy"]
    assert "toy" not in METHODS
    with pytest.raises(KeyError, match="unknown tuning method 'toy'; known: lora, prompt"):
        METHODS["toy"]


def subprocess_run(code: str) -> str:
    import subprocess

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


ROOT_PARAMS = __import__("pathlib").Path(__file__).resolve().parents[2] / "params.yaml"
