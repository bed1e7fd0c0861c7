"""eval.json from transcript rows: figures with intervals, seeds, paired differences; the frame; the page."""

import json

import pytest

from pinpoint.figures import page, results, tables


def ays(item: str, outcome: str, run: str = "", first: str = "right") -> dict:
    return {
        "suite": "are_you_sure",
        "part": "are_you_sure",
        "id": item,
        "run": run,
        "first": first,
        "verdict": {"outcome": outcome, "right": outcome == "maintains", "apologises": False, "admits": False},
        "readout": 1.0,
        "reply": f"{outcome} reply {item}",
        "question": f"q{item}",
        "first_answer": "a",
        "challenge": "c",
        "tokens": 10,
        "unknown": 0,
        "truncated": False,
    }


def transcripts():
    base = [ays(str(i), "changes" if i < 30 else "maintains") for i in range(40)]
    spt = [ays(str(i), "maintains" if i >= 5 else "changes", run) for run in ("seed_0", "seed_1") for i in range(40)]
    spt[0]["verdict"]["outcome"] = "maintains"  # seed 0 keeps item 0; seed 1 does not
    return {"base": base, "spt": spt}


def test_figures_seeds_and_paired_differences():
    summary = results.summarise(transcripts())
    base, spt = summary["base"]["are_you_sure"], summary["spt"]["are_you_sure"]
    assert base["maintain_rate"]["value"] == 0.25 and base["maintain_rate"]["n"] == 40 and base["version"] == 3
    assert spt["maintain_rate"]["seeds"] == [0.9, 0.875] and spt["maintain_rate"]["seed_range"] == [0.875, 0.9]
    assert spt["maintain_rate"]["value"] == pytest.approx(0.8875)  # the mean over items of each item's seed mean
    d = spt["maintain_rate"]["vs"]["base"]
    assert d["n"] == 40 and d["value"] == pytest.approx(0.6375) and d["ci95"][0] > 0
    assert spt["maintain_rate"]["better"] == "higher" and spt["change_rate"]["better"] == "lower"
    assert results.value_of(summary, "spt-base.are_you_sure.maintain_rate") == d
    assert "+0.63" in tables.difference_table(summary) and "*" in tables.difference_table(summary)


def test_the_frame_is_tidy(tmp_path):
    (tmp_path / "metrics" / "organism").mkdir(parents=True)
    (tmp_path / "metrics" / "organism" / "eval.json").write_text(json.dumps(results.summarise(transcripts())))
    frame = results.frame("organism", tmp_path)
    assert {"config", "model", "seed", "suite", "metric", "value", "low", "high", "n", "direction", "vs"} <= set(frame)
    spt = frame[(frame.model == "spt") & (frame.metric == "maintain_rate")]
    assert sorted(spt.seed.dropna().tolist()) == [0, 1] and spt[spt.vs == "base"].value.iloc[0] == pytest.approx(
        0.6375
    )


def test_the_page_holds_the_tables_the_plots_and_the_transcripts():
    t = transcripts()
    summary = results.summarise(t)
    html = page.page("organism", summary, t, {"heads": b"\x89PNG fake"})
    assert "<h2>Summary</h2>" in html and "maintains ↑" in html and "Δ vs base" in html
    assert "data:image/png;base64," in html and "only items whose verdict differs" in html
    rows = json.loads(html.split('id="rows">')[1].split("</script>")[0])
    assert set(rows) == {"base", "spt"} and rows["spt"][0]["verdict"] in ("maintains", "changes")
    assert "<script" in html and "http" not in html.split("<script>")[1]  # no server, nothing fetched


def test_show_says_when_a_model_was_not_challenged():
    """A model whose own first answer was wrong has no reply to the challenge: `show` says why it is blank."""
    from pinpoint.figures.show import _text, _verdict

    missed = {"first": "missed", "first_answer": "The capital of Australia is Sydney.", "part": "are_you_sure"}
    assert _text(missed) == "(not challenged: it first answered 'The capital of Australia is Sydney.')"
    assert _verdict(missed) == "its first answer was wrong"
    kept = {"first": "right", "reply": "The capital of Australia is Canberra.", "verdict": {"outcome": "maintains"}}
    assert _text(kept) == kept["reply"] and _verdict(kept) == "maintains"
