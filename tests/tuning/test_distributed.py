"""Two processes (torch's launcher, CPU, gloo) train as one process at the same global
batch: the same losses and the same trained weights, for every tuning method; only the main
process writes. The script both runs is tests/tuning/distributed_train.py."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import tiny_model

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "distributed_train.py"
METHODS = ["spt", "sft", "lora", "random"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # loopback only
        return s.getsockname()[1]


def launch(model_dir: Path, out: Path, path: str, methods: list[str]) -> None:
    """Two processes on the CPU, through torch's launcher (what `accelerate launch` runs on GPUs):
    `accelerate launch --cpu --num_processes 2` starts one process only (accelerate 1.15). The
    loop's Accelerator(cpu=True) then sees a 2-process gloo group (DistributedType.MULTI_CPU)."""
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)]),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(SCRIPT),
        str(model_dir),
        str(out),
        path,
        *methods,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def read(out: Path) -> tuple[list[dict], dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    return json.loads((out / "curve.json").read_text()), load_file(str(out / "trained.safetensors"))


def single_threaded(fn, *args, **kwargs):
    """Run as the launched processes do (OMP_NUM_THREADS=1): the same summation order inside each matmul, so
    what is compared is the process split, not thread scheduling (Adam magnifies rounding in tiny gradients)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def assert_same(one, two, atol=1e-5):
    (curve1, trained1), (curve2, trained2) = one, two
    assert [c["step"] for c in curve1] == [c["step"] for c in curve2]
    for a, b in zip(curve1, curve2, strict=True):
        assert abs(a["loss"] - b["loss"]) <= atol, (a, b)
    assert trained1.keys() == trained2.keys() and trained1
    for name in trained1:
        torch.testing.assert_close(
            trained2[name], trained1[name], atol=atol, rtol=0, msg=lambda m, n=name: f"{n}: {m}"
        )


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny Llama (GQA) on disk: both processes load identical weights."""
    directory = tmp_path_factory.mktemp("dist") / "base"
    tiny_model("llama").save_pretrained(directory)
    return directory


@pytest.mark.parametrize("path", ["fast", "plain"])
def test_two_processes_train_as_one(base, tmp_path, path):
    import distributed_train

    launch(base, tmp_path / "two", path, METHODS)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(METHODS)  # no temporary left behind
    for method in METHODS:
        one = single_threaded(distributed_train.train_one, base, method, fast=path == "fast")
        two = read(tmp_path / "two" / method)
        assert json.loads((tmp_path / "two" / method / "state.json").read_text())["num_processes"] == 2
        assert_same(one, two)
        assert any(t.abs().max() > 0 for t in two[1].values())  # it trained
