"""What a stage cost: seconds, peak memory, and which library modules it loaded, for the git-ignored
logs/<config>/<stage>.json that `pinpoint report` shows. Machine-dependent, so never part of a
versioned metric. The modules are the run's real import closure: tests check it against the
stage's DVC deps (a module a stage loads but does not depend on would leave a stale result)."""

from __future__ import annotations

import resource
import sys


def record(seconds: float) -> dict:
    """The cost of this process so far, and the pinpoint modules it has loaded."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # bytes (Linux reports KiB)
    out = {"seconds": round(seconds, 1), "peak_rss_mib": round(peak / 2**20)}
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        out["peak_cuda_mib"] = round(sys.modules["torch"].cuda.max_memory_allocated() / 2**20)
    return out | {"modules": sorted(m for m in sys.modules if m == "pinpoint" or m.startswith("pinpoint."))}
