"""Atomic file outputs: written to a temporary sibling and renamed into place, so a reader (or
the next stage, after a crash) never sees half a file or half a directory."""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from pinpoint.errors import UserError


@contextmanager
def atomic_dir(path: str | Path):
    """Yield a temporary directory that replaces `path` only if the block succeeds; on failure
    nothing is left behind, not even the parent folders it had to create."""
    path = Path(path)
    created = [parent for parent in reversed(path.parents) if not parent.exists()]
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in reversed(created):
            if parent.exists() and not any(parent.iterdir()):
                parent.rmdir()
        raise
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary sibling, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path):
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found (has the stage that writes it run?)")
    return json.loads(path.read_text())
