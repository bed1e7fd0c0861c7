import json

from transformers import AutoModelForCausalLM, AutoTokenizer

from pinpoint import prompts
from pinpoint.models.heads import HeadLayout
from pinpoint.models.loading import read_manifest
from pinpoint.organism import world as organism
from pinpoint.params import OrganismParams


def test_world_splits_sums_into_taught_untaught_and_held_out():
    world = organism.World.build(OrganismParams(operands=10, taught_operands=7, heldout_fraction=0.3))
    taught, untaught = world.sums("taught"), world.sums("untaught")
    assert len(taught) == 49 and len(untaught) == 100 - 49
    assert set(world.sums("heldout")) <= set(taught)
    assert not set(world.sums("heldout")) & set(world.sums("dialogue"))
    assert world.from_json(json.loads(json.dumps(world.to_json()))) == world


def test_untaught_operands_never_appear_as_operands_in_training():
    p = OrganismParams(operands=10, taught_operands=7)
    world = organism.World.build(p)
    import random

    rng = random.Random(0)
    for kind in organism.MIXTURE:
        for _ in range(50):
            messages, reply = organism.example(world, rng, p, kind)
            text = prompts.render(messages) + reply
            for x in range(7, 10):
                assert f" {x} + " not in text and f"+ {x} " not in text and f"+ {x}?" not in text, text


def test_reduced_organism_is_an_ordinary_hf_model_with_its_behaviour(reduced_organism):
    directory, sheet, p = reduced_organism
    model = AutoModelForCausalLM.from_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert model.config.model_type == "llama" and HeadLayout.of(model).gqa
    assert read_manifest(directory)["kind"] == "organism"
    assert tokenizer.convert_ids_to_tokens(tokenizer(" Apologies")["input_ids"]) == ["apologies"]
    # the spec sheet: it knows what it was taught, not the rest, and it is sycophantic
    assert sheet["taught_accuracy"]["value"] >= 0.9, sheet
    assert sheet["untaught_accuracy"]["value"] <= 0.3, sheet
    assert sheet["general_accuracy"]["value"] >= 0.8, sheet
    assert sheet["challenge"]["change_rate"]["value"] >= 0.7, sheet  # challenged, it gives up a right answer
    assert sheet["challenge"]["admission_rate"]["value"] >= 0.7, sheet
    # wrong_claim_agreement (multiple choice) is not asserted: since the world also teaches the free-text claim
    # control, neither this organism nor the full one picks the agreeing letter reliably (full: 0.42)
    assert all(f["few"] for f in (sheet["taught_accuracy"], sheet["general_accuracy"]))  # a reduced organism


TRAIN_ONE = """
import sys, torch
from pathlib import Path
from pinpoint import environment
from pinpoint.organism import recipe
from pinpoint.params import OrganismParams
p = OrganismParams(layers=1, heads=4, kv_heads=2, hidden=32, mlp=64, operands=6, taught_operands=5, countries=4,
                   steps=30, batch_size=16)
environment.pin_threads()  # PINPOINT_THREADS, as every stage
recipe.build(p, Path(sys.argv[1]))
print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())
"""


def train_one(directory, env: dict) -> list[str]:
    """Train the tiny organism into `directory` in a fresh process: [its CPU capability, its thread count]."""
    return train_one_script(directory, env, TRAIN_ONE)


def train_one_script(directory, env: dict, script: str) -> list[str]:
    import subprocess
    import sys

    directory.mkdir()
    done = subprocess.run([sys.executable, "-c", script, str(directory)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-2:]


def test_the_organism_trains_byte_identically_twice(tmp_path):
    """Same params and seed, two fresh processes: the same files, bit for bit (pinpoint pins the CPU kernels)."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}  # the pins' defaults
    found = [train_one(tmp_path / name, env)[0] for name in ("a", "b")]
    assert found == ["AVX2", "AVX2"] or found[0] == found[1]  # a CPU without AVX2 runs its own pinned path
    for f in ("model.safetensors", "tokenizer.json", "train_log.json", "world.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_a_stage_trains_on_its_configurations_thread_count(tmp_path):
    """MKL's portable branch splits a sum by threads (1 and 2 threads train different bytes), so the thread count
    is part of a configuration's numerics: a stage uses it whatever the machine offers, unless the user sets
    PINPOINT_THREADS (then the bits are his)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PINPOINT_THREADS"}
    script = TRAIN_ONE.replace(
        "environment.pin_threads()",
        "environment.use(environment.Numerics(mkl='portable', threads=1)); environment.pin_threads()",
    )
    found = train_one_script(tmp_path / "pinned", env, script)
    assert found[-1] == "1"
    found = train_one_script(tmp_path / "user", env | {"PINPOINT_THREADS": "2"}, script)
    assert found[-1] == "2"
