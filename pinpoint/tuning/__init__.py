"""Tuning methods, one home each (a module), behind one registry:

    prepare(model, layout, heads, params) -> (model, trainable parameters, state)
    save(model, state, directory, tokenizer, manifest)
    load(base model, layout, directory, manifest) -> model

Adding a method: its module, one `register(...)` line below, and its name in params.yaml
`methods` (validated against this registry); dvc.yaml, evaluate and the report follow.
`random` is SPT on randomly drawn heads. The training loop is shared (loop.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pinpoint.tuning import lora, sft, spt


@dataclass(frozen=True)
class Method:
    name: str
    prepare: Callable
    save: Callable
    load: Callable
    lr: float  # default learning rate; params tune.lr.<name> overrides it
    heads: Literal["selected", "random", "none"] = "none"  # which heads it is given: attribute's, random ones, none


METHODS: dict[str, Method] = {}


def register(name: str, module, lr: float, heads: str = "none") -> None:
    METHODS[name] = Method(name, module.prepare, module.save, module.load, lr, heads)


register("spt", spt, lr=2e-3, heads="selected")
register("sft", sft, lr=3e-4)
register("lora", lora, lr=1e-3)
register("random", spt, lr=2e-3, heads="random")  # SPT's ablation: as many heads, drawn at random


class BaseMismatch(ValueError):
    pass


def load_tuned(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """An SPT or LoRA checkpoint on top of the base model it was trained from."""
    from pinpoint import models

    base_dir = models.base_dir(directory, manifest)
    found = models.fingerprint(base_dir)
    if found != manifest["base_fingerprint"]:
        raise BaseMismatch(
            f"{directory}: these {manifest['kind']} weights were tuned from base {manifest['base_fingerprint'][:12]}, "
            f"but {base_dir} is {found[:12]}; re-run `dvc repro tune` (or point base_dir at the original base)"
        )
    model, tokenizer = models.load(base_dir, dtype=dtype, device=device)
    layout = models.HeadLayout.of(model)
    if manifest.get("layout") and manifest["layout"] != layout_dict(layout):
        raise BaseMismatch(
            f"{directory}: head layout {manifest['layout']} does not match the base's {layout_dict(layout)}"
        )
    model = METHODS[manifest["kind"]].load(model, layout, Path(directory), manifest)
    return model.eval(), tokenizer


def layout_dict(layout) -> dict:
    return {
        "n_layers": layout.n_layers,
        "n_heads": layout.n_heads,
        "n_kv_heads": layout.n_kv_heads,
        "head_dim": layout.head_dim,
    }
