"""Imported first by every stage script: a stage started by a Python without pinpoint says so in one line
(dvc runs `python` from PATH, which outside the project's environment is the system's)."""

import sys

try:
    import pinpoint  # noqa: F401  (it pins the CPU kernels before anything loads torch)
except ModuleNotFoundError:
    print(
        f"error: {sys.executable} has no pinpoint installed: run the pipeline in the project's environment "
        "(`make install`, then `source .venv/bin/activate`, or `make repro`)",
        file=sys.stderr,
    )
    sys.exit(2)
