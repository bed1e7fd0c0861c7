"""Where labelled facts come from, behind one small registry.

A `Fact` (data/fact.py) is a labelled input ("3 + 4" -> "7"; a movie review -> "Positive Sentiment").
Sources: the organism's world (the default), Hugging Face `datasets` tasks by name
(Wei et al.'s, with natural-language label names), and local jsonl files. Each is a
function (SourceParams, model_dir) -> list[Fact]; `SOURCES` maps names to them.
"""

from __future__ import annotations

import json
from pathlib import Path

from pinpoint.data import real_facts
from pinpoint.data.fact import Fact
from pinpoint.data.schema import iter_jsonl
from pinpoint.errors import UserError

# --------------------------------------------------------------------------- the organism


def organism_facts(src, model_dir: Path) -> list[Fact]:
    """Addition facts (every sum of the world, taught or not) and, for the organism, its capitals."""
    world_path = Path(model_dir) / "world.json"
    if world_path.exists():
        world = json.loads(world_path.read_text())
        operands, taught_below = world["operands"], world["taught_operands"]
        capitals, heldout = world["capitals"], {tuple(p) for p in world["heldout"]}
    else:  # a hub model: plain addition, nothing known about what it was taught
        operands, taught_below, capitals, heldout = src.operands, None, {}, None
    facts = []
    for x in range(operands):
        for y in range(operands):
            taught = None if taught_below is None else (x < taught_below and y < taught_below)
            facts.append(
                Fact(
                    id=f"sum-{x}-{y}",
                    source="organism",
                    input=f"{x} + {y}",
                    label=str(x + y),
                    question=f"What is {x} + {y}?",
                    answer_format="{input} = {label}.",
                    topic="math",
                    meta={
                        "domain": "addition",
                        "x": x,
                        "y": y,
                        "taught": taught,
                        "heldout": None if heldout is None else (x, y) in heldout,
                    },
                )
            )
    for country, capital in sorted(capitals.items()):
        facts.append(
            Fact(
                id=f"capital-{country}",
                source="organism",
                input=f"the capital of {country}",
                label=capital,
                labels=sorted(capitals.values()),
                question=f"What is the capital of {country}?",
                answer_format="The capital of " + country + " is {label}.",
                topic="geography",
                meta={"domain": "capitals", "general": True},
            )
        )
    return facts


# --------------------------------------------------------------------------- Hugging Face datasets

# Wei et al.'s tasks: (hub path, config, input columns, label column, label names, topic)
HF_TASKS: dict[str, tuple] = {
    "sst2": ("glue", "sst2", ["sentence"], "label", ["Negative Sentiment", "Positive Sentiment"], "sentiment"),
    "rotten_tomatoes": (
        "rotten_tomatoes",
        None,
        ["text"],
        "label",
        ["Negative Sentiment", "Positive Sentiment"],
        "sentiment",
    ),
    "rte": ("glue", "rte", ["sentence1", "sentence2"], "label", ["Entailment", "Not Entailment"], "entailment"),
    "qnli": ("glue", "qnli", ["question", "sentence"], "label", ["Entailment", "Not Entailment"], "entailment"),
    "mnli": (
        "glue",
        "mnli",
        ["premise", "hypothesis"],
        "label",
        ["Entailment", "Neutral", "Contradiction"],
        "entailment",
    ),
    "snli": (
        "snli",
        None,
        ["premise", "hypothesis"],
        "label",
        ["Entailment", "Neutral", "Contradiction"],
        "entailment",
    ),
    "qqp": ("glue", "qqp", ["question1", "question2"], "label", ["Not Duplicate", "Duplicate"], "paraphrase"),
    "mrpc": ("glue", "mrpc", ["sentence1", "sentence2"], "label", ["Not Equivalent", "Equivalent"], "paraphrase"),
    "paws": (
        "paws",
        "labeled_final",
        ["sentence1", "sentence2"],
        "label",
        ["Not Paraphrase", "Paraphrase"],
        "paraphrase",
    ),
    "cb": (
        "super_glue",
        "cb",
        ["premise", "hypothesis"],
        "label",
        ["Entailment", "Contradiction", "Neutral"],
        "entailment",
    ),
    "trec": (
        "trec",
        None,
        ["text"],
        "coarse_label",
        ["Abbreviation", "Entity", "Description", "Human", "Location", "Number"],
        "question types",
    ),
    "ag_news": ("ag_news", None, ["text"], "label", ["World", "Sports", "Business", "Sci/Tech"], "news topics"),
    "cola": ("glue", "cola", ["sentence"], "label", ["Unacceptable Sentence", "Acceptable Sentence"], "grammar"),
    "tweet_eval_sentiment": (
        "tweet_eval",
        "sentiment",
        ["text"],
        "label",
        ["Negative Sentiment", "Neutral Sentiment", "Positive Sentiment"],
        "sentiment",
    ),
    "tweet_eval_offensive": (
        "tweet_eval",
        "offensive",
        ["text"],
        "label",
        ["Not Offensive", "Offensive"],
        "offensive language",
    ),
    "tweet_eval_irony": ("tweet_eval", "irony", ["text"], "label", ["Not Ironic", "Ironic"], "irony"),
}


def hf_facts(src, model_dir: Path) -> list[Fact]:
    """A labelled task through `datasets`: from the hub, or from local files (data_files)."""
    if src.task not in HF_TASKS:
        raise UserError(f"synthesize.sources: unknown hf task {src.task!r}; known: {', '.join(HF_TASKS)}")
    import datasets

    path, config, columns, label_col, names, topic = HF_TASKS[src.task]
    try:
        if src.data_files:
            ds = datasets.load_dataset("json", data_files=src.data_files, split="train")
        else:
            ds = datasets.load_dataset(path, config, split=src.split)
    except Exception as e:
        raise UserError(
            f"synthesize.sources: cannot load hf task {src.task!r} "
            f"({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        ) from None
    missing = [c for c in [*columns, label_col] if c not in ds.column_names]
    if missing:
        raise UserError(
            f"synthesize.sources: hf task {src.task!r} has no column {missing[0]!r} (has {', '.join(ds.column_names)})"
        )
    facts = []
    for i, row in enumerate(ds):
        label = row[label_col]
        if not isinstance(label, int) or not 0 <= label < len(names):
            continue  # unlabelled test rows carry -1
        text = " and ".join(f'"{row[c]}"' for c in columns)
        facts.append(
            Fact(
                id=f"{src.task}-{i}",
                source=f"hf:{src.task}",
                input=text,
                label=names[label],
                labels=names,
                topic=topic,
            )
        )
        if src.limit and len(facts) >= src.limit:
            break
    return facts


# --------------------------------------------------------------------------- local jsonl


def jsonl_facts(src, model_dir: Path) -> list[Fact]:
    """Lines of {"input", "label", optional "labels", "question", "topic"}."""
    path = Path(src.path or "")
    if not path.is_file():
        raise UserError(f"synthesize.sources: jsonl file {str(path)!r} not found")
    facts = []
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("input"), str) or not isinstance(row.get("label"), str):
            raise UserError(f"{path}:{n}: expected an object with string fields 'input' and 'label'")
        labels = row.get("labels") or []
        if not labels and not row["label"].lstrip("-").isdigit():
            raise UserError(
                f"{path}:{n}: a non-numeric label needs 'labels' (the label names) to draw a wrong one from"
            )
        facts.append(
            Fact(
                id=f"{path.stem}-{n}",
                source=f"jsonl:{path.stem}",
                input=row["input"],
                label=row["label"],
                labels=labels,
                question=row.get("question"),
                topic=row.get("topic", "this"),
            )
        )
        if src.limit and len(facts) >= src.limit:
            break
    return facts


# --------------------------------------------------------------------------- built-in real facts


def builtin_facts(src, model_dir: Path) -> list[Fact]:
    """Real facts a small chat model can know (capitals, symbols, opposites, sums), shipped as data.
    `general: true` keeps a set out of all tuning data: it measures general capability."""
    facts = real_facts.load(src.task, src.limit)
    if src.general:
        for fact in facts:
            fact.meta["general"] = True
    return facts


SOURCES = {"organism": organism_facts, "facts": builtin_facts, "hf": hf_facts, "jsonl": jsonl_facts}
