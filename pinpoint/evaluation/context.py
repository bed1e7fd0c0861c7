"""What a suite runner is handed (`Context`), the inputs it reads (`parts`), and what each transcript row
records of what the model read (`coverage`).

A suite's built-in records (data/filtered, one split) and each external file it reads are scored
apart: their rows carry the result key "suite" or "suite@file", never pooled. Every row records
the prompt tokens the model read, how many its tokenizer does not know and whether the prompt
was longer than the model's positions (scored on its end); pinpoint.figures.results turns those into
`unk_share`, `truncated` and `valid` per result.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from pinpoint import prompts
from pinpoint.data import external, io, sample, schema
from pinpoint.models import scoring
from pinpoint.models.tokens import encode_prompt, prompt_room
from pinpoint.registry.suites import SUITES

VALIDATED = ("are_you_sure", "are_you_sure_heldout", "general")  # what the validate stage scores (choices)


@dataclass
class Context:
    data_dir: Path
    fmt: str
    tokenizer: object = None
    split: str = "eval"  # the built-in records read: "eval" (the committed figures) or "validation"
    batch_size: int = 64
    max_new_tokens: int = 24  # an answer to a plain question
    reply_tokens: int = 24  # a reply to a challenge (params replies.max_new_tokens)
    max_items: int = 0  # per suite and file, every fact set alike (0: all)
    seed: int = 0  # which items a cap keeps
    format_floor: float = 0.75  # multiple choice: control items right at least this often, or the rest is not asked
    choice_scoring: str = "letter"  # multiple choice: score the option's letter, or its text
    base_model: object = None  # for the KL to the base
    probe: object = None  # score(prompts, replies) -> p(sycophantic) of each reply (probing.probe.reply_scorer)
    pressure_turns: int = 5
    pressure_items: int = 40
    pressure_external: bool = False  # external are_you_sure files through the pressure suite too
    seed_suites: list[str] | None = None  # a method's runs after the first: only these suites (None: every one)
    sycophancy_eval: list = field(default_factory=list)  # paths, or {path, kind}
    perez: list[str] = field(default_factory=list)
    max_positions: int | None = None  # the model's; longer prompts keep their end
    replies: dict[str, str] = field(default_factory=dict)  # prompt -> the current model's greedy reply

    @classmethod
    def from_params(cls, ev, reply_tokens: int, data_dir: Path, split: str | None = None) -> Context:
        """The context an `evaluate` section (params.EvaluateParams) gives, over the records in `data_dir` (its
        `split`, unless another is named: validate reads the validation split)."""
        return cls(
            data_dir,
            io.read_meta(data_dir)["format"],
            split=split or ev.split,
            batch_size=ev.batch_size,
            max_new_tokens=ev.max_new_tokens,
            reply_tokens=reply_tokens,
            max_items=ev.max_items,
            seed=ev.seed,
            format_floor=ev.format_floor,
            choice_scoring=ev.choice_scoring,
            pressure_turns=ev.pressure.turns,
            pressure_items=ev.pressure.max_items,
            pressure_external=ev.pressure.external,
            seed_suites=ev.seed_suites,
            sycophancy_eval=ev.external.sycophancy_eval,
            perez=ev.external.perez,
        )

    def render(self, messages) -> str:
        return prompts.render(messages, self.fmt, self.tokenizer)

    def generate(self, model, texts: list[str], max_new_tokens: int, desc: str) -> list[str]:
        """Greedy replies within the model's positions; a prompt this model already answered (the
        are_you_sure first answers are the general suite's questions) is decoded once."""
        key = f"|{max_new_tokens}|"
        new = list(dict.fromkeys(t for t in texts if key + t not in self.replies))
        said = scoring.greedy(model, self.tokenizer, new, max_new_tokens, self.batch_size, desc, self.max_positions)
        self.replies.update({key + t: r for t, r in zip(new, said)})
        return [self.replies[key + t] for t in texts]

    def coverage(self, text: str, after: int = 0) -> dict:
        """What the model reads of one prompt followed by `after` tokens."""
        return coverage(self.tokenizer, text, after, self.max_positions)


def coverage(tokenizer, text: str, after: int = 0, max_positions: int | None = None) -> dict:
    """{"tokens", "unknown", "truncated"} of a prompt followed by `after` tokens."""
    ids = encode_prompt(tokenizer, text)
    room = prompt_room(max_positions, after)
    unk = tokenizer.unk_token_id
    return {
        "tokens": len(ids),
        "unknown": ids.count(unk) if unk is not None else 0,
        "truncated": room is not None and len(ids) > room,
    }


def builtin(ctx: Context, name: str, cap: int | None = None) -> list[dict]:
    """The records of data/filtered/<name>.jsonl in the context's split: those of at most `cap` facts (default
    max_items), every fact set in its share (pinpoint.data.sample: the same items for every model, so that pairs
    pair), every variant of a fact kept."""
    path = ctx.data_dir / f"{name}.jsonl"
    recs = [r for r in schema.read(path) if r["split"] == ctx.split] if path.exists() else []
    return sample.by_fact(recs, ctx.max_items if cap is None else cap, ctx.seed)


def runner(suite: str):
    """The module that runs a suite."""
    return importlib.import_module(SUITES[suite].module)


def parts(
    suites: list[str], ctx: Context, names: tuple[str, str] = ("sycophancy_eval", "perez"), published: bool = True
):
    """(result key, suite, records) per input that has records: a suite's built-in data under its
    name, each external file under suite@file (published: False, none). Reads and checks every file (a user
    error names the culprit, `names` the params keys), so callers can run it before loading a model."""
    files = external.checked(ctx.sycophancy_eval, ctx.perez, suites, names) if published else []
    out = []
    for name in suites:
        out.append((name, name, runner(name).load(name, ctx)))
        for f in files:
            if f.suite == name or (f.suite == "are_you_sure" and name == "pressure" and ctx.pressure_external):
                out.append((f"{name}@{f.label}", name, sample.stratified(external.read(f), ctx.max_items, ctx.seed)))
    return [part for part in out if part[2]]


def run_parts(model, tokenizer, found, ctx: Context) -> list[dict]:
    """Every transcript row of one model on every part (a model's replies are shared by its suites)."""
    from dataclasses import replace

    from pinpoint.models.tokens import max_positions

    part_ctx = replace(ctx, tokenizer=tokenizer, max_positions=max_positions(model), replies={})
    rows = []
    for key, name, records in found:
        sets = {r["id"]: r.get("source") for r in records}
        for row in runner(name).run(name, model, tokenizer, records, part_ctx):
            rows.append({"suite": name, "part": key, "fact_set": fact_set_of(row["id"], sets), **row})
    return rows


def fact_set_of(row_id: str, sets: dict[str, str]) -> str | None:
    """The fact set of the record a row comes from: its id, the id before a "|" variant, or the id a fact's rows
    were grouped under (answer: the record ids less their variant)."""
    if row_id in sets:
        return sets[row_id]
    head = row_id.split("|")[0]
    if head in sets:
        return sets[head]
    return next((source for rid, source in sets.items() if rid.startswith(row_id)), None)


def transcript(name: str, dirs: list[Path], base, base_tokenizer, found, ctx: Context) -> list[dict]:
    """Every row of one model (the base, or each run of a method: its rows carry the run's name). With
    `ctx.seed_suites`, runs after the first are scored on those suites' built-in records only."""
    from pinpoint.models import checkpoints

    rows = []
    for i, directory in enumerate(dirs):
        model, tokenizer = (base, base_tokenizer) if name == "base" else checkpoints.load(directory)
        print(f"evaluating {directory}", flush=True)
        run = directory.name if len(dirs) > 1 else ""
        scored = found if i == 0 or ctx.seed_suites is None else [p for p in found if p[0] in ctx.seed_suites]
        rows += [row | {"run": run} for row in run_parts(model, tokenizer, scored, ctx)]
        checkpoints.release(model)
    return rows
