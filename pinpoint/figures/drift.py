"""`pinpoint drift`: does this machine compute the committed figures? Every JSON file under metrics/<config>/ as
HEAD has it against the working tree, after `make repro`.

Both sides name the numeric path they were computed on (metrics/<config>/model.json: `numerics`, the MKL branch
MKL really ran, the CPU vendor where the branch is the vendor's, the thread count). On the same path the check is
exact, key by key: the same lock, params and seeds give byte-identical metrics, so any difference is named, file
and key (CI runs this on a clean clone for the organism, whose path is MKL's portable branch). On another path
(SmolLM2's vendor branch on another vendor's CPU, or a branch a user set) bits are not expected to agree: the
first line says so, and each figure with an interval is checked against its committed 95% interval instead.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pinpoint.paths import Paths

PATH_KEYS = ("branch", "cpu_vendor", "threads")  # what makes two numeric paths the same


def _flat(data, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    if isinstance(data, list):
        return {k: v for i, value in enumerate(data) for k, v in _flat(value, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): data}


def _intervals(data, prefix: str = "") -> dict[str, tuple[float, float, float]]:
    """Every figure with a 95% interval: {key path: (value, low, high)}."""
    out = {}
    if isinstance(data, dict):
        ci = data.get("ci95")
        if "value" in data and isinstance(ci, list) and len(ci) == 2 and None not in (data["value"], *ci):
            out[prefix.rstrip(".")] = (data["value"], ci[0], ci[1])
        for key, value in data.items():
            out |= _intervals(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out |= _intervals(value, f"{prefix}{i}.")
    return out


def committed_files(config: str, root: Path = Path(".")) -> list[str]:
    """The metrics files of a configuration that HEAD holds."""
    done = subprocess.run(
        ["git", "ls-files", str(Paths(config).metrics)], cwd=root, capture_output=True, text=True, check=True
    )
    return [f for f in done.stdout.split() if f.endswith(".json")]


def _committed(name: str, root: Path) -> dict:
    shown = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=root, capture_output=True, text=True, check=True)
    return json.loads(shown.stdout)


def differences(config: str, root: Path = Path(".")) -> list[str]:
    """'file: key: committed X, computed Y' for every figure that differs (or is missing on either side)."""
    out = []
    for name in committed_files(config, root):
        path = root / name
        if not path.exists():
            out.append(f"{name}: not computed")
            continue
        a, b = _flat(_committed(name, root)), _flat(json.loads(path.read_text()))
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                out.append(f"{name}: {key}: committed {a.get(key, '<absent>')}, computed {b.get(key, '<absent>')}")
    return out


def outside_intervals(config: str, root: Path = Path(".")) -> tuple[int, list[str]]:
    """(figures with a committed 95% interval, 'file: key: computed X, outside [low, high]' for each one the
    working tree's value falls outside of, or lacks)."""
    checked, out = 0, []
    for name in committed_files(config, root):
        path = root / name
        computed = _flat(json.loads(path.read_text())) if path.exists() else {}
        for key, (value, low, high) in _intervals(_committed(name, root)).items():
            checked += 1
            mine = computed.get(f"{key}.value")
            if not isinstance(mine, (int, float)) or not low <= mine <= high:
                out.append(f"{name}: {key}: committed {value} [{low}, {high}], computed {mine}")
    return checked, out


@dataclass(frozen=True)
class NumericPaths:
    """The numeric path the committed figures and the working tree's were computed on (None: not recorded)."""

    committed: dict | None
    computed: dict | None

    @property
    def same(self) -> bool:
        return (
            self.committed is not None
            and self.computed is not None
            and all(self.committed.get(k) == self.computed.get(k) for k in PATH_KEYS)
        )

    def line(self, config: str) -> str:
        """What the first line of `pinpoint drift` says where the paths differ."""

        def said(n: dict | None) -> str:
            if n is None:
                return "an unrecorded numeric path"
            vendor = f", {n['cpu_vendor']}" if n.get("cpu_vendor") else ""
            return f"MKL branch {n.get('branch')}{vendor}, {n.get('threads')} thread(s)"

        return (
            f"drift: {config}'s committed figures were computed on {said(self.committed)}, this working tree's on "
            f"{said(self.computed)}: another numeric path, so its bits are not expected to match; checking every "
            "figure against its committed 95% interval instead"
        )


def numeric_paths(config: str, root: Path = Path(".")) -> NumericPaths:
    name = str(Paths(config).metric("model"))
    try:
        committed = _committed(name, root).get("numerics")
    except subprocess.CalledProcessError:
        committed = None
    path = root / name
    computed = json.loads(path.read_text()).get("numerics") if path.exists() else None
    return NumericPaths(committed, computed)
