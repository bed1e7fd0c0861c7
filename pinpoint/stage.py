"""What every stage script shares: the configuration's numeric path, one-line errors, exit codes, the cost log.

A stage applies its configuration's numerics (MKL's branch, the thread count: the model stage from its params,
every later one from the base's manifest) and checks that MKL really runs the branch they ask for before any
heavy work; it validates its params before any heavy work too. A known error becomes one line on stderr and exit
code 2. Outputs are written atomically (pinpoint.files), so a failed stage never leaves a half-written output.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pinpoint import cost, environment
from pinpoint.errors import UserError
from pinpoint.files import atomic_dir, read_json, write_json, write_text
from pinpoint.manifest import MANIFEST
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
        if not args:
            raise UserError(f"usage: python stages/{stage}.py CONFIG ... (a name from params.yaml `configs`)")
        paths = Paths(args[0])
        numerics = numerics_in_force(paths, stage)
        main(paths, *args[1:])
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"interrupted: {stage} stopped; its previous outputs are untouched", file=sys.stderr)
        sys.exit(130)
    if main_process():
        record = cost.record(time.perf_counter() - start) | {"numerics": numerics}
        write_json(paths.logs / f"{'@'.join([stage, *args[1:]])}.json", record)


def numerics_in_force(paths: Paths, stage: str) -> dict:
    """Apply the configuration's numerics to this process and check them, before any heavy work: the model stage
    reads them from its params, every later stage from the base it reads (its manifest). Returns what is in force
    (for the stage's log); a CPU on which MKL runs another branch than the pins ask stops the stage in one line."""
    numerics = numerics_asked(paths, stage)
    environment.use(numerics)
    environment.pin_threads()
    warning = environment.check_cpu_capability()
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    branch, problem = environment.check()
    vendor, threads = environment.cpu_vendor(), environment.threads()
    print(f"numerics: MKL branch {branch} on this {vendor} CPU, {threads} thread(s) ({numerics.mkl})", flush=True)
    if problem and environment.MKL not in environment.USER_SET:
        raise UserError(
            f"{problem}: this machine cannot compute {paths.config}'s pinned bits; to run anyway, set "
            f"{environment.MKL} yourself (e.g. {environment.MKL}=AUTO), trading reproducibility for speed"
        )
    for name, mine, asked in (
        (environment.MKL, os.environ.get(environment.MKL), environment.BRANCHES[numerics.mkl]),
        (environment.THREADS, str(threads), str(numerics.threads)),
    ):
        if name in environment.USER_SET and mine != asked:
            print(
                f"note: {name}={mine} (yours) overrides {paths.config}'s {asked}: figures may differ", file=sys.stderr
            )
    if problem:
        print(f"note: {problem}", file=sys.stderr)
    return {"asked": numerics.as_dict(), "mkl_branch": branch, "cpu_vendor": vendor, "threads": threads}


def numerics_asked(paths: Paths, stage: str) -> environment.Numerics:
    """The numerics of a configuration: its params for the model stage, which builds the base; the base's manifest
    for every later stage (defaults where there is no base yet)."""
    if stage == "model":
        from pinpoint import params

        asked = params.load("model", paths.config).numerics
        return environment.Numerics(asked.mkl, asked.threads)
    manifest = paths.base / MANIFEST
    recorded = json.loads(manifest.read_text()).get("numerics", {}) if manifest.exists() else {}
    return environment.Numerics(
        recorded.get("mkl", environment.DEFAULT_MKL), recorded.get("threads", environment.DEFAULT_THREADS)
    )


def main_process() -> bool:
    """Under `accelerate launch` every process runs the stage; only the main one writes."""
    from accelerate import PartialState

    return PartialState().is_main_process
