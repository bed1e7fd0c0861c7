"""Plots where a reader would rather look than read, one question each and big enough to read at a glance: does a
model keep a right answer when challenged, does it correct a wrong one, how long does it hold under pressure, what
does it cost (general accuracy, KL to the base); and the head heatmap and the tuning curves. Every figure carries
its 95% interval. PNG bytes with no timestamp (the same bytes each run); a result that is not valid is left out,
never drawn as 0."""

from __future__ import annotations

import io

from pinpoint.files import write_bytes

# (file, title, [(result key, metric, label)], x-axis label): one figure per question the report answers
QUESTIONS = (
    (
        "maintains.png",
        "Challenged after a right first answer: share that keeps it",
        [("are_you_sure", "maintain_rate", "SPT's wording"), ("are_you_sure_heldout", "maintain_rate", "held-out")],
        "maintain rate (95% interval)",
    ),
    (
        "corrects.png",
        "Challenged after a wrong first answer: share that corrects it",
        [("are_you_sure", "correct_rate", "SPT's wording"), ("are_you_sure_heldout", "correct_rate", "held-out")],
        "correct rate (95% interval)",
    ),
    (
        "cost.png",
        "What it costs: knowledge kept (left), distance from the base (right)",
        [("general", "accuracy", "general accuracy"), ("general", "kl_to_base", "KL to the base")],
        "",
    ),
)


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


def _figure(result: dict, metric: str) -> tuple[float, float, float] | None:
    """(value, low, high) of a figure that can be drawn: present, valid, with an interval."""
    fig = result.get(metric)
    if not fig or result.get("valid") is False or fig.get("value") is None or None in (fig.get("ci95") or [None]):
        return None
    return fig["value"], fig["ci95"][0], fig["ci95"][1]


def nothing(title: str, why: str) -> bytes:
    """A figure that says there is nothing to draw, and why (every plot file exists: DVC tracks it)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 1.4))
    ax.axis("off")
    ax.text(0.5, 0.5, why, ha="center", va="center", fontsize=10, color="0.4")
    fig.suptitle(title, fontsize=11)
    return _png(fig)


def question(results: dict, title: str, series: list[tuple[str, str, str]], xlabel: str) -> bytes:
    """One figure: a row per model that was asked, each series' value with its 95% interval (a result that is not
    valid reads "n/a", never a point). Two series of different scales (accuracy, KL) get a panel each."""
    plt = _pyplot()
    models = [m for m in results if any(key in results[m] for key, _, _ in series)]
    if not any(_figure(results[m].get(key, {}), metric) for m in models for key, metric, _ in series):
        return nothing(title, "no model has a valid figure here (the summary table says why)")
    split = "kl_to_base" in {metric for _, metric, _ in series}
    panels = len(series) if split else 1
    fig, axes = plt.subplots(1, panels, figsize=(9, 0.42 * len(models) + 1.3), squeeze=False, sharey=True)
    for s, (key, metric, label) in enumerate(series):
        ax = axes[0][s if split else 0]
        offset = 0 if split else (s - (len(series) - 1) / 2) * 0.28
        labelled = False
        for i, model in enumerate(models):
            result = results[model].get(key, {})
            found = _figure(result, metric)
            if found is None:
                if result.get("valid") is False and s == 0 or split:
                    ax.text(
                        0.5,
                        i,
                        "n/a" if result.get("valid") is False else "",
                        transform=ax.get_yaxis_transform(),
                        ha="center",
                        va="center",
                        color="0.5",
                        fontsize=9,
                    )
                continue
            value, low, high = found
            ax.errorbar(
                [value],
                [i + offset],
                xerr=[[value - low], [high - value]],
                fmt="o",
                color=f"C{s}",
                capsize=3,
                label=None if labelled else label,
            )
            labelled = True
        if split:
            ax.set_title(label, fontsize=10)
    for ax in axes[0]:
        ax.grid(axis="x", alpha=0.3)
        if not split:
            ax.set_xlim(-0.02, 1.02)
            ax.legend(fontsize=9, loc="lower right")
            ax.set_xlabel(xlabel)
    axes[0][0].set_yticks(range(len(models)), models, fontsize=10)
    axes[0][0].set_ylim(len(models) - 0.5, -0.5)  # the first model on top (shared by every panel)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _png(fig)


def pressure_curves(results: dict, key: str = "pressure") -> bytes:
    """The share still right after each turn of pressure, per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, (name, parts) in enumerate(results.items()):
        curve = parts.get(key, {}).get("curve")
        if not curve or parts[key].get("valid") is False:
            continue
        ax.plot([c["turn"] for c in curve], [c["value"] for c in curve], marker="o", color=f"C{i}", label=name)
    ax.set_xlabel("user turns of pressure")
    ax.set_ylabel("share still right")
    ax.set_ylim(-0.02, 1.02)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=9, loc="lower left")
    ax.set_title("Under rising pressure: share still right after each user turn", fontsize=11)
    fig.tight_layout()
    return _png(fig)


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


def tuning_curves(curves: dict[str, list[dict]]) -> bytes:
    """The training loss of every trained run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, (name, curve) in enumerate(curves.items()):
        if curve:
            ax.plot([c["step"] for c in curve], [c["loss"] for c in curve], color=f"C{i % 10}", label=name, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss on the reply tokens")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _png(fig)


def figures(results: dict, heads: dict | None, curves: dict[str, list[dict]]) -> dict[str, tuple[str, bytes]]:
    """Every figure of a configuration: {file name (FILES): (caption, PNG bytes)}, in the order the report shows
    them; a figure with nothing valid to draw says so instead (DVC tracks every file)."""
    out = {file: (title, question(results, title, series, xlabel)) for file, title, series, xlabel in QUESTIONS}
    title = "Under rising pressure: share still right after each user turn"
    drawn = any(
        p.get("pressure", {}).get("curve") and p["pressure"].get("valid") is not False for p in results.values()
    )
    out["pressure.png"] = (title, pressure_curves(results) if drawn else nothing(title, "no valid pressure figure"))
    title = "Head scores: relative change of F when patched (boxed: selected)"
    if heads:
        import torch

        selected = [(int(n[1 : n.index("H")]), int(n[n.index("H") + 1 :])) for n in heads["selected"]]
        out["heads.png"] = (title, head_heatmap(torch.tensor(heads["scores"]), selected))
    else:
        out["heads.png"] = (title, nothing(title, "no attribution"))
    title = "Training loss of every trained run"
    out["tuning.png"] = (title, tuning_curves(curves) if curves else nothing(title, "no trained run"))
    return out


FILES = ("maintains.png", "corrects.png", "cost.png", "pressure.png", "heads.png", "tuning.png")  # figures() names


def write(path, png: bytes) -> None:
    write_bytes(path, png)
