"""Load a causal LM by hub id or directory, and the manifest every model directory carries.

Every model directory pinpoint writes holds a `pinpoint.json` manifest that says what it is ("organism", "gguf",
"hub", "full" or a method of the registry, pinpoint.registry.methods); `pinpoint.models.checkpoints.load` reads it
and loads any of them. A hub model is never copied: its manifest names the hub id and the resolved revision. Head
geometry lives in `pinpoint.models.heads`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pinpoint.errors import HubUnavailable, UnsupportedArchitecture, UserError
from pinpoint.manifest import MANIFEST, read_manifest, write_manifest  # noqa: F401  (re-exported)
from pinpoint.models.heads import arch_of

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
        config = check_local_model(local, name)
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
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_tokenizer(directory: str | Path):
    """The tokenizer of any model directory pinpoint wrote, without its weights."""
    from transformers import AutoTokenizer

    directory = Path(directory)
    manifest = read_manifest(directory)
    if "base_dir" in manifest:  # a tuned checkpoint: its base's tokenizer
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
    """Load a base model directory the model stage wrote: (model, tokenizer). `device_map`: see
    load_pretrained. A tuned checkpoint loads through `pinpoint.models.checkpoints.load`."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    kind = manifest["kind"]
    dtype = dtype or manifest.get("dtype", "auto")
    # a base model too large for one device: model.device_map, recorded in its manifest by the model stage
    spread = {
        "device_map": device_map or manifest.get("device_map"),
        "offload_folder": offload_folder or manifest.get("offload_folder"),
    }
    if kind in ("organism", "gguf", "full"):  # full: a merged checkpoint (pinpoint merge)
        return load_pretrained(str(directory), dtype=dtype, device=device, **spread)
    if kind == "hub":
        return load_pretrained(manifest["name"], manifest["revision"], dtype=dtype, device=device, **spread)
    raise ValueError(f"{directory / MANIFEST}: kind {kind!r} is not a base model (checkpoints.load reads any)")


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
    if "base_dir" in manifest and not (Path(directory) / "config.json").exists():  # a tuned delta or adapter
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


def record_build(params, directory: Path) -> None:
    """Into the base's manifest: its numerics (every later stage applies them), model.device_map (every stage that
    loads the base spreads it the same way), and the versions and CPU kernel pins that built it."""
    from pinpoint import environment

    numerics = params.numerics.model_dump() | {"branch": environment.mkl_branch()}
    if params.numerics.mkl == "vendor":  # the branch is the CPU vendor's: it says which
        numerics |= {"cpu_vendor": environment.cpu_vendor()}
    manifest = read_manifest(directory) | {"built_with": environment.versions(), "numerics": numerics}
    if params.device_map is not None:
        manifest |= {"device_map": params.device_map, "offload_folder": params.offload_folder}
    write_manifest(directory, manifest)


def build_hub(params, directory: Path) -> dict:
    """A hub id or a local HF directory, pinned by a manifest."""
    manifest = hub_manifest(params.name, params.revision)  # fails fast when the hub is unreachable
    manifest["dtype"] = params.dtype
    write_manifest(directory, manifest)
    cfg = manifest["config"]
    summary = {
        "name": params.name,
        "revision": manifest["revision"],
        "model_type": cfg.get("model_type"),
        "layers": cfg.get("num_hidden_layers"),
        "heads": cfg.get("num_attention_heads"),
    }
    return summary


WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "model*.bin")


def check_local_model(directory: Path, name: str):
    """The config of a local model directory, after one line naming the directory and what is wrong where it
    cannot be the model under study: no config, a config whose architecture transformers does not know (or
    pinpoint cannot split into heads), no weights, or a safetensors file cut short (its header promises more bytes
    than it holds)."""
    import json as _json

    config = directory / "config.json"
    if not config.is_file():
        raise UserError(f"model.name: local directory {name!r} has no config.json")
    try:
        model_type = _json.loads(config.read_text()).get("model_type")
    except ValueError as e:
        raise UserError(f"model.name: {str(config)!r} is not valid JSON ({e})") from None
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        raise UserError(
            f"model.name: {str(config)!r} names architecture {model_type!r}, which transformers does not know"
        )
    from transformers import AutoConfig

    loaded = AutoConfig.from_pretrained(directory)
    check_arch(loaded, name)
    weights = sorted(f for pattern in WEIGHTS for f in directory.glob(pattern))
    if not weights:
        raise UserError(f"model.name: local directory {name!r} holds no weights ({', '.join(WEIGHTS)})")
    for f in weights:
        if f.suffix == ".safetensors":
            problem = safetensors_problem(f)
            if problem:
                raise UserError(f"model.name: {str(f)!r} {problem}")
    return loaded


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file's layout (None: nothing): an 8-byte header length, a JSON header, and
    the tensors' bytes, whose end the header states."""
    import json as _json
    import struct

    size = path.stat().st_size
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            return f"is cut short ({size} bytes: not even a header)"
        (length,) = struct.unpack("<Q", raw)
        if 8 + length > size:
            return f"is cut short ({size} bytes; its header alone claims {8 + length})"
        try:
            header = _json.loads(f.read(length))
        except ValueError:
            return "has a header that is not JSON: not a safetensors file, or a corrupt one"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + length + end > size:
        return f"is cut short ({size} bytes; its tensors end at byte {8 + length + end})"
    return None
