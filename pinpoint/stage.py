"""What every stage script shares: one-line errors, atomic outputs, JSON writing.

A stage validates its params before any heavy work; a known error becomes one line on
stderr and exit code 2. Outputs are written to a temporary sibling and renamed into
place, so a failed stage never leaves a half-written output behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


class UserError(Exception):
    """Bad input a user can fix: params, data files, model ids. One line, exit 2."""


def user_errors() -> tuple[type[BaseException], ...]:
    from pinpoint.models import HubUnavailable, UnsupportedArchitecture
    from pinpoint.params import ParamsError
    from pinpoint.tuning import BaseMismatch

    return (UserError, ParamsError, HubUnavailable, UnsupportedArchitecture, BaseMismatch, FileNotFoundError)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); turn a user error into one line on stderr and exit 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        main()
    except user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


@contextmanager
def atomic_dir(path: str | Path):
    """Yield a temporary directory that replaces `path` only if the block succeeds."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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
