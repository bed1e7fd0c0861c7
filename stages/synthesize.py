"""DVC stage `synthesize`: training data and eval suites from labelled facts."""

from pathlib import Path

from pinpoint import params
from pinpoint.data import io, schema, sources
from pinpoint.data.synthesize import synthesize
from pinpoint.report import print_table
from pinpoint.stage import atomic_dir, run_stage

BASE, OUT = Path("models/base"), Path("data/synthetic")


def main():
    p = params.load("synthesize")
    facts = []
    for src in p.sources:
        facts.extend(sources.SOURCES[src.name](src, BASE))
    fmt = io.resolve_format(p.format, BASE)
    files = synthesize(facts, p.eval_fraction, p.seed)
    with atomic_dir(OUT) as tmp:
        for name, records in files.items():
            schema.write(tmp / f"{name}.jsonl", records)
        io.write_meta(tmp, {"format": fmt, "facts": [f.to_json() for f in facts]})
    rows = {name: {split: sum(r["split"] == split for r in recs) for split in schema.SPLITS} for name, recs in files.items()}
    print_table(f"synthesized records (prompt format: {fmt})", rows, "file")


if __name__ == "__main__":
    run_stage(main)
