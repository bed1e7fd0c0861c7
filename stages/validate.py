"""DVC stage `validate@<config>`: the base and every SPT run on the validation split, where every choice is
made (metrics/<config>/validation.json); the sweep's experiments compare this file, never eval.json."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import models, params, results
from pinpoint.console import headline
from pinpoint.data import io
from pinpoint.evaluation import context
from pinpoint.stage import run_stage, write_json

SUITES = ["are_you_sure", "are_you_sure_heldout", "general"]
METHOD = "spt"


def main(paths):
    ev, budget = params.load("evaluate", paths.config), params.load("replies", paths.config).max_new_tokens
    ctx = context.Context(
        paths.filtered,
        io.read_meta(paths.filtered)["format"],
        split="validation",
        batch_size=ev.batch_size,
        max_new_tokens=ev.max_new_tokens,
        reply_tokens=budget,
        max_items=ev.max_items,
        format_floor=ev.format_floor,
    )
    found = context.parts(SUITES, ctx)
    base, tokenizer = models.load(paths.base, device=ev.device)
    ctx.base_model = base
    runs = sorted(d for d in paths.tuned(METHOD).glob("seed_*") if (d / models.MANIFEST).exists())
    transcripts = {
        "base": context.transcript("base", [paths.base], base, tokenizer, found, ctx),
        METHOD: context.transcript(METHOD, runs, base, tokenizer, found, ctx),
    }
    summary = results.summarise(transcripts, ev.format_floor)
    write_json(paths.metrics / "validation.json", summary)
    print("\nvalidation split\n\n" + headline(summary))


if __name__ == "__main__":
    run_stage(main)
