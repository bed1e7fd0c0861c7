"""Tuning methods, one home each, behind one interface:

    prepare(model, layout, heads, params) -> (model, trainable parameters, state)
    save(model, state, directory, tokenizer, manifest)
    load(base model, layout, directory, manifest) -> model

`random` is SPT on randomly drawn heads. The training loop is shared (loop.py).
"""

from __future__ import annotations

from pathlib import Path

from pinpoint.tuning import lora, sft, spt

METHODS = {"spt": spt, "sft": sft, "lora": lora, "random": spt}


class BaseMismatch(ValueError):
    pass


def load_tuned(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """An SPT or LoRA checkpoint on top of the base model it was trained from."""
    from pinpoint import models

    base_dir = Path(manifest["base_dir"])
    found = models.fingerprint(base_dir)
    if found != manifest["base_fingerprint"]:
        raise BaseMismatch(
            f"{directory}: these {manifest['kind']} weights were tuned from base {manifest['base_fingerprint'][:12]}, "
            f"but {base_dir} is {found[:12]}; re-run `dvc repro tune` (or point base_dir at the original base)"
        )
    model, tokenizer = models.load(base_dir, dtype=dtype, device=device)
    layout = models.HeadLayout.of(model)
    if manifest.get("layout") and manifest["layout"] != layout_dict(layout):
        raise BaseMismatch(f"{directory}: head layout {manifest['layout']} does not match the base's {layout_dict(layout)}")
    model = METHODS[manifest["kind"]].load(model, layout, Path(directory), manifest)
    return model.eval(), tokenizer


def layout_dict(layout) -> dict:
    return {"n_layers": layout.n_layers, "n_heads": layout.n_heads, "n_kv_heads": layout.n_kv_heads, "head_dim": layout.head_dim}
