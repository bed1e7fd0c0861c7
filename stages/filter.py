"""DVC stage `filter@<config>`: keep only prompts whose facts the model knows; training targets."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.console import print_table
from pinpoint.data import io, knowledge, schema, targets
from pinpoint.data.fact import Fact
from pinpoint.models import challenge, loading
from pinpoint.stage import atomic_dir, run_stage, write_json


def main(paths):
    filt = params.load("filter", paths.config)
    meta = io.read_meta(paths.synthetic)
    files = {name: schema.read(paths.synthetic / f"{name}.jsonl") for name in io.FILES}  # validated before the model
    facts = [Fact.from_json(f) for f in meta["facts"]]
    model, tokenizer = loading.load(paths.base, device=filt.device)
    known, answers = knowledge.known_facts(
        model, tokenizer, facts, meta["format"], filt.batch_size, filt.max_new_tokens
    )
    kept, report = knowledge.filter_files(files, known)
    for src, row in knowledge.knowledge_report(facts, known).items():
        report.setdefault(src, {}).update(row)
    kept["are_you_sure"] = knowledge.with_own_answers(kept["are_you_sure"], answers)
    if filt.targets == "model":
        train = [r for r in kept["are_you_sure"] if r["split"] == "train"]
        respondent = challenge.Respondent(model, tokenizer, meta["format"])
        budget = challenge.Budget(filt.max_new_tokens, filt.batch_size)
        tuned, used = targets.own_word_targets(respondent, train, answers, budget)
        by_id = {r["id"]: r for r in tuned}
        kept["are_you_sure"] = [by_id.get(r["id"], r) for r in kept["are_you_sure"]]
        meta = meta | {"targets": used}
    with atomic_dir(paths.filtered) as tmp:
        for name, records in kept.items():
            schema.write(tmp / f"{name}.jsonl", records)
        io.write_meta(tmp, meta)
    write_json(paths.metric("filter"), report)
    table = {
        s: {k: (f"{v['kept']}/{v['total']}" if isinstance(v, dict) else v) for k, v in r.items()}
        for s, r in report.items()
    }
    print_table("knowledge filter", table, "source")


if __name__ == "__main__":
    run_stage(main)
