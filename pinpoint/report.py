"""Tables and plots for people: the summary printed at the end of a stage.

A result the evaluation marked not valid ("valid": false, see evaluation.suites) is never
shown as a number: tables say "n/a (reason)", plots and plot data leave it out.
"""

from __future__ import annotations

from pinpoint.files import write_bytes


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

COVERAGE = ("n", "unk_share", "truncated", "valid", "invalid_reason")  # what was read, not what was measured


def summary_metrics() -> list[tuple[str, str, str]]:
    """(suite, metric, header) of every summary figure, from the suite registry."""
    from pinpoint.evaluation.suites import SUITES

    return [(suite.name, m.name, m.column) for suite in SUITES.values() for m in suite.summary]


def is_valid(metrics: dict) -> bool:
    """Do a result's figures measure the model (not the tokenizer, not a truncated prompt)?"""
    return metrics.get("valid", True) is not False


def is_figure(metric: str, value) -> bool:
    """A measured number (not a count, a coverage field, a flag or a nested curve)."""
    return metric not in COVERAGE and isinstance(value, (int, float)) and not isinstance(value, bool)


def shown(metrics: dict) -> dict:
    """A result as a table shows it: an invalid result's figures become "n/a" next to its reason."""
    if is_valid(metrics):
        return metrics
    return {k: ("n/a" if is_figure(k, v) else v) for k, v in metrics.items()}


def average_runs(runs: list[dict]) -> dict:
    """Mean of every figure over runs (random-head seeds), the spread kept as *_seeds lists; a result
    is valid only if it is in every run, and keeps every run's reason when it is not."""
    if len(runs) == 1:
        return runs[0]
    return {suite: _average([r[suite] for r in runs if suite in r]) for suite in runs[0]}


def _average(results: list[dict]) -> dict:
    out = {}
    for metric in dict.fromkeys(k for r in results for k in r):
        values = [r[metric] for r in results if metric in r]
        if metric == "valid":
            out[metric] = all(values)
        elif metric == "invalid_reason":
            out[metric] = "; ".join(dict.fromkeys(values))
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[metric] = round(sum(values) / len(values), 4)
            if is_figure(metric, values[0]):
                out[f"{metric}_seeds"] = values
        else:
            out[metric] = values[0]
    return out


def summary_columns(results: dict) -> list[tuple[str, str, str]]:
    """(result key, metric, header) of the summary: the built-in data's, then each external file's
    (result key suite@file) apart, so no column pools the two."""
    keys = dict.fromkeys(k for suites in results.values() for k in suites)
    columns = []
    for suite, metric, header in summary_metrics():
        for key in [suite, *(k for k in keys if k.startswith(f"{suite}@"))]:
            if any(metric in r.get(key, {}) for r in results.values()):
                columns.append((key, metric, header if key == suite else f"{header} [{key.split('@', 1)[1]}]"))
    return columns


def summary_cell(metrics: dict, metric: str):
    """A figure, "n/a (reason)" where its result is not valid, "" where it is absent."""
    if metric not in metrics:
        return ""
    return metrics[metric] if is_valid(metrics) else f"n/a ({metrics.get('invalid_reason', 'invalid')})"


def summary_table(results: dict) -> str:
    columns = summary_columns(results)
    rows = {
        model: {header: summary_cell(suites.get(key, {}), metric) for key, metric, header in columns}
        for model, suites in results.items()
    }
    return markdown_table(rows, "model")


def long_rows(results: dict) -> list[dict]:
    """One row per model x suite x figure (a DVC plot's data); invalid results left out."""
    return [
        {"model": m, "suite": s, "metric": k, "value": v}
        for m, suites in results.items()
        for s, metrics in suites.items()
        if is_valid(metrics)
        for k, v in metrics.items()
        if is_figure(k, v)
    ]


def comparison_plot(results: dict, path) -> None:
    """Bars of the summary metrics, one group per metric, one bar per model."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = summary_columns(results)
    fig, axes = plt.subplots(1, len(cols), figsize=(2.2 * len(cols), 3), squeeze=False)
    for ax, (suite, metric, header) in zip(axes[0], cols):
        names = list(results)
        heights = [_bar(results[n].get(suite, {}), metric) for n in names]
        ax.bar(names, heights, color=[f"C{i}" for i in range(len(names))])
        ax.set_title(header, fontsize=9)
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def _bar(metrics: dict, metric: str) -> float:
    """A bar's height: no bar (NaN) for an absent or invalid figure, never a made-up 0."""
    value = metrics.get(metric)
    return value if is_valid(metrics) and isinstance(value, (int, float)) else float("nan")
