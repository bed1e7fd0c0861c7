"""The base model a tuned checkpoint was trained from, checked before its weights are used."""

from __future__ import annotations

import os
from pathlib import Path

from pinpoint import models
from pinpoint.errors import BaseMismatch
from pinpoint.heads import HeadLayout


def manifest(kind: str, base: Path, out: Path, layout: HeadLayout, heads, seed: int) -> dict:
    """What a tuned checkpoint records: its method, its base (relative: found from anywhere), the
    base's fingerprint and head layout, the heads it tuned and its seed."""
    return {
        "kind": kind,
        "base_dir": os.path.relpath(base, out),
        "base_fingerprint": models.fingerprint(base),
        "heads": [list(h) for h in heads],
        "layout": layout.as_dict(),
        "seed": seed,
    }


def load_base(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """(base model, tokenizer, layout) of the checkpoint in `directory`, after checking that the base
    on disk is the one it was tuned from (fingerprint and head layout)."""
    base_dir = models.base_dir(directory, manifest)
    found = models.fingerprint(base_dir)
    if found != manifest["base_fingerprint"]:
        raise BaseMismatch(
            f"{directory}: these {manifest['kind']} weights were tuned from base {manifest['base_fingerprint'][:12]}, "
            f"but {base_dir} is {found[:12]}; re-run `dvc repro tune` (or point base_dir at the original base)"
        )
    model, tokenizer = models.load(base_dir, dtype=dtype, device=device)
    layout = HeadLayout.of(model)
    if manifest.get("layout") and manifest["layout"] != layout.as_dict():
        raise BaseMismatch(
            f"{directory}: head layout {manifest['layout']} does not match the base's {layout.as_dict()}"
        )
    return model, tokenizer, layout
