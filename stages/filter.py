"""DVC stage `filter`: keep only prompts whose facts the model knows."""

from pathlib import Path

from pinpoint import models, params
from pinpoint.data import filter as knowledge
from pinpoint.data import io, schema
from pinpoint.data.sources import Fact
from pinpoint.report import print_table
from pinpoint.stage import atomic_dir, run_stage, write_json

BASE, IN, OUT, METRICS = Path("models/base"), Path("data/synthetic"), Path("data/filtered"), Path("metrics/filter.json")


def main():
    p = params.load("filter")
    meta = io.read_meta(IN)
    files = {name: schema.read(IN / f"{name}.jsonl") for name in io.FILES}  # validate before loading the model
    facts = [Fact.from_json(f) for f in meta["facts"]]
    model, tokenizer = models.load(BASE, device=p.device)
    known = knowledge.known_facts(model, tokenizer, facts, meta["format"], p.batch_size)
    kept, report = knowledge.filter_files(files, known)
    facts_report = knowledge.knowledge_report(facts, known)
    for src, row in facts_report.items():
        report.setdefault(src, {}).update(row)
    with atomic_dir(OUT) as tmp:
        for name, records in kept.items():
            schema.write(tmp / f"{name}.jsonl", records)
        io.write_meta(tmp, meta)
    write_json(METRICS, report)
    print_table("knowledge filter", {s: {k: (f"{v['kept']}/{v['total']}" if isinstance(v, dict) else v) for k, v in r.items()} for s, r in report.items()}, "source")


if __name__ == "__main__":
    run_stage(main)
