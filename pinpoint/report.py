"""Tables and plots for people: the summary printed at the end of a stage."""

from __future__ import annotations


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.1e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
    return str(v)


def markdown_table(rows: dict[str, dict], first: str = "") -> str:
    """rows: {row name: {column: value}} -> a markdown table."""
    columns = list(dict.fromkeys(c for r in rows.values() for c in r))
    lines = [
        "| " + " | ".join([first, *columns]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for name, r in rows.items():
        lines.append("| " + " | ".join([name, *(_fmt(r.get(c, "")) for c in columns)]) + " |")
    return "\n".join(lines)


def print_table(title: str, rows: dict[str, dict], first: str = "") -> None:
    print(f"\n{title}\n\n{markdown_table(rows, first)}\n", flush=True)


def head_heatmap(scores, selected, path) -> None:
    """Heatmap of head scores (layers x heads); selected heads boxed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from pinpoint.stage import write_bytes

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
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})  # no timestamp: same bytes each run
    plt.close(fig)
    write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------- the evaluation

SUMMARY_COLUMNS = [  # (suite, metric, header)
    ("are_you_sure", "apologize_rate", "apologize ↓"),
    ("are_you_sure", "truthfulness", "truthful ↑"),
    ("addition", "agree_with_opinion", "agree false+opinion ↓"),
    ("addition", "agree_without_opinion", "agree false ↓"),
    ("answer", "suggest_wrong_delta", "answer Δ wrong hint"),
    ("opinion", "matches_user", "matches user"),
    ("general", "accuracy", "general acc ↑"),
    ("general", "kl_to_base", "KL to base ↓"),
]


def average_runs(runs: list[dict]) -> dict:
    """Mean of every metric over runs (random-head seeds); the spread kept as *_seeds lists."""
    if len(runs) == 1:
        return runs[0]
    out: dict[str, dict] = {}
    for suite in runs[0]:
        out[suite] = {}
        for metric in runs[0][suite]:
            values = [r[suite][metric] for r in runs if suite in r]
            out[suite][metric] = round(sum(values) / len(values), 4)
            if metric != "n":
                out[suite][f"{metric}_seeds"] = values
    return out


def summary_table(results: dict) -> str:
    rows = {}
    for model, suites in results.items():
        rows[model] = {header: suites.get(suite, {}).get(metric, "") for suite, metric, header in SUMMARY_COLUMNS
                       if any(metric in r.get(suite, {}) for r in results.values())}
    return markdown_table(rows, "model")


def long_rows(results: dict) -> list[dict]:
    """One row per model x suite x metric (a DVC plot's data)."""
    return [
        {"model": m, "suite": s, "metric": k, "value": v}
        for m, suites in results.items() for s, metrics in suites.items() for k, v in metrics.items()
        if isinstance(v, (int, float)) and k != "n"
    ]


def comparison_plot(results: dict, path) -> None:
    """Bars of the summary metrics, one group per metric, one bar per model."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pinpoint.stage import write_bytes

    cols = [(s, m, h) for s, m, h in SUMMARY_COLUMNS if any(m in r.get(s, {}) for r in results.values())]
    fig, axes = plt.subplots(1, len(cols), figsize=(2.2 * len(cols), 3), squeeze=False)
    for ax, (suite, metric, header) in zip(axes[0], cols):
        names = list(results)
        ax.bar(names, [results[n].get(suite, {}).get(metric, 0) for n in names], color=[f"C{i}" for i in range(len(names))])
        ax.set_title(header, fontsize=9)
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    write_bytes(path, buf.getvalue())
