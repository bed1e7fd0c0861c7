"""DVC stage `attribute@<config>`: score every head by path patching; select the sycophancy heads."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import console, params
from pinpoint.attribution import attribute
from pinpoint.stage import run_stage, write_json


def main(paths):
    attr = params.load("attribute", paths.config)
    found = attribute.attribute(paths.base, paths.filtered, attr, params.load("replies", paths.config).max_new_tokens)
    write_json(paths.heads, attribute.selection(found, attr))
    write_json(paths.metric("heads"), attribute.metrics(found, attr))
    write_json(paths.plot("head_scores.json"), attribute.plot_rows(found))
    for title, rows, first in attribute.summary(found, attr):
        console.print_table(title, rows, first)


if __name__ == "__main__":
    run_stage(main)
