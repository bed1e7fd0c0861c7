"""Plain tables for the terminal: what a stage prints at its end (nothing here measures anything)."""

from __future__ import annotations


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.1e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
    return str(v)


def markdown_table(rows: dict[str, dict], first: str = "") -> str:
    """rows: {row name: {column: value}} -> a markdown table."""
    columns = list(dict.fromkeys(c for r in rows.values() for c in r))
    lines = ["| " + " | ".join([first, *columns]) + " |", "|" + "---|" * (len(columns) + 1)]
    for name, r in rows.items():
        lines.append("| " + " | ".join([name, *(_fmt(r.get(c, "")) for c in columns)]) + " |")
    return "\n".join(lines)


def print_table(title: str, rows: dict[str, dict], first: str = "") -> None:
    print(f"\n{title}\n\n{markdown_table(rows, first)}\n", flush=True)


def headline(summary: dict) -> str:
    """Each model's summary figures (values only) of an eval.json-like summary, as one table."""
    from pinpoint.registry.suites import summary_metrics

    rows = {}
    for model, parts in summary.items():
        row = {}
        for suite, metric in summary_metrics():
            for key, result in parts.items():
                if (key == suite or key.startswith(f"{suite}@")) and metric.name in result:
                    fig = result[metric.name]
                    shown = "n/a" if result.get("valid") is False else fig["value"]
                    row[f"{key} {metric.name}"] = shown
        rows[model] = row
    return markdown_table(rows, "model")
