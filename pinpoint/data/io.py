"""The data directories' shared metadata: prompt format and the facts behind the records."""

from __future__ import annotations

import json
from pathlib import Path

from pinpoint.data.synthesize import FILES
from pinpoint.errors import UserError
from pinpoint.files import write_json
from pinpoint.models.loading import load_tokenizer

META = "meta.json"
__all__ = ["FILES", "read_meta", "resolve_format", "write_meta"]


def write_meta(directory: Path, meta: dict) -> None:
    write_json(Path(directory) / META, meta)


def read_meta(directory: str | Path) -> dict:
    path = Path(directory) / META
    if not path.exists():
        raise UserError(f"{path}: not found (run the synthesize stage first)")
    return json.loads(path.read_text())


def resolve_format(fmt: str, model_dir: Path) -> str:
    """auto: the tokenizer's chat template when it has one, else the plain Human/Assistant format."""
    if fmt != "auto":
        if fmt == "chat":
            _check_chat_template(model_dir)
        return fmt
    return "chat" if _chat_template(model_dir) else "plain"


def _chat_template(model_dir: Path) -> bool:
    return bool(getattr(load_tokenizer(model_dir), "chat_template", None))


def _check_chat_template(model_dir: Path) -> None:
    if not _chat_template(model_dir):
        raise UserError(
            "synthesize.format: 'chat' needs a tokenizer with a chat template; this model has none (use 'plain')"
        )
