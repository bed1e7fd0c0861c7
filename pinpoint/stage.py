"""What every stage script shares: one-line errors, exit codes, the cost log.

A stage validates its params before any heavy work; a known error becomes one line on
stderr and exit code 2. Outputs are written atomically (pinpoint.files), so a failed
stage never leaves a half-written output behind.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pinpoint import cost, environment
from pinpoint.errors import UserError
from pinpoint.files import atomic_dir, read_json, write_json, write_text
from pinpoint.paths import Paths

__all__ = ["UserError", "atomic_dir", "read_json", "run_stage", "write_json", "write_text"]

# what ends in one line and exit 2: every error a user can fix (pinpoint.errors), and a missing file
USER_ERRORS = (UserError, FileNotFoundError)


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
        environment.pin_threads()
        warning = environment.check_cpu_capability()
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        if not args:
            raise UserError(f"usage: python stages/{stage}.py CONFIG ... (a name from params.yaml `configs`)")
        paths = Paths(args[0])
        main(paths, *args[1:])
    except USER_ERRORS as e:
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
