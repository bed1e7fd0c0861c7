"""The manifest every model directory pinpoint writes carries (`pinpoint.json`): what it is, what it was
built from and with. Torch-free, so that a registry can read one."""

from __future__ import annotations

import json
from pathlib import Path

MANIFEST = "pinpoint.json"


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path}: no pinpoint manifest; is {directory} a model directory written by pinpoint?")
    return json.loads(path.read_text())


def write_manifest(directory: str | Path, manifest: dict) -> None:
    Path(directory, MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
