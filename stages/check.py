"""DVC stage `check@<config>`: the gate, bounds from params (`<config>.checks`) against eval.json."""

import sys

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.figures.gate import missed
from pinpoint.stage import read_json, run_stage


def main(paths):
    bounds = params.load("checks", paths.config).bounds
    problems = missed(read_json(paths.metric("eval")), bounds)
    for line in problems:
        print(f"check failed: {line}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"all {len(bounds)} checks pass")


if __name__ == "__main__":
    run_stage(main)
