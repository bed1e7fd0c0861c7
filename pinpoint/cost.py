"""What a stage cost: seconds, peak memory and model forward calls, for the git-ignored
logs/<config>/<stage>.json that `pinpoint report` shows. Machine-dependent, so never
part of a versioned metric."""

from __future__ import annotations

import resource
from collections import Counter

import torch

COUNTS: Counter = Counter()  # "forward_calls", "train_steps", ... incremented where the work happens


def count_forward_calls(model: torch.nn.Module) -> None:
    """Count every call of the model's forward (a decoding step is one call)."""
    model.register_forward_pre_hook(lambda module, args: COUNTS.update(forward_calls=1))


def record(seconds: float) -> dict:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # bytes (Linux reports KiB)
    out = {"seconds": round(seconds, 1), "peak_rss_mib": round(peak / 2**20)}
    if torch.cuda.is_available():
        out["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return out | dict(sorted(COUNTS.items()))
