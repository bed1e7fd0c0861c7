"""DVC stage `validate@<config>`: the base and every SPT run on the validation split, where every choice is
made (metrics/<config>/validation.json); the sweep's experiments compare this file, never eval.json."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.evaluation import context
from pinpoint.figures import results, tables
from pinpoint.models import loading
from pinpoint.stage import run_stage, write_json

METHOD = "spt"


def main(paths):
    ev, budget = params.load("evaluate", paths.config), params.load("replies", paths.config).max_new_tokens
    ctx = context.Context.from_params(ev, budget, paths.filtered, split="validation")
    found = context.parts(list(context.VALIDATED), ctx, published=False)
    base, tokenizer = loading.load(paths.base, device=ev.device)
    ctx.base_model = base
    runs = sorted(d for d in paths.tuned(METHOD).glob("seed_*") if (d / loading.MANIFEST).exists())
    transcripts = {
        "base": context.transcript("base", [paths.base], base, tokenizer, found, ctx),
        METHOD: context.transcript(METHOD, runs, base, tokenizer, found, ctx),
    }
    summary = results.summarise(transcripts, ev.format_floor)
    write_json(paths.metric("validation"), summary)
    print("\nvalidation split\n\n" + tables.summary_table(summary))


if __name__ == "__main__":
    run_stage(main)
