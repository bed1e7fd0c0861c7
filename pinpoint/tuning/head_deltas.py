"""Trainable deltas on the slices of q/k/v/o that belong to selected heads.

SPT trains, for each selected head, its rows of q_proj (and of k_proj and v_proj
with multi-head attention; with GQA k/v are shared by a group and stay frozen) and
its columns of o_proj; rows of a fused qkv projection (GPT-2, GPT-NeoX, Phi-3) are the
same slices of one module; with q/k normalised across heads (OLMo 2) only v rows and
o columns are a head's own (HeadLayout.head_slices). Rather than hooking gradients of
whole matrices, each projection that holds a selected slice is wrapped:

    y = base(x) + scatter(x @ delta_out.T, rows)  +  x[..., cols] @ delta_in.T

The base weights are never touched (they may be frozen, quantised or sharded), the
optimizer sees only the deltas, and weight decay cannot leak into frozen heads. A
checkpoint is just the deltas; `merge` writes them into an ordinary HF model.
"""

from __future__ import annotations

import torch
from torch import nn

from pinpoint.models.heads import HeadLayout


class HeadSliceDelta(nn.Module):
    """A projection (Linear or GPT-2 Conv1D) plus deltas on some output rows and input columns."""

    def __init__(self, base: nn.Module, layout: HeadLayout, out_index: list[int], in_index: list[int]):
        super().__init__()
        self.base = base
        w = layout.weight(base)  # (out, in)
        d_out, d_in = w.shape
        self.register_buffer("out_index", torch.tensor(sorted(set(out_index)), dtype=torch.long), persistent=False)
        self.register_buffer("in_index", torch.tensor(sorted(set(in_index)), dtype=torch.long), persistent=False)
        kw = {"dtype": torch.float32, "device": w.device}  # deltas train in fp32 whatever the base dtype
        self.delta_out = nn.Parameter(torch.zeros(len(self.out_index), d_in, **kw)) if out_index else None
        self.delta_in = nn.Parameter(torch.zeros(d_out, len(self.in_index), **kw)) if in_index else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.delta_out is not None:
            y = y.index_add(-1, self.out_index, (x @ self.delta_out.T.to(x.dtype)).to(y.dtype))
        if self.delta_in is not None:
            y = y + (x[..., self.in_index] @ self.delta_in.T.to(x.dtype)).to(y.dtype)
        return y


def _indices(
    layout: HeadLayout, heads: list[tuple[int, int]], projections: str
) -> dict[str, tuple[list[int], list[int]]]:
    """module name -> (output rows, input columns) that the heads own."""
    out: dict[str, tuple[list[int], list[int]]] = {}
    for l, h in heads:
        for s in layout.head_slices(l, h, projections):
            rows, cols = out.setdefault(s.module, ([], []))
            (rows if s.side == "out" else cols).extend(s.index)
    return out


def attach(
    model: nn.Module, layout: HeadLayout, heads: list[tuple[int, int]], projections: str = "qo"
) -> dict[str, HeadSliceDelta]:
    """Freeze every base parameter and wrap the projections of `heads` with zero deltas (projections:
    "qo", a head's q rows (k/v too without GQA) and o columns; "o", its o columns only)."""
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = {}
    for name, (rows, cols) in _indices(layout, heads, projections).items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        module = HeadSliceDelta(getattr(parent, child), layout, rows, cols)
        setattr(parent, child, module)
        wrapped[name] = module
    return wrapped


def delta_parameters(wrapped: dict[str, HeadSliceDelta]) -> list[nn.Parameter]:
    return [p for m in wrapped.values() for p in (m.delta_out, m.delta_in) if p is not None]


def state_dict(wrapped: dict[str, HeadSliceDelta]) -> dict[str, torch.Tensor]:
    """The checkpoint: deltas and the indices they sit at, keyed by module name."""
    out = {}
    for name, m in wrapped.items():
        for kind in ("out", "in"):
            delta = getattr(m, f"delta_{kind}")
            if delta is not None:
                out[f"{name}.delta_{kind}"] = delta.detach().cpu().contiguous()
                out[f"{name}.{kind}_index"] = getattr(m, f"{kind}_index").cpu().contiguous()
    return out


def load_state_dict(wrapped: dict[str, HeadSliceDelta], state: dict[str, torch.Tensor]) -> None:
    expected = set(state_dict(wrapped))
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ValueError(f"delta checkpoint does not fit the heads: missing {missing[:3]}, unexpected {extra[:3]}")
    with torch.no_grad():
        for name, m in wrapped.items():
            for kind in ("out", "in"):
                delta = getattr(m, f"delta_{kind}")
                if delta is None:
                    continue
                if not torch.equal(state[f"{name}.{kind}_index"], getattr(m, f"{kind}_index").cpu()):
                    raise ValueError(f"{name}: the checkpoint's {kind} slice differs from the heads' slice")
                delta.copy_(state[f"{name}.delta_{kind}"])


@torch.no_grad()
def merge(model: nn.Module, layout: HeadLayout, wrapped: dict[str, HeadSliceDelta]) -> nn.Module:
    """Add the deltas into the base weights and unwrap: an ordinary HF model again."""
    for name, m in wrapped.items():
        w = layout.weight(m.base)  # (out, in), a view for Conv1D
        if m.delta_out is not None:
            w[m.out_index] += m.delta_out.to(w.dtype)
        if m.delta_in is not None:
            w[:, m.in_index] += m.delta_in.to(w.dtype)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, m.base)
    return model
