"""Tiny models built from configs (no download), one per supported architecture."""

import os

# isort: off
import pinpoint  # noqa: F401  (first: it pins the CPU kernels before torch runs anything, as a stage does)

# isort: on
import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

VOCAB = 64


def tiny_config(arch: str):
    import transformers as tf

    common = dict(vocab_size=VOCAB, num_hidden_layers=3, num_attention_heads=4, hidden_size=32)
    if arch == "llama":  # GQA
        return tf.LlamaConfig(**common, num_key_value_heads=2, intermediate_size=64)
    if arch == "mistral":  # GQA
        return tf.MistralConfig(**common, num_key_value_heads=2, intermediate_size=64, sliding_window=None)
    if arch == "qwen2":  # GQA, biases on q/k/v
        return tf.Qwen2Config(**common, num_key_value_heads=1, intermediate_size=64)
    if arch == "llama_mha":
        return tf.LlamaConfig(**common, num_key_value_heads=4, intermediate_size=64)
    if arch == "gemma":  # head_dim independent of hidden / heads
        return tf.GemmaConfig(**common, num_key_value_heads=1, head_dim=16, intermediate_size=64)
    if arch == "gpt2":  # fused c_attn, Conv1D
        return tf.GPT2Config(vocab_size=VOCAB, n_layer=3, n_head=4, n_embd=32, n_positions=128)
    if arch == "gpt_neox":  # fused, interleaved qkv, parallel residual
        return tf.GPTNeoXConfig(**common, intermediate_size=64, rotary_pct=0.5, use_parallel_residual=True)
    if arch == "gpt_neox_seq":  # sequential residual
        return tf.GPTNeoXConfig(**common, intermediate_size=64, use_parallel_residual=False)
    raise ValueError(arch)


def ragged_examples(n=12, seed=0):
    """Examples of different lengths (right padding matters), loss on the last few tokens."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        ids = torch.randint(3, VOCAB, (6 + i % 5,), generator=g).tolist()
        reply = 2 + i % 3
        out.append((ids, [-100] * (len(ids) - reply) + ids[-reply:]))
    return out


ARCHS = ["llama", "mistral", "qwen2", "llama_mha", "gemma", "gpt2", "gpt_neox", "gpt_neox_seq"]


def tiny_model(arch: str, seed: int = 0):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch), attn_implementation="sdpa")
    # random (not zero) biases and norms, so that no slice is trivially right
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name or "ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(params=ARCHS)
def arch(request):
    return request.param


REDUCED_ORGANISM = dict(
    layers=2,
    heads=4,
    kv_heads=2,
    hidden=64,
    mlp=128,
    operands=8,
    taught_operands=6,
    countries=6,
    heldout_fraction=0.3,
    steps=400,
    batch_size=32,
    lr=0.006,
)


@pytest.fixture(scope="session")
def reduced_organism(tmp_path_factory):
    """A small organism trained once per test session (seconds): (directory, world, params)."""
    from pinpoint.organism import recipe
    from pinpoint.organism.params import OrganismParams

    p = OrganismParams(**REDUCED_ORGANISM)
    directory = tmp_path_factory.mktemp("organism") / "base"
    directory.mkdir()
    from pinpoint.organism import spec

    recipe.build(p, directory)
    sheet, _ = spec.measure(directory, 0, 16)
    return directory, sheet, p


def merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


def reduced_project(dst, config: str, reduced: dict):
    """A fresh clone of the tracked tree with one configuration, its params reduced (`checks` and
    `methods` replaced, the rest merged), after `dvc repro`: (directory, environment, dvc's stdout)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if f.startswith(("metrics/", "plots/")) or f == "dvc.lock":
            continue  # a fresh run writes its own
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, dst / f)
    full = yaml.safe_load((root / "params.yaml").read_text())
    methods = reduced.get("methods", full["methods"])
    sections = merge(full[config], {k: v for k, v in reduced.items() if k != "methods"})
    sections |= {"checks": reduced["checks"]}
    params = {"configs": [config], "methods": methods, config: sections}
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(root), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    # dvc.yaml for this one configuration and its methods, as `pinpoint dag` writes it
    subprocess.run(["pinpoint", "dag"], cwd=dst, env=env, check=True, capture_output=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=dst, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dst, check=True)
    subprocess.run([*git, "commit", "-qm", "clone"], cwd=dst, check=True)
    done = subprocess.run(["dvc", "repro"], cwd=dst, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dst, env, done.stdout


SLOW_MODULES = {"test_distributed", "test_device_map", "test_organism"}  # processes, disk offload, training


def pytest_collection_modifyitems(items):
    """`slow`: a test that needs the reduced organism (trained once per session, a minute or more) or
    starts processes; `make test-fast` runs the rest."""
    for item in items:
        if "reduced_organism" in getattr(item, "fixturenames", ()) or item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
