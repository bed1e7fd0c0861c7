"""The small modules every stage leans on: the manifest, the cost log, the console's tables, params errors and
the strict base (an empty section is its defaults)."""

import json

import pytest

from pinpoint import console, cost
from pinpoint.errors import ParamsError
from pinpoint.manifest import read_manifest, write_manifest
from pinpoint.params import ProbeParams
from pinpoint.params_errors import parse
from pinpoint.registry.strict import Strict


def test_a_manifest_round_trips_and_its_absence_is_named(tmp_path):
    write_manifest(tmp_path, {"kind": "organism", "b": 1, "a": [1, 2]})
    assert read_manifest(tmp_path) == {"kind": "organism", "b": 1, "a": [1, 2]}
    assert list(json.loads((tmp_path / "pinpoint.json").read_text())) == ["a", "b", "kind"]  # sorted: stable bytes
    with pytest.raises(FileNotFoundError, match="no pinpoint manifest; is .* a model directory written by pinpoint"):
        read_manifest(tmp_path / "nowhere")


def test_the_cost_record_is_machine_facts_and_the_modules_loaded():
    record = cost.record(1.234)
    assert record["seconds"] == 1.2 and record["peak_rss_mib"] > 0
    assert "pinpoint.cost" in record["modules"] and all(m.startswith("pinpoint") for m in record["modules"])


def test_tables_print_every_column_and_format_small_numbers():
    table = console.markdown_table({"a": {"x": 0.12345, "y": 0.0001}, "b": {"y": "n/a"}}, "model")
    assert table.splitlines()[0] == "| model | x | y |"
    assert "| a | 0.123 | 1.0e-04 |" in table and "| b |  | n/a |" in table


def test_a_params_error_names_the_key_path_and_the_rule():
    with pytest.raises(ParamsError, match=r"^smollm2\.probe\.samples: must be >= 1 and <= 256, got 0$"):
        parse(ProbeParams, {"samples": 0}, "smollm2.probe")
    with pytest.raises(ParamsError, match=r"^smollm2\.probe\.n\[1\]: expected an integer, got 'x'$"):
        parse(ProbeParams, {"n": [1, "x"]}, "smollm2.probe")
    with pytest.raises(ParamsError, match=r"^smollm2\.probe\.nn: unknown key; allowed: scorer, multiple_choice"):
        parse(ProbeParams, {"nn": 1}, "smollm2.probe")


def test_an_empty_section_is_its_defaults_and_nothing_is_coerced():
    class Section(Strict):
        k: int = 3

    assert Section.model_validate(None).k == 3
    with pytest.raises(ValueError):
        Section.model_validate({"k": "3"})
    with pytest.raises(ValueError):
        Section.model_validate({"k": True})
