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
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from pinpoint import cost
from pinpoint.errors import UserError
from pinpoint.paths import Paths

__all__ = ["UserError", "atomic_dir", "read_json", "run_stage", "write_json", "write_text"]


def user_errors() -> tuple[type[BaseException], ...]:
    from pinpoint.models import HubUnavailable, UnsupportedArchitecture
    from pinpoint.params import ParamsError
    from pinpoint.tuning import BaseMismatch

    return (UserError, ParamsError, HubUnavailable, UnsupportedArchitecture, BaseMismatch, FileNotFoundError)


def run_stage(main: Callable[..., None]) -> None:
    """Run `python stages/<stage>.py CONFIG [ARG]`: main(Paths(CONFIG), ARG...).

    A user error becomes one line on stderr and exit 2, Ctrl-C one line and exit 130;
    outputs are written atomically, so neither leaves a partial one behind. What the run
    cost (seconds, peak memory, model forward calls) goes to the git-ignored
    logs/<config>/<stage>.json, never into a versioned metric."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    stage, args = Path(sys.argv[0]).stem, sys.argv[1:]
    start = time.perf_counter()
    try:
        if not args:
            raise UserError(f"usage: python stages/{stage}.py CONFIG ... (a name from params.yaml `configs`)")
        paths = Paths(args[0])
        main(paths, *args[1:])
    except user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"interrupted: {stage} stopped; its previous outputs are untouched", file=sys.stderr)
        sys.exit(130)
    if main_process():
        write_json(paths.logs / f"{'@'.join([stage, *args[1:]])}.json", cost.record(time.perf_counter() - start))


def main_process() -> bool:
    """Under `accelerate launch` every process runs the stage; only the main one writes."""
    from accelerate import PartialState

    return PartialState().is_main_process


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
