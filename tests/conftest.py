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
TOKENS = (5, 7)  # the (sycophantic, honest) token pair F reads on tiny models

ARCHS = ["llama", "mistral", "qwen2", "llama_mha", "gemma", "gpt2", "gpt_neox", "gpt_neox_seq"]
# families whose residual structure or fused projections differ (Qwen 3, Gemma 2/3, Phi-3, OLMo 2)
FAMILIES = ["qwen3", "gemma2", "gemma3", "phi3", "phi3_mha", "olmo2"]
GQA = {"llama", "mistral", "qwen2", "gemma", "qwen3", "gemma2", "gemma3", "phi3"}
GGUF_FAMILIES = ["qwen3", "gemma2", "gemma3", "phi3"]  # transformers reads these from GGUF files


def tiny_config(arch: str, gguf: bool = False):
    """A tiny config of `arch` (3 layers, 4 heads, hidden 32). The later families have sliding windows shorter
    than the prompts and soft-capping on. gguf: 2 layers and the class defaults a GGUF file cannot carry
    (transformers rebuilds a GGUF model's config from a few metadata keys per family)."""
    import transformers as tf

    if gguf:
        return _gguf_config(arch)
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
    family = dict(common, intermediate_size=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    gemma = dict(head_dim=16, sliding_window=4, query_pre_attn_scalar=16, attn_logit_softcapping=5.0)
    if arch == "qwen3":  # GQA, per-head q/k norms, biases, sliding window on layers 1 and 2
        return tf.Qwen3Config(
            **family,
            num_key_value_heads=2,
            head_dim=16,
            attention_bias=True,
            use_sliding_window=True,
            sliding_window=4,
            max_window_layers=1,
        )
    if arch == "gemma2":  # sandwich norms, attention and final logit soft-capping, alternating sliding window
        return tf.Gemma2Config(**family, num_key_value_heads=2, **gemma, final_logit_softcapping=3.0)
    if arch == "gemma3":  # as Gemma 2, plus per-head q/k norms and a local rope on the sliding layers
        return tf.Gemma3TextConfig(
            **family,
            num_key_value_heads=2,
            **gemma,
            final_logit_softcapping=3.0,
            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        )
    if arch == "phi3":  # fused qkv_proj with GQA, fused gate_up_proj, a sliding window on every layer
        return tf.Phi3Config(**family, num_key_value_heads=2, sliding_window=5)
    if arch == "phi3_mha":
        return tf.Phi3Config(**family, num_key_value_heads=4)
    if arch == "olmo2":  # no pre-norms, post-sublayer norms, q/k norms across all heads
        return tf.Olmo2Config(**family, num_key_value_heads=4)
    raise ValueError(arch)


def _gguf_config(arch: str):
    import transformers as tf

    common = dict(
        vocab_size=VOCAB,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_size=32,
        intermediate_size=64,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    if arch == "qwen3":
        return tf.Qwen3Config(**common, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    if arch == "phi3":
        return tf.Phi3Config(**common, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    if arch == "gemma2":  # head_dim independent of hidden / heads, stated by the file's key_length
        return tf.Gemma2Config(**common, head_dim=16, sliding_window=4)
    if arch == "gemma3":
        return tf.Gemma3TextConfig(**common, head_dim=16, sliding_window=4)
    raise ValueError(arch)


def eager_wide(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    """Eager attention (what Gemma 2 needs for its soft-capping: sdpa has none) with its softmax in the wider of
    float32 and the model's dtype. Transformers' eager kernels take the softmax in float32 whatever the dtype,
    which caps a float64 model at float32 precision (and turns float64's mask minimum into -inf: NaN at the
    padding); for float32 and bf16 models this is the same computation as theirs."""
    n_rep = query.shape[1] // key.shape[1]  # GQA: each KV head serves n_rep query heads
    key, value = key.repeat_interleave(n_rep, 1), value.repeat_interleave(n_rep, 1)
    weights = query @ key.transpose(2, 3) * (module.head_dim**-0.5 if scaling is None else scaling)
    if softcap is not None:
        weights = torch.tanh(weights / softcap) * softcap
    if attention_mask is not None:
        weights = weights + attention_mask[:, :, :, : key.shape[-2]]
    weights = torch.softmax(weights, -1, dtype=torch.promote_types(query.dtype, torch.float32)).to(query.dtype)
    return (weights @ value).transpose(1, 2).contiguous(), weights


def _register_eager_wide() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register("eager_wide", eager_wide)
    AttentionMaskInterface.register("eager_wide", eager_mask)  # additive masks, as eager attention takes


_register_eager_wide()


def tiny_model(arch: str, seed: int = 0, initializer_range: float | None = None, gguf: bool = False):
    """A tiny model of `arch` with random (not zero or one) biases and norm weights, so that no slice or norm is
    trivially right (gguf: norms only, as the file's tensors are). The later families attend eagerly, in a
    softmax as wide as the model (see eager_wide)."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = tiny_config(arch, gguf)
    if initializer_range is not None:
        config.initializer_range = initializer_range
    attention = {} if gguf else {"attn_implementation": "eager_wide" if arch in FAMILIES else "sdpa"}
    model = AutoModelForCausalLM.from_config(config, **attention)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "ln_" in name or (name.endswith("bias") and not gguf):
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def make_batch(seed: int = 0, n: int = 5):
    """Ragged reference and counterfactual prompts (6 to 10 tokens: longer than the sliding windows), left-padded:
    left padding must not matter."""
    from pinpoint.attribution import readout
    from pinpoint.models.tokens import left_pad

    g = torch.Generator().manual_seed(seed)
    ref, cf = [], []
    for i in range(n):
        ids = torch.randint(8, VOCAB, (6 + i,), generator=g).tolist()
        ref.append(ids)
        cf.append(ids[:-3] + torch.randint(8, VOCAB, (3 + i % 2,), generator=g).tolist())
    r_ids, r_mask = left_pad(ref, 0, "cpu")
    c_ids, c_mask = left_pad(cf, 0, "cpu")
    return readout.Batch(r_ids, r_mask, c_ids, c_mask)


def ragged_examples(n=12, seed=0):
    """Examples of different lengths (right padding matters), loss on the last few tokens."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        ids = torch.randint(3, VOCAB, (6 + i % 5,), generator=g).tolist()
        reply = 2 + i % 3
        out.append((ids, [-100] * (len(ids) - reply) + ids[-reply:]))
    return out


@pytest.fixture(params=ARCHS)
def arch(request):
    return request.param


@pytest.fixture(params=FAMILIES)
def family(request):
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
    steps=600,  # the world holds eleven kinds of example: 400 steps leave its general accuracy at 0.67
    batch_size=32,
    lr=0.006,
)


@pytest.fixture(scope="session")
def reduced_organism(tmp_path_factory):
    """A small organism trained once per test session (seconds): (directory, world, params)."""
    from pinpoint.organism import recipe
    from pinpoint.params import OrganismParams

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
    params = {"configs": [config], "tuned": [config], "methods": methods, config: sections}
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
