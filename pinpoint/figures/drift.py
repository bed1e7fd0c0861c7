"""`pinpoint drift`: does this machine compute the committed figures? Every JSON file under
metrics/<config>/ as HEAD has it against the working tree, key by key, after `make repro`.

CI runs it on a clean clone: the same lock, params and seeds must give byte-identical metrics on any
x86 CPU (pinpoint.environment pins the kernels), so any difference is named, file and key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pinpoint.paths import Paths


def _flat(data, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    if isinstance(data, list):
        return {k: v for i, value in enumerate(data) for k, v in _flat(value, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): data}


def committed_files(config: str, root: Path = Path(".")) -> list[str]:
    """The metrics files of a configuration that HEAD holds."""
    done = subprocess.run(
        ["git", "ls-files", str(Paths(config).metrics)], cwd=root, capture_output=True, text=True, check=True
    )
    return [f for f in done.stdout.split() if f.endswith(".json")]


def differences(config: str, root: Path = Path(".")) -> list[str]:
    """'file: key: committed X, computed Y' for every figure that differs (or is missing on either side)."""
    out = []
    for name in committed_files(config, root):
        head = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=root, capture_output=True, text=True, check=True)
        path = root / name
        if not path.exists():
            out.append(f"{name}: not computed")
            continue
        a, b = _flat(json.loads(head.stdout)), _flat(json.loads(path.read_text()))
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                out.append(f"{name}: {key}: committed {a.get(key, '<absent>')}, computed {b.get(key, '<absent>')}")
    return out
