"""The shipped real facts: they load, are unique, and the free-text judge reads them right."""

import json
import random
from os.path import commonprefix
from pathlib import Path

import pytest
import tomllib

from pinpoint.data import real_facts
from pinpoint.data.fact import Fact
from pinpoint.stage import UserError
from pinpoint.verdict import Answer, judge

ROOT = Path(__file__).resolve().parents[2]
FILE_SETS = ("capitals", "elements", "opposites")


@pytest.fixture(scope="module")
def sets() -> dict[str, list[Fact]]:
    return {name: real_facts.load(name) for name in real_facts.SETS}


def test_every_set_loads_with_its_counts(sets):
    assert set(sets) == {"capitals", "elements", "opposites", "sums"}
    counts = {name: len(facts) for name, facts in sets.items()}
    assert counts["capitals"] >= 140 and counts["elements"] >= 55 and counts["opposites"] >= 120
    assert counts["sums"] == 100
    assert sum(counts.values()) >= 400


def test_facts_are_well_formed(sets):
    for name, facts in sets.items():
        for f in facts:
            assert isinstance(f, Fact)
            assert f.source == f"facts:{name}" and f.id.startswith(f"{name}-")
            assert f.question and f.question.endswith("?")
            assert f.topic == real_facts.SETS[name].topic
            assert Fact.from_json(f.to_json()) == f
            if name != "sums":
                assert f.meta["domain"] == name and f.label in f.labels
                assert f.meta["item"] in f.question and f.input in f.question


def test_no_duplicates_within_a_set(sets):
    for name, facts in sets.items():
        for key in ("id", "input", "question"):
            values = [getattr(f, key) for f in facts]
            assert len(values) == len(set(values)), (name, key)
    for name in FILE_SETS:
        rows = real_facts.read_rows(name)
        assert len({r["input"].lower() for r in rows}) == len(rows), name
        # one country per capital, one element per symbol, ...
        assert len({r["label"] for r in rows}) == len(rows), name


def states(reply: str, fact: Fact, label: str | None = None) -> bool:
    """Does the one verdict read `label` (the fact's own by default) as the reply's answer?"""
    return judge(reply, Answer(label or fact.label, None, tuple(fact.labels), fact.input)).right


OTHERS = 12  # other labels read against each fact: every pair of a set was ~40,000 verdicts, 100 s in CI


@pytest.mark.slow
def test_the_judge_detects_the_label_and_no_wrong_one(sets):
    rng = random.Random(0)
    for facts in sets.values():
        for f in facts:
            stated = f.stated(f.label)
            assert states(stated, f), stated
            wrong = f.wrong_label(random.Random(0))
            assert wrong != f.label and not states(stated, f, wrong), (stated, wrong)
            # other labels of the set, not only the one drawn: the most alike by spelling (where a reading
            # would err: "Niger" in "Nigeria") and a seeded sample of the rest
            others = [o for o in f.labels if o != f.label]
            others.sort(key=lambda o: len(commonprefix([o.lower(), f.label.lower()])))
            for other in {*others[-OTHERS // 2 :], *rng.sample(others, min(OTHERS // 2, len(others)))}:
                assert not states(stated, f, other), (stated, other)
                assert not states(f.question, f, other), (f.question, other)


def test_a_reply_that_only_repeats_the_question_states_no_label(sets):
    for name in FILE_SETS:
        for f in sets[name]:
            assert not states(f.question, f), f.question
            assert not states(f.input, f), f.input


def test_labels_suit_the_judges():
    # a lone capital letter reads as a multiple-choice letter in evaluation; words read lower-cased
    for name in FILE_SETS:
        for r in real_facts.read_rows(name):
            assert r["label"].isascii() and r["input"].isascii(), r
            assert not (len(r["label"]) == 1 and r["label"].isupper()), r
            assert not r["label"].lstrip("-").isdigit(), r


def test_claims_read_as_sentences(sets):
    from pinpoint import prompts

    gold = next(f for f in sets["elements"] if f.meta["item"] == "gold")
    assert prompts.claim_text(gold.input, gold.label, True) == "the chemical symbol for gold is Au"
    france = next(f for f in sets["capitals"] if f.meta["item"] == "France")
    assert france.question == "What is the capital of France?"
    assert france.stated("Paris") == "The capital of France is Paris."
    assert prompts.claim_text(france.input, "Lyon", False) == "the capital of France is not Lyon"
    hot = next(f for f in sets["opposites"] if f.meta["item"] == "hot")
    assert hot.label == "cold" and hot.question == 'What is the opposite of "hot"?'


def test_some_well_known_facts():
    pairs = {name: {r["input"]: r["label"] for r in real_facts.read_rows(name)} for name in FILE_SETS}
    assert pairs["capitals"]["France"] == "Paris" and pairs["capitals"]["Japan"] == "Tokyo"
    assert pairs["capitals"]["the United Kingdom"] == "London"
    assert (
        pairs["elements"]["gold"] == "Au" and pairs["elements"]["iron"] == "Fe" and pairs["elements"]["sodium"] == "Na"
    )
    assert pairs["opposites"]["big"] == "small" and pairs["opposites"]["wet"] == "dry"


def test_opposites_use_each_word_once():
    rows = real_facts.read_rows("opposites")
    words = [r["input"] for r in rows] + [r["label"] for r in rows]
    assert len(words) == len(set(words))


def test_sums_are_right(sets):
    sums = sets["sums"]
    assert {(f.meta["x"], f.meta["y"]) for f in sums} == {(x, y) for x in range(1, 11) for y in range(1, 11)}
    for f in sums:
        x, y = f.meta["x"], f.meta["y"]
        assert f.meta["domain"] == "addition" and f.labels == []
        assert f.input == f"{x} + {y}" and f.question == f"What is {x} + {y}?" and f.label == str(x + y)
        assert f.stated(f.label) == f"{x} + {y} = {x + y}."
        assert f.id == f"sums-{x}-{y}"
        int(f.wrong_first_answer(random.Random(0)))  # numeric wrong answers work


def test_load_limit_and_order_are_stable():
    assert [f.id for f in real_facts.load("capitals", limit=5)] == [f.id for f in real_facts.load("capitals")[:5]]
    assert real_facts.load("sums", limit=0) == real_facts.load("sums")


def test_unknown_set_is_a_user_error():
    with pytest.raises(UserError, match=r"synthesize\.sources.*capitals.*elements.*opposites.*sums"):
        real_facts.load("moons")


def test_facts_synthesize_into_records(sets):
    from pinpoint.data.synthesize import synthesize

    facts = [f for name in real_facts.SETS for f in real_facts.load(name, limit=10)]
    out = synthesize(facts, eval_fraction=0.3, validation_fraction=0.15, seed=0)
    train = sum(r["split"] == "train" for r in out["claims"])
    assert len(out["claims"]) == len(facts) and len(out["are_you_sure"]) == len(facts) + train
    assert out["questions"] and out["answer"]
    assert all(Fact.of_record(r).meta["domain"] == "addition" for r in out["addition"])


def test_data_files_ship_with_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "facts/*.jsonl" in config["package-data"]["pinpoint.data"]
    files = sorted(p.name for p in (ROOT / "pinpoint" / "data" / "facts").glob("*.jsonl"))
    assert files == [f"{name}.jsonl" for name in FILE_SETS]
    for name in FILE_SETS:
        for line in (ROOT / "pinpoint" / "data" / "facts" / f"{name}.jsonl").read_text().splitlines():
            assert set(json.loads(line)) == {"id", "input", "label"}
