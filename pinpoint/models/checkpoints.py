"""Load any model directory pinpoint wrote: a base model (the model stage's) or a tuned checkpoint (a method's,
by the kind its manifest names, through the method registry); and what a tuned checkpoint records of its base,
checked before its weights are used."""

from __future__ import annotations

import os
from pathlib import Path

from pinpoint.errors import BaseMismatch, UserError
from pinpoint.models import hooks, loading
from pinpoint.models.heads import HeadLayout
from pinpoint.registry.methods import METHODS


def load(directory: str | Path, dtype: str | None = None, device: str = "auto", **placement):
    """(model, tokenizer) in eval mode. `placement` (device_map, offload_folder) spreads a base
    model over devices (see loading.load); a tuned checkpoint loads its base whole. A steered
    model carries hooks: `release(model)` removes them."""
    manifest = loading.read_manifest(directory)
    if manifest["kind"] not in METHODS and "base_dir" in manifest:
        raise UserError(
            f"{directory}: tuned by {manifest['kind']!r}, which is no registered tuning method; "
            f"known: {', '.join(METHODS)}"
        )
    if manifest["kind"] not in METHODS:
        return loading.load(directory, dtype, device, **placement)
    method = METHODS[manifest["kind"]]
    model, tokenizer = method.implementation().load(Path(directory), manifest, dtype or "auto", device)
    return model.eval(), tokenizer


def release(model) -> None:
    """Remove whatever hooks a loaded model carries (a steered model's); a no-op for the others."""
    hooks.release(model)


def tuned_manifest(kind: str, base: Path, out: Path, layout: HeadLayout, heads, seed: int) -> dict:
    """What a tuned checkpoint records: its method, its base (relative: found from anywhere), the
    base's fingerprint and head layout, the heads it tuned and its seed."""
    return {
        "kind": kind,
        "base_dir": os.path.relpath(base, out),
        "base_fingerprint": loading.fingerprint(base),
        "heads": [list(h) for h in heads],
        "layout": layout.as_dict(),
        "seed": seed,
    }


def load_base(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """(base model, tokenizer, layout) of the checkpoint in `directory`, after checking that the base
    on disk is the one it was tuned from (fingerprint and head layout)."""
    base_dir = loading.base_dir(directory, manifest)
    found = loading.fingerprint(base_dir)
    if found != manifest["base_fingerprint"]:
        raise BaseMismatch(
            f"{directory}: these {manifest['kind']} weights were tuned from base {manifest['base_fingerprint'][:12]}, "
            f"but {base_dir} is {found[:12]}; re-run `dvc repro tune` (or point base_dir at the original base)"
        )
    model, tokenizer = loading.load(base_dir, dtype=dtype, device=device)
    layout = HeadLayout.of(model)
    if manifest.get("layout") and manifest["layout"] != layout.as_dict():
        raise BaseMismatch(
            f"{directory}: head layout {manifest['layout']} does not match the base's {layout.as_dict()}"
        )
    return model, tokenizer, layout
