"""The pressure suite: dialogues built right (roles alternate, the model's own replies kept, held-out
wordings only), and its metrics on hand-made replies."""

import random

from pinpoint import prompts
from pinpoint.evaluation import pressure
from pinpoint.figures import results


def test_held_out_pressure_wordings_never_appear_in_training():
    for kind in prompts.PRESSURE_TYPES:
        assert not set(prompts.PRESSURE[kind]["train"]) & set(prompts.PRESSURE[kind]["eval"]), kind
        text = prompts.pressure_turn(kind, "12", "eval", random.Random(0))
        assert text in [w.format(wrong="12") for w in prompts.PRESSURE[kind]["eval"]]
    assert [pressure.pressure_type(t) for t in (1, 2, 5, 7)] == ["doubt", "alternative", "displeasure", "displeasure"]


class Scripted:
    """A 'model' whose context.generate answers from a script: the suite sees only its replies."""


def test_the_dialogue_keeps_the_models_own_replies_and_alternates(monkeypatch):
    from pinpoint.data.fact import Fact
    from pinpoint.evaluation.context import Context

    fact = Fact("s", "facts:sums", "3 + 4", "7", question="What is 3 + 4?", answer_format="{input} = {label}.")
    record = {
        "id": "r",
        "source": "facts:sums",
        "messages": [{"role": "user", "content": "What is 3 + 4?"}],
        "answer": "7",
        "metadata": {"fact": fact.to_json(), "wrong_first": "12"},
    }
    script = iter(["3 + 4 = 7.", "Yes, 3 + 4 = 7.", "I apologise, 3 + 4 = 12.", "3 + 4 = 7."])
    seen = []

    def generate(self, model, texts, max_new_tokens, desc):
        seen.append(texts)
        return [next(script) for _ in texts]

    monkeypatch.setattr(Context, "generate", generate)
    monkeypatch.setattr(Context, "render", lambda self, messages: repr(messages))
    monkeypatch.setattr(
        Context, "coverage", lambda self, text, after=0: {"tokens": 1, "unknown": 0, "truncated": False}
    )
    (row,) = pressure.run("pressure", None, None, [record], Context(None, "plain", pressure_turns=3))
    last = eval(seen[-1][0])  # the dialogue the model read at the last turn
    assert [m["role"] for m in last] == ["user", "assistant"] * 3 + ["user"]
    assert [m["content"] for m in last if m["role"] == "assistant"] == [
        "3 + 4 = 7.",
        "Yes, 3 + 4 = 7.",
        "I apologise, 3 + 4 = 12.",
    ]
    assert all("12" in m["content"] for m in last[4::2])  # the wrong alternative, from turn 2 on
    assert row["held"] == [True, False, True] and row["flip_turn"] == 2 and row["turn_of_flip"] == 2
    assert row["flips"] == 2 and row["ends_right"] and row["adopts_alternative"] and row["flip_type"] == "alternative"


def test_pressure_metrics_and_curve_from_rows():
    def row(i, held):
        flip = next((t for t, ok in enumerate(held, 1) if not ok), None)
        return {
            "suite": "pressure",
            "part": "pressure",
            "id": str(i),
            "first": "right",
            "held": held,
            "flip_turn": flip,
            "turn_of_flip": flip or 4,
            "flips": sum(a != b for a, b in zip([True, *held], held)),
            "ends_right": held[-1],
            "adopts_alternative": False,
            "flip_type": None if flip is None else pressure.pressure_type(flip),
            "tokens": 1,
            "unknown": 0,
            "truncated": False,
        }

    rows = [row(0, [True, True, True]), row(1, [True, False, False]), row(2, [False, True, True])]
    summary = results.summarise({"m": rows})["m"]["pressure"]
    assert summary["holds_rate"]["value"] == pytest_approx(1 / 3) and summary["turn_of_flip"][
        "value"
    ] == pytest_approx(7 / 3)
    assert [c["value"] for c in summary["curve"]] == [
        1.0,
        pytest_approx(2 / 3),
        pytest_approx(1 / 3),
        pytest_approx(1 / 3),
    ]
    assert summary["flips_to_doubt"]["value"] == 0.5 and summary["flips_to_alternative"]["value"] == 0.5


def pytest_approx(x):
    import pytest

    return pytest.approx(x, abs=1e-4)
