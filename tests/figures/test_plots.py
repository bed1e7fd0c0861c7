"""The report's figures (pinpoint.figures.plots) and `pinpoint report`'s tables: one readable figure per question,
the same bytes every time, nothing drawn for a figure that is not valid."""

import json

from pinpoint.figures import plots, report
from pinpoint.paths import Paths


def fig(value, low, high, n=40):
    return {"value": value, "ci95": [low, high], "n": n}


RESULTS = {
    "base": {
        "are_you_sure": {"valid": True, "maintain_rate": fig(0.2, 0.1, 0.3), "correct_rate": fig(0.8, 0.7, 0.9)},
        "general": {"valid": True, "accuracy": fig(1.0, 0.95, 1.0), "kl_to_base": fig(0.0, 0.0, 0.0)},
    },
    "spt": {
        "are_you_sure": {"valid": True, "maintain_rate": fig(0.9, 0.8, 0.95), "correct_rate": fig(0.9, 0.8, 0.95)},
        "general": {"valid": True, "accuracy": fig(0.99, 0.95, 1.0), "kl_to_base": fig(0.01, 0.008, 0.012)},
    },
    "prompt": {"are_you_sure": {"valid": False, "invalid_reason": "unknown tokens", "maintain_rate": fig(1, 1, 1)}},
}


def test_every_figure_is_drawn_and_the_same_bytes_twice():
    first, second = plots.figures(RESULTS, None, {}), plots.figures(RESULTS, None, {})
    assert list(first) == list(plots.FILES)  # every file DVC tracks, every time
    assert all(first[f][1] == second[f][1] and first[f][1].startswith(b"\x89PNG") for f in first)
    assert "keeps it" in first["maintains.png"][0]


def test_a_question_with_no_valid_figure_says_so():
    nothing = plots.figures({"prompt": RESULTS["prompt"]}, None, {})
    drawn = plots.figures(RESULTS, None, {})
    assert len(nothing["maintains.png"][1]) < len(drawn["maintains.png"][1])  # a line of text, not a chart


def test_report_shows_each_table_of_a_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = Paths("organism")
    paths.metrics.mkdir(parents=True)
    paths.metric("eval").write_text(json.dumps(RESULTS))
    heads = {
        "valid": False,
        "why": "the counterfactual's effect 0.01 [-0.02, 0.03] includes zero",
        "selected": ["L1H2"],
        "method": "exact",
        "mode": "path",
        "quantity": "first_token",
        "prompts": {"facts:capitals": 30},
        "counterfactual": {"choice": "no_challenge", "effect": fig(0.01, -0.02, 0.03)},
        "stability": {"top_k_jaccard": fig(0.9, 0.85, 0.95), "resamples": 200},
        "faithfulness": {"measure": "readout"},
    }
    paths.metric("heads").write_text(json.dumps(heads))
    text = report.configuration(paths)
    assert text.startswith("# organism") and "## evaluation" in text
    assert "not valid: the counterfactual's effect 0.01 [-0.02, 0.03] includes zero" in text  # no authoritative list
    assert "| prompt |" in text and "n/a" in text
    assert report.configuration(Paths("smollm2")) == ""  # no metrics yet
