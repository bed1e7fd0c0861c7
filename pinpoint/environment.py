"""Same lock, params and seed: the same bits on every x86 CPU.

Torch picks its CPU kernels by what the processor offers: ATen's vectorised loops by the
widest instruction set (AVX2 or AVX-512), MKL's GEMM by vendor, model and cache sizes,
oneDNN likewise. Each choice sums in another order, and 800 steps of organism training
grow the last-bit differences into another organism. So every run pins the choice to a
path every x86-64 server CPU of the last decade has (AVX2), before torch loads a kernel:

  ATEN_CPU_CAPABILITY=avx2         ATen's loops (also where AVX-512 is there)
  MKL_CBWR=AVX2,STRICT             MKL's conditional numerical reproducibility: the AVX2
                                   code path on Intel and AMD alike, independent of the
                                   thread count and of memory alignment
  ONEDNN_MAX_CPU_ISA=AVX2          oneDNN's kernels
  NPY_DISABLE_CPU_FEATURES=AVX512* numpy's loops (the statistics)
  OMP_WAIT_POLICY=PASSIVE          (speed, not bits) idle threads sleep: on a shared machine, spinning
                                   threads made small ops 50x slower

and a fixed thread count (PINPOINT_THREADS, default 2: the reference machines' cores), since
a parallel reduction splits its sum by threads. A variable a user sets wins (set
ATEN_CPU_CAPABILITY=avx512 to trade reproducibility for speed); `versions()` records what
a run used, in every base manifest, so that a difference can be traced to its cause.
A GPU takes yet another float path: figures computed on one are not expected to match.
"""

from __future__ import annotations

import os
import platform
import sys

CPU_PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    # not a numerics pin: threads that wait for work sleep instead of spinning, so that a machine shared with
    # another job (a test suite, a second stage) slows down by the share it gives, not by 50x
    "OMP_WAIT_POLICY": "PASSIVE",
    "MKL_CBWR": "AVX2,STRICT",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR",
}
THREADS = "PINPOINT_THREADS"
DEFAULT_THREADS = 2
LIBRARIES = ("torch", "transformers", "peft", "accelerate", "gguf", "numpy", "scipy", "statsmodels", "tokenizers")


def pin_cpu_kernels() -> None:
    """Set the kernel pins (unless the user set them) before torch or numpy load their kernels."""
    for name, value in CPU_PINS.items():
        os.environ.setdefault(name, value)


def threads() -> int:
    """The CPU thread count every run uses (PINPOINT_THREADS; default 2)."""
    raw = os.environ.get(THREADS, str(DEFAULT_THREADS))
    if not raw.isdigit() or int(raw) < 1:
        from pinpoint.errors import UserError

        raise UserError(f"{THREADS}: expected a positive integer, got {raw!r}")
    return int(raw)


def pin_threads() -> None:
    """torch's intra-op threads (and determinism where torch offers a choice) for this process."""
    import torch

    torch.set_num_threads(threads())
    torch.use_deterministic_algorithms(True, warn_only=True)


def versions() -> dict:
    """What built a result: Python, the libraries, and the kernel pins in force (none of it
    machine-specific, so that the same lock gives the same manifest on any machine)."""
    import importlib.metadata

    import torch

    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    pins = {name: os.environ.get(name) for name in CPU_PINS}
    return out | {"cpu_kernels": torch.backends.cpu.get_cpu_capability(), "pins": pins, "threads": threads()}


def check_cpu_capability() -> str | None:
    """Why this run cannot reproduce the committed figures (None: it can): a CPU without AVX2
    runs another kernel path than the pin asks for."""
    import torch

    wanted = os.environ.get("ATEN_CPU_CAPABILITY", "").upper()
    found = torch.backends.cpu.get_cpu_capability()
    if wanted and wanted != found.upper() and "torch" in sys.modules:
        return f"ATEN_CPU_CAPABILITY={wanted.lower()} asked, but this CPU runs {found}: figures may differ"
    return None
