"""DVC stage `synthesize@<config>`: training, validation and evaluation data from labelled facts."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.console import print_table
from pinpoint.data import io, schema
from pinpoint.data.synthesize import synthesize
from pinpoint.registry.facts import FACT_SOURCES
from pinpoint.stage import atomic_dir, run_stage


def main(paths):
    synth = params.load("synthesize", paths.config)
    facts = [fact for src in synth.sources for fact in FACT_SOURCES[src.name].load(src, paths.base)]
    fmt = io.resolve_format(synth.format, paths.base)
    files = synthesize(facts, synth.eval_fraction, synth.validation_fraction, synth.seed)
    with atomic_dir(paths.synthetic) as tmp:
        for name, records in files.items():
            schema.write(tmp / f"{name}.jsonl", records)
        io.write_meta(tmp, {"format": fmt, "facts": [f.to_json() for f in facts]})
    rows = {name: {s: sum(r["split"] == s for r in recs) for s in schema.SPLITS} for name, recs in files.items()}
    print_table(f"synthesized records (prompt format: {fmt})", rows, "file")


if __name__ == "__main__":
    run_stage(main)
