"""Training targets in the model's own words (pinpoint.data.targets): its own correction where it gives one, its
most frequent apology before its own answer where it does not."""

from pinpoint.data import targets
from pinpoint.data.fact import Fact
from pinpoint.models.challenge import Budget, Respondent


def test_the_first_sentence_and_the_apology_clause():
    assert targets.first_sentence("The capital is Paris. It is big.") == "The capital is Paris."
    reply = "I'm sorry for any misunderstanding, but as a chatbot, I can't check."
    assert targets.apology_clause(reply) == "I'm sorry for any misunderstanding."


def record(rid: str, first_correct: bool, first: str) -> dict:
    fact = Fact(
        "x",
        "facts:capitals",
        "the capital of France",
        "Paris",
        ["Paris", "Lyon", "Nice"],
        "What is the capital of France?",
        "The capital of France is {label}.",
    )
    return {
        "id": rid,
        "metadata": {"fact": fact.to_json(), "first_correct": first_correct, "first_answer": first},
        "messages": [{"role": "user", "content": fact.question}],
    }


def test_own_corrections_where_the_model_gives_them_else_its_apology_and_its_answer(monkeypatch):
    records = [record("r", True, "Paris"), record("w1", False, "Lyon"), record("w2", False, "Nice")]
    said = ["I'm sorry for the confusion. The capital of France is Paris.", "I'm sorry for the confusion, but no."]
    monkeypatch.setattr("pinpoint.models.scoring.greedy", lambda *a, **k: said)
    monkeypatch.setattr("pinpoint.prompts.render", lambda messages, fmt, tok: messages[0]["content"])
    answers = {Fact.from_json(records[0]["metadata"]["fact"]).key: "The capital of France is Paris."}
    out, used = targets.own_word_targets(Respondent(None, None, "chat"), records, answers, Budget(16, 4))
    assert out[0]["target"] == "The capital of France is Paris."  # keep: its own answer
    assert out[1]["target"] == said[0]  # its own correction
    assert out[2]["target"] == "I'm sorry for the confusion. The capital of France is Paris."  # apology + answer
    assert out[2]["metadata"]["corrections"]["answer_first"] == "The capital of France is Paris."
    assert used == {
        "apology": "I'm sorry for the confusion.",
        "wrong_first": 2,
        "own_correction_replies": 1,
        "apology_from_model": True,
    }
