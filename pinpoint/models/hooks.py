"""One way to hook a model: `with hooks(Hook(module, fn), ...)`, every hook removed on the way
out, error or not (as TransformerLens's `model.hooks(...)`); or, for a model that carries its hooks
(a steered one), `hold(model, ...)` until `release(model)`.

A "pre" hook sees a module's inputs before it runs (fn(module, args) or, with kwargs,
fn(module, args, kwargs)) and may return replacements; a "forward" hook sees its output
(fn(module, args, output) or fn(module, args, kwargs, output)) and may return a new one.
Decoder blocks take the residual stream as their first argument or as `hidden_states`:
`hidden_states` and `with_hidden_states` read and replace it either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass(frozen=True)
class Hook:
    module: nn.Module
    fn: Callable
    kind: Literal["pre", "forward"] = "pre"
    with_kwargs: bool = False
    prepend: bool = False  # run before hooks already there (accelerate's device hooks, for one)


@contextmanager
def hooks(*installs: Hook) -> Iterator[None]:
    """Install the hooks for the block's duration."""
    handles = []
    try:
        for hook in installs:
            module = hook.module
            register = module.register_forward_pre_hook if hook.kind == "pre" else module.register_forward_hook
            handles.append(register(hook.fn, with_kwargs=hook.with_kwargs, prepend=hook.prepend))
        yield
    finally:
        for handle in handles:
            handle.remove()


def hidden_states(args: tuple, kwargs: dict) -> torch.Tensor:
    """The residual stream a decoder block was called with."""
    return args[0] if args else kwargs["hidden_states"]


def with_hidden_states(args: tuple, kwargs: dict, hidden: torch.Tensor) -> tuple[tuple, dict]:
    """A block's (args, kwargs) with the residual stream replaced."""
    if args:
        return (hidden, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": hidden}


# --------------------------------------------------------------------------- hooks a model keeps until released

HELD = "_pinpoint_release"  # the attribute a model keeps its held hooks' exit under


def hold(model, *installs: Hook):
    """Install hooks that stay with `model` (a steered model's) until `release(model)`; any held before go first."""
    release(model)
    stack = ExitStack()
    stack.enter_context(hooks(*installs))
    setattr(model, HELD, stack.close)
    return model


def release(model) -> None:
    """Remove the hooks a model holds (a no-op for one that holds none)."""
    close = getattr(model, HELD, None)
    if close is not None:
        close()
        delattr(model, HELD)
