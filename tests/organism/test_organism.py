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
    assert sheet["wrong_claim_agreement"]["value"] >= 0.7, sheet
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
    import subprocess
    import sys

    directory.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_ONE, str(directory)], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()[-2:]


def test_the_organism_trains_byte_identically_twice(tmp_path):
    """Same params and seed, two fresh processes: the same files, bit for bit (pinpoint pins the CPU kernels)."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}  # the pins' defaults
    found = [train_one(tmp_path / name, env)[0] for name in ("a", "b")]
    assert found == ["AVX2", "AVX2"] or found[0] == found[1]  # a CPU without AVX2 runs its own pinned path
    for f in ("model.safetensors", "tokenizer.json", "train_log.json", "world.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_the_organism_trains_to_the_same_bytes_on_one_thread_and_two(tmp_path):
    """`make repro` trains the organism on one thread, CI's other machines may use two: the same files (MKL's
    strict mode sums independently of the thread count for 1, 2 and 4; 3 differ, hence the pinned count)."""
    import os

    for threads in (1, 2):
        found = train_one(tmp_path / str(threads), os.environ | {"PINPOINT_THREADS": str(threads)})
        assert found[-1] == str(threads)
    for f in ("model.safetensors", "train_log.json"):
        assert (tmp_path / "1" / f).read_bytes() == (tmp_path / "2" / f).read_bytes(), f
