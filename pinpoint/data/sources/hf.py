"""Hugging Face `datasets` tasks by name (Wei et al.'s, with natural-language label names), from the hub or
from local copies (`data_files`)."""

from __future__ import annotations

from pathlib import Path

from pinpoint.data.fact import Fact
from pinpoint.errors import UserError
from pinpoint.registry.facts import FactSource

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


def load(src, model_dir: Path) -> list[Fact]:
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


SOURCE = FactSource("hf", load, "a Hugging Face task by name", needs_task=True)
