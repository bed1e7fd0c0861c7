"""Tuning methods, one home each (a module), behind one registry. A method module defines

    prepare(model, layout, heads, tune_params) -> (model, trainable parameters, state)
    save(model, state, directory, tokenizer)   the checkpoint's files (the stage adds the manifest)
    load(directory, manifest, dtype, device) -> (model, tokenizer)

and one `register(...)` line below adds it: params validates `methods` and `tune.lr` against
this registry, dvc.yaml's tune matrix and evaluate's models follow params.yaml `methods`, and
the report's rows follow the metrics. `random` is SPT on randomly drawn heads. The training
loop is shared (loop.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


def register(name: str, module, lr: float, heads: Literal["selected", "random", "none"] = "none") -> None:
    """Make `module` (prepare/save/load) the tuning method `name`."""
    METHODS[name] = Method(name, module.prepare, module.save, module.load, lr, heads)


register("spt", spt, lr=2e-3, heads="selected")
register("sft", sft, lr=3e-4)
register("lora", lora, lr=1e-3)
register("random", spt, lr=2e-3, heads="random")  # SPT's ablation: as many heads, drawn at random
