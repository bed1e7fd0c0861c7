"""Load a causal LM by hub id or directory; `HeadLayout`, the geometry of its heads.

Every model directory pinpoint writes holds a `pinpoint.json` manifest that says what
it is ("organism", "hub", "full", "spt", "lora"); `load` reads it. A hub model is
never copied: its manifest names the hub id and the resolved revision.

`Arch` names the modules of one architecture family; `HeadLayout` is the one place
that knows which slices of q/k/v/o belong to head h and which KV group h reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from pinpoint import cost
from pinpoint.errors import UserError

MANIFEST = "pinpoint.json"


# --------------------------------------------------------------------------- architectures


@dataclass(frozen=True)
class Arch:
    """Module names of one decoder family (relative to the CausalLM)."""

    layers: str  # the ModuleList of decoder blocks
    attn: str  # attention module inside a block
    q: str  # q projection, or the fused qkv projection
    k: str
    v: str
    o: str  # output projection; its input is the concatenation of head outputs
    mlp: str
    pre_mlp_norm: str
    final_norm: str
    qkv: Literal["separate", "fused", "interleaved"] = "separate"  # fused: [q|k|v]; interleaved: per head [q k v]
    conv1d: bool = False  # GPT-2's Conv1D stores weight as (in, out)

    @property
    def projections(self) -> list[str]:
        """Distinct attention projection module names (for LoRA targets)."""
        return list(dict.fromkeys([self.q, self.k, self.v, self.o]))


_LLAMA = Arch(
    "model.layers",
    "self_attn",
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "mlp",
    "post_attention_layernorm",
    "model.norm",
)
ARCHS: dict[str, Arch] = {
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "gemma": _LLAMA,
    "gpt2": Arch(
        "transformer.h",
        "attn",
        "c_attn",
        "c_attn",
        "c_attn",
        "c_proj",
        "mlp",
        "ln_2",
        "transformer.ln_f",
        qkv="fused",
        conv1d=True,
    ),
    "gpt_neox": Arch(
        "gpt_neox.layers",
        "attention",
        "query_key_value",
        "query_key_value",
        "query_key_value",
        "dense",
        "mlp",
        "post_attention_layernorm",
        "gpt_neox.final_layer_norm",
        qkv="interleaved",
    ),
}


class UnsupportedArchitecture(ValueError):
    pass


def arch_of(config) -> Arch:
    model_type = getattr(config, "model_type", None)
    if model_type not in ARCHS:
        raise UnsupportedArchitecture(
            f"architecture {model_type!r} is not supported; supported: {', '.join(sorted(ARCHS))}"
        )
    return ARCHS[model_type]


@dataclass(frozen=True)
class HeadSlice:
    """Part of one projection that belongs to a head.

    side "out": output features of module (q/k/v rows); side "in": input features (o columns).
    """

    module: str
    side: Literal["out", "in"]
    index: tuple[int, ...]


@dataclass(frozen=True)
class HeadLayout:
    arch: Arch
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden: int
    parallel_residual: bool = False  # GPT-NeoX: the MLP reads the block input, not the attention output

    @classmethod
    def of(cls, model_or_config) -> HeadLayout:
        config = getattr(model_or_config, "config", model_or_config)
        arch = arch_of(config)
        n_heads = config.num_attention_heads
        hidden = config.hidden_size
        n_kv = getattr(config, "num_key_value_heads", None) or n_heads
        head_dim = getattr(config, "head_dim", None) or hidden // n_heads
        parallel = bool(getattr(config, "use_parallel_residual", False)) and config.model_type == "gpt_neox"
        return cls(arch, config.num_hidden_layers, n_heads, n_kv, head_dim, hidden, parallel)

    @property
    def n_total(self) -> int:
        return self.n_layers * self.n_heads

    @property
    def gqa(self) -> bool:
        return self.n_kv_heads < self.n_heads

    def group(self, head: int) -> int:
        """The KV head that query head `head` reads."""
        return head // (self.n_heads // self.n_kv_heads)

    def _range(self, start: int) -> tuple[int, ...]:
        return tuple(range(start, start + self.head_dim))

    def q_index(self, head: int) -> tuple[int, ...]:
        if self.arch.qkv == "interleaved":
            return self._range(head * 3 * self.head_dim)
        return self._range(head * self.head_dim)

    def k_index(self, head: int) -> tuple[int, ...]:
        if self.arch.qkv == "interleaved":
            return self._range(head * 3 * self.head_dim + self.head_dim)
        offset = self.n_heads * self.head_dim if self.arch.qkv == "fused" else 0
        return self._range(offset + self.group(head) * self.head_dim)

    def v_index(self, head: int) -> tuple[int, ...]:
        if self.arch.qkv == "interleaved":
            return self._range(head * 3 * self.head_dim + 2 * self.head_dim)
        offset = 2 * self.n_heads * self.head_dim if self.arch.qkv == "fused" else 0
        return self._range(offset + self.group(head) * self.head_dim)

    def o_index(self, head: int) -> tuple[int, ...]:
        return self._range(head * self.head_dim)

    def module_name(self, layer: int, part: str) -> str:
        """Full name of `part` ("q", "k", "v", "o", "attn", "mlp", "pre_mlp_norm") in block `layer`."""
        block = f"{self.arch.layers}.{layer}"
        if part in ("q", "k", "v", "o"):
            return f"{block}.{self.arch.attn}.{getattr(self.arch, part)}"
        return f"{block}.{getattr(self.arch, part)}"

    def head_slices(self, layer: int, head: int) -> list[HeadSlice]:
        """What SPT trains for head (layer, head): its q rows and o columns, and its k/v rows
        unless k/v are shared by a GQA group."""
        slices = [HeadSlice(self.module_name(layer, "q"), "out", self.q_index(head))]
        if not self.gqa:
            slices.append(HeadSlice(self.module_name(layer, "k"), "out", self.k_index(head)))
            slices.append(HeadSlice(self.module_name(layer, "v"), "out", self.v_index(head)))
        slices.append(HeadSlice(self.module_name(layer, "o"), "in", self.o_index(head)))
        return slices

    def weight(self, module: torch.nn.Module) -> torch.Tensor:
        """The module's weight as (out_features, in_features), a view for Conv1D too."""
        return module.weight.T if self.arch.conv1d else module.weight

    def o_columns(self, model, layer: int) -> torch.Tensor:
        """o_proj weight of `layer` viewed as (hidden, n_heads, head_dim)."""
        w = self.weight(model.get_submodule(self.module_name(layer, "o")))
        return w.reshape(w.shape[0], self.n_heads, self.head_dim)


# --------------------------------------------------------------------------- devices and dtypes


def resolve_device(device: str = "auto") -> torch.device:
    """`auto` is CUDA when there is one, else the CPU: every stage runs on a GPU where there is one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


# --------------------------------------------------------------------------- manifests and loading


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path}: no pinpoint manifest; is {directory} a model directory written by pinpoint?")
    return json.loads(path.read_text())


def write_manifest(directory: str | Path, manifest: dict) -> None:
    Path(directory, MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


class HubUnavailable(RuntimeError):
    pass


def check_arch(config, name: str) -> None:
    try:
        arch_of(config)
    except UnsupportedArchitecture as e:
        raise UnsupportedArchitecture(f"model.name: {name!r}: {e}") from None


def hub_manifest(name: str, revision: str = "main") -> dict:
    """Resolve a hub id (or local directory) to a manifest without fetching any weights."""
    from transformers import AutoConfig

    local = Path(name).expanduser()
    if local.is_dir():
        config = AutoConfig.from_pretrained(local)
        check_arch(config, name)
        return {"kind": "hub", "name": str(local.resolve()), "revision": "local", "config": config.to_dict()}
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:  # a path, not a hub id (owner/name)
        raise UserError(f"model.name: local directory {name!r} not found")
    from huggingface_hub import snapshot_download

    try:
        # config and tokenizer files only; weights stay in the HF cache, never in DVC's
        snap = snapshot_download(
            name, revision=revision, allow_patterns=["*.json", "*.model", "*.txt"], etag_timeout=10
        )
    except Exception as e:  # no network, unknown repo, gated repo ... all end the same way
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise HubUnavailable(
            f"model.name: cannot resolve {name!r}@{revision} on the Hugging Face Hub and no local copy is cached "
            f"({type(e).__name__}: {reason}); download it where the hub is reachable, "
            "or set model.name to a local directory"
        ) from None
    config = AutoConfig.from_pretrained(snap)
    check_arch(config, name)
    return {"kind": "hub", "name": name, "revision": Path(snap).name, "config": config.to_dict()}


def load_pretrained(
    source: str,
    revision: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    device_map: str | dict | None = None,
    offload_folder: str | None = None,
):
    """AutoModelForCausalLM + AutoTokenizer, eval mode, on the resolved device.

    `device_map` for a model larger than one device (accelerate's big-model loading):
    "auto" (fill the GPUs, then CPU, then disk) or {module name: GPU index, "cpu" or "disk"};
    disk offload needs `offload_folder`. None: the whole model on `device`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = resolve_device(device)
    kw = {} if revision in (None, "local") else {"revision": revision}
    tokenizer = AutoTokenizer.from_pretrained(source, **kw)
    if device_map is None:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=resolve_dtype(dtype, dev), **kw).to(dev)
    else:  # dtype as for the first device the map fills
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=resolve_dtype(dtype, dev), device_map=device_map, offload_folder=offload_folder, **kw
        )
    model.eval()
    cost.count_forward_calls(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_tokenizer(directory: str | Path):
    """The tokenizer of any model directory pinpoint wrote, without its weights."""
    from transformers import AutoTokenizer

    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest["kind"] in ("spt", "lora", "random"):
        return load_tokenizer(base_dir(directory, manifest))
    if manifest["kind"] == "hub":
        rev = manifest.get("revision")
        tok = AutoTokenizer.from_pretrained(manifest["name"], **({} if rev in (None, "local") else {"revision": rev}))
    else:
        tok = AutoTokenizer.from_pretrained(directory)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load(
    directory: str | Path,
    dtype: str | None = None,
    device: str = "auto",
    device_map: str | dict | None = None,
    offload_folder: str | None = None,
):
    """Load any model directory pinpoint wrote: (model, tokenizer). `device_map`: see load_pretrained
    (base models; a tuned checkpoint loads its base whole)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    kind = manifest["kind"]
    dtype = dtype or manifest.get("dtype", "auto")
    # a base model too large for one device: model.device_map, recorded in its manifest by the model stage
    spread = {
        "device_map": device_map or manifest.get("device_map"),
        "offload_folder": offload_folder or manifest.get("offload_folder"),
    }
    if kind in ("organism", "gguf", "full"):
        return load_pretrained(str(directory), dtype=dtype, device=device, **spread)
    if kind == "hub":
        return load_pretrained(manifest["name"], manifest["revision"], dtype=dtype, device=device, **spread)
    if kind in ("spt", "lora", "random"):
        from pinpoint.tuning import load_tuned

        return load_tuned(directory, manifest, dtype=dtype, device=device)
    raise ValueError(f"{directory / MANIFEST}: unknown model kind {kind!r}")


def base_dir(directory: str | Path, manifest: dict) -> Path:
    """The base model of a tuned checkpoint. Stored relative to the checkpoint, so that it
    is found from any working directory (and after the project moves)."""
    return (Path(directory) / manifest["base_dir"]).resolve()


def model_config(directory: str | Path):
    """The model's config without loading its weights (to validate params first)."""
    from transformers import AutoConfig

    manifest = read_manifest(directory)
    if manifest["kind"] == "hub":
        cfg = dict(manifest["config"])
        return AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    if manifest["kind"] in ("spt", "lora", "random"):
        return model_config(base_dir(directory, manifest))
    return AutoConfig.from_pretrained(directory)


def fingerprint(directory: str | Path) -> str:
    """Identity of a base model: hub id and revision, or a hash of local weights."""
    import hashlib

    directory = Path(directory)
    manifest = read_manifest(directory)
    identity = {k: manifest.get(k) for k in ("kind", "name", "revision", "sha256")}  # a GGUF base: its file's hash
    h = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    if manifest["kind"] in ("organism", "full"):
        for f in sorted(directory.glob("*.safetensors")):
            h.update(f.read_bytes())
    return h.hexdigest()
