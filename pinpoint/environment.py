"""Same lock, params and seed: the same bits, on any x86 CPU where the configuration asks for it.

Torch picks its CPU kernels by what the processor offers: ATen's vectorised loops by the widest instruction set
(AVX2 or AVX-512), oneDNN likewise, and MKL's GEMM by vendor, model and cache sizes. Each choice sums in another
order, and 800 steps of organism training grow the last-bit differences into another organism. So every process
pins, before torch loads a kernel (`import pinpoint` does it):

  ATEN_CPU_CAPABILITY=avx2         ATen's loops (also where AVX-512 is there)
  ONEDNN_MAX_CPU_ISA=AVX2          oneDNN's kernels
  NPY_DISABLE_CPU_FEATURES=AVX512* numpy's loops (the statistics)
  MKL_DYNAMIC=FALSE, OMP_DYNAMIC=FALSE  the thread count MKL is given is the one it uses
  OMP_WAIT_POLICY=PASSIVE          (speed, not bits) idle threads sleep: on a shared machine, spinning
                                   threads made small ops 50x slower

and each configuration chooses its numeric path (`<config>.model.numerics`, which the base's manifest records
and every later stage of the configuration applies before its first matrix product):

  mkl: portable   MKL_CBWR=COMPATIBLE: MKL's conditional-numerical-reproducibility branch for every x86 CPU,
                  Intel or not (SSE2 without its approximate reciprocals). The only branch MKL honours on an
                  AMD CPU: it ignores every other pinned branch there and runs its AUTO one, which no other CPU
                  model promises to repeat. It costs speed (the organism: README).
  mkl: vendor     MKL_CBWR=AVX2,STRICT: the AVX2 branch on Intel CPUs (any of them, AVX-512 or not), AUTO on
                  other vendors (what MKL documents): faster, the same bits only on one vendor's machines.
  threads: N      a parallel reduction splits its sum by threads (COMPATIBLE is not thread-count independent)

The branch MKL really runs is read back (`mkl_branch`) and checked against the pins (`check`): a stage on a CPU
where MKL takes another branch than the pins ask stops and says so. A variable the user sets wins (set MKL_CBWR
to trade reproducibility for speed; PINPOINT_THREADS for another thread count): the check then only reports.
`versions()` records the libraries and pins in every base manifest, so that a difference can be traced to its
cause. A GPU takes yet another float path: figures computed on one are not expected to match.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from dataclasses import dataclass

CPU_PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    # not a numerics pin: threads that wait for work sleep instead of spinning, so that a machine shared with
    # another job (a test suite, a second stage) slows down by the share it gives, not by 50x
    "OMP_WAIT_POLICY": "PASSIVE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR",
    "MKL_DYNAMIC": "FALSE",
    "OMP_DYNAMIC": "FALSE",
}
MKL = "MKL_CBWR"
BRANCHES = {"portable": "COMPATIBLE", "vendor": "AVX2,STRICT"}  # numerics.mkl -> the MKL_CBWR pin
DEFAULT_MKL = "portable"
THREADS = "PINPOINT_THREADS"
DEFAULT_THREADS = 2
LIBRARIES = ("torch", "transformers", "peft", "accelerate", "gguf", "numpy", "scipy", "statsmodels", "tokenizers")
USER_SET = frozenset(name for name in (*CPU_PINS, MKL, THREADS) if name in os.environ)  # before pinpoint pinned


def pin_cpu_kernels() -> None:
    """Set the kernel pins (unless the user set them) before torch or numpy load their kernels; MKL's branch
    starts portable (a stage switches it to its configuration's before its first matrix product)."""
    for name, value in CPU_PINS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault(MKL, BRANCHES[DEFAULT_MKL])


@dataclass(frozen=True)
class Numerics:
    """A configuration's numeric path (`<config>.model.numerics`)."""

    mkl: str = DEFAULT_MKL  # portable | vendor
    threads: int = DEFAULT_THREADS

    def as_dict(self) -> dict:
        return {"mkl": self.mkl, "threads": self.threads}


def use(numerics: Numerics) -> None:
    """Pin MKL's branch and the thread count of `numerics` for this process (a variable the user set wins).
    Before the first matrix product: MKL reads its branch then, once."""
    if MKL not in USER_SET:
        os.environ[MKL] = BRANCHES[numerics.mkl]
    if THREADS not in USER_SET:
        os.environ[THREADS] = str(numerics.threads)


def threads() -> int:
    """The CPU thread count this process uses (PINPOINT_THREADS; default 2)."""
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


# --------------------------------------------------------------------------- what MKL and the CPU really do

_NAMES = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3", 7: "SSE4_1", 8: "SSE4_2", 9: "AVX"}
_NAMES |= {10: "AVX2", 11: "AVX512_MIC", 12: "AVX512", 13: "AVX512_MIC_E1", 14: "AVX512_E1"}
STRICT = 0x10000  # mkl_cbwr.h: MKL_CBWR_STRICT


def cpu_vendor() -> str:
    """GenuineIntel, AuthenticAMD, ... (the CPU's vendor id), or what the platform says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mkl_branch() -> str | None:
    """The conditional-numerical-reproducibility branch MKL runs in this process ("COMPATIBLE", "AVX2,STRICT",
    "AUTO,STRICT", ...), read back from MKL itself (mkl_cbwr_get, as torch's build exports it) after one small
    matrix product has made MKL settle it; None where torch carries no MKL."""
    import torch

    library = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        get = ctypes.CDLL(library).mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    torch.ones(2, 2) @ torch.ones(2, 2)  # MKL reads its branch on its first call
    value = get(-1)  # MKL_CBWR_ALL: the branch and the strict flag
    name = _NAMES.get(value & 0xFFFF, str(value & 0xFFFF))
    return name + (",STRICT" if value & STRICT else "")


def expected_branch(requested: str, vendor: str) -> str:
    """The branch MKL documents for a pinned one on a CPU of `vendor`: any pinned branch on Intel; on other
    vendors COMPATIBLE, or else AUTO (with the strict flag kept)."""
    if vendor == "GenuineIntel" or requested.split(",")[0] in ("COMPATIBLE", "AUTO"):
        return requested
    return "AUTO" + (",STRICT" if "STRICT" in requested else "")


def check() -> tuple[str | None, str | None]:
    """(the branch MKL runs, why this process cannot give the pinned bits or None). With the pins in force, a
    branch other than the one MKL documents for this CPU is an error; with the user's own MKL_CBWR, a note."""
    branch, requested, vendor = mkl_branch(), os.environ.get(MKL, ""), cpu_vendor()
    if branch is None:
        return None, None
    wanted = expected_branch(requested, vendor)
    if branch == wanted:
        return branch, None
    return branch, f"MKL runs its {branch} branch, not {wanted} ({MKL}={requested} on this {vendor} CPU)"


def versions() -> dict:
    """What built a result: Python, the libraries, and the kernel pins in force (none of it machine-specific,
    so that the same lock gives the same manifest on any machine)."""
    import importlib.metadata

    import torch

    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    pins = {name: os.environ.get(name) for name in (*CPU_PINS, MKL)}
    return out | {"cpu_kernels": torch.backends.cpu.get_cpu_capability(), "pins": pins, "threads": threads()}


def check_cpu_capability() -> str | None:
    """Why this run cannot reproduce the committed figures (None: it can): a CPU without AVX2 runs another
    kernel path than the pin asks for."""
    import torch

    wanted = os.environ.get("ATEN_CPU_CAPABILITY", "").upper()
    found = torch.backends.cpu.get_cpu_capability()
    if wanted and wanted != found.upper() and "torch" in sys.modules:
        return f"ATEN_CPU_CAPABILITY={wanted.lower()} asked, but this CPU runs {found}: figures may differ"
    return None
