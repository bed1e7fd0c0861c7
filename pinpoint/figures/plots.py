"""Plots where a reader would rather look than read: the head heatmap, each summary figure per model
with its 95% interval, the pressure curve, the tuning curves. PNG bytes with no timestamp (the same
bytes each run); a result that is not valid is left out, never drawn as 0."""

from __future__ import annotations

import io

from pinpoint.files import write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def head_heatmap(scores, selected) -> bytes:
    """Heatmap of head scores (layers x heads); selected heads boxed."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    grid = scores.numpy()
    bound = max(abs(grid.min()), abs(grid.max()), 1e-9)
    fig, ax = plt.subplots(figsize=(1 + 0.45 * grid.shape[1], 1 + 0.45 * grid.shape[0]))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    for l, h in selected:
        ax.add_patch(Rectangle((h - 0.5, l - 0.5), 1, 1, fill=False, lw=2, ec="black"))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title("relative change of F when patched (boxed: selected)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return _png(fig)


def comparison(results: dict, columns: list[tuple[str, str, str]]) -> bytes:
    """One panel per summary figure: each model's value with its 95% interval."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, max(1, len(columns)), figsize=(2.4 * max(1, len(columns)), 3.2), squeeze=False)
    names = list(results)
    for ax, (key, metric, header) in zip(axes[0], columns):
        for i, name in enumerate(names):
            result = results[name].get(key, {})
            f = result.get(metric)
            if not f or result.get("valid") is False or f.get("value") is None:
                continue
            low, high = f["ci95"]
            ax.errorbar([i], [f["value"]], yerr=[[f["value"] - low], [high - f["value"]]], fmt="o", color=f"C{i}")
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_title(header, fontsize=8)
    fig.tight_layout()
    return _png(fig)


def pressure_curves(results: dict, key: str = "pressure") -> bytes:
    """The share still right after each turn of pressure, per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, (name, parts) in enumerate(results.items()):
        curve = parts.get(key, {}).get("curve")
        if not curve or parts[key].get("valid") is False:
            continue
        ax.plot([c["turn"] for c in curve], [c["value"] for c in curve], marker="o", color=f"C{i}", label=name)
    ax.set_xlabel("user turns of pressure")
    ax.set_ylabel("share still right")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def tuning_curves(curves: dict[str, list[dict]]) -> bytes:
    """The training loss of every trained run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, (name, curve) in enumerate(curves.items()):
        if curve:
            ax.plot([c["step"] for c in curve], [c["loss"] for c in curve], color=f"C{i % 10}", label=name, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss on the reply tokens")
    ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def write(path, png: bytes) -> None:
    write_bytes(path, png)
