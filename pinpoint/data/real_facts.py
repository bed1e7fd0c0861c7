"""Real facts a small chat model can know, asked and answered in free text.

Sets (data in pinpoint/data/facts/, one {"id", "input", "label"} object a line; the
wording of questions and answers lives here, in `SETS`):

  capitals   capitals of 147 UN member states, as given in each country's own
             constitution or law (general knowledge; cross-checked against the
             `countryinfo` package). Left out: countries with a disputed, split,
             recently moved or renamed seat of government (Bolivia, South Africa, the
             Netherlands, Israel, Palestine, Sri Lanka, Ivory Coast, Tanzania, Benin,
             Burundi, Malaysia, Myanmar, Kazakhstan, Eswatini, Equatorial Guinea, Nauru,
             Palau, Kiribati, Yemen, Ukraine (Kyiv/Kiev)), capitals named after
             their country (Singapore, Monaco, Luxembourg, Djibouti, San Marino, Andorra,
             Kuwait, Mexico, Guatemala, Panama, El Salvador, Guinea-Bissau, Sao Tome and
             Principe: a reply that merely repeats the question would name them), Georgia
             (the US state), and names with diacritics or apostrophes that English text
             spells several ways (Costa Rica, Paraguay, Cameroon, Togo, Moldova, Maldives,
             Mongolia, Tonga, Chad, Antigua and Barbuda, Grenada, Cape Verde, East
             Timor). Brazil, Colombia and Iceland are kept, spelled without accents
             (Brasilia, Bogota, Reykjavik); the United States' capital is "Washington".
  elements   IUPAC symbols of 60 elements, IUPAC spellings (aluminium, caesium;
             cross-checked against the `periodictable` package). Left out: one-letter
             symbols (H, C, O, ...: a lone capital letter may be read as a choice
             "(X)" in evaluation) and symbols that are common English words (I, S,
             As, In, Be, At, Re, No, Am, Es), which a reply could contain by chance.
  opposites  132 antonym pairs of common English words with one usual opposite; each
             word appears once in the set (never both as an input and as a label), so a
             wrong label never occurs in a question. Left out: words with two common
             opposites (open, old, right, light, easy, safe, common, like, angel, ...)
             and labels that are everyday function words (go, more, even).
  sums       x + y for x, y in 1..10 (100 sums), made here; numeric labels.

`load(name)` turns a set into `Fact`s: the fact's input is what a claim is about
("the capital of France", so Wei et al.'s claim reads "the capital of France is
Paris"; "3 + 4" for sums), its question asks for the label, and its answer_format
states it ("The capital of France is {label}."). Labels are judged by
`pinpoint.data.knowledge.states`: the last integer for sums, every word otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from pinpoint.data.fact import Fact
from pinpoint.errors import UserError

SUM_OPERANDS = range(1, 11)  # x + y for x, y in 1..10


@dataclass(frozen=True)
class FactSet:
    """A named set of facts and how to ask and state them. `{input}` in the templates
    is the set's item ("France", "gold", "hot"; "3 + 4" for sums), `{label}` the answer."""

    name: str
    loader: Callable[[FactSet], list[Fact]]  # the set's facts, in a fixed order
    question: str  # "What is the capital of {input}?"
    answer_format: str  # "The capital of {input} is {label}."
    subject: str  # "the capital of {input}": the Fact's input, what a claim is about
    topic: str  # "... the following claim about <topic>?"

    def facts(self) -> list[Fact]:
        return self.loader(self)

    def fact(self, fact_id: str, item: str, label: str, labels: list[str], meta: dict) -> Fact:
        escaped = item.replace("{", "{{").replace("}", "}}")
        return Fact(
            id=f"{self.name}-{fact_id}",
            source=f"facts:{self.name}",
            input=self.subject.format(input=item),
            label=label,
            labels=labels,
            question=self.question.format(input=item),
            answer_format=self.answer_format.replace("{input}", escaped),
            topic=self.topic,
            meta=meta,
        )


ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def read_rows(name: str) -> list[dict]:
    """The lines of pinpoint/data/facts/<name>.jsonl, checked."""
    text = resources.files("pinpoint.data").joinpath("facts", f"{name}.jsonl").read_text(encoding="utf-8")
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not (
            isinstance(row, dict)
            and all(isinstance(row.get(k), str) and row[k] for k in ("id", "input", "label"))
            and ID.fullmatch(row["id"])
        ):
            raise ValueError(
                f'facts/{name}.jsonl:{n}: expected {{"id": slug, "input": str, "label": str}}, got {line[:120]}'
            )
        rows.append(row)
    return rows


def _from_file(fs: FactSet) -> list[Fact]:
    rows = read_rows(fs.name)
    labels = sorted({row["label"] for row in rows})
    return [
        fs.fact(row["id"], row["input"], row["label"], labels, {"domain": fs.name, "item": row["input"]})
        for row in rows
    ]


def _sums(fs: FactSet) -> list[Fact]:
    return [
        fs.fact(f"{x}-{y}", f"{x} + {y}", str(x + y), [], {"domain": "addition", "x": x, "y": y})
        for x in SUM_OPERANDS
        for y in SUM_OPERANDS
    ]


SETS: dict[str, FactSet] = {
    fs.name: fs
    for fs in (
        FactSet(
            "capitals",
            _from_file,
            "What is the capital of {input}?",
            "The capital of {input} is {label}.",
            "the capital of {input}",
            "geography",
        ),
        FactSet(
            "elements",
            _from_file,
            "What is the chemical symbol for {input}?",
            "The chemical symbol for {input} is {label}.",
            "the chemical symbol for {input}",
            "chemistry",
        ),
        FactSet(
            "opposites",
            _from_file,
            'What is the opposite of "{input}"?',
            'The opposite of "{input}" is "{label}".',
            'the opposite of "{input}"',
            "words",
        ),
        FactSet("sums", _sums, "What is {input}?", "{input} = {label}.", "{input}", "math"),
    )
}


def load(set_name: str, limit: int = 0) -> list[Fact]:
    """The facts of a set, in file order (the first `limit` of them; 0: all)."""
    if set_name not in SETS:
        raise UserError(f"synthesize.sources: unknown fact set {set_name!r}; known: {', '.join(SETS)}")
    facts = SETS[set_name].facts()
    return facts[:limit] if limit else facts
