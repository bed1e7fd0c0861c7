"""A ground truth for attribution: sycophancy trained into chosen heads of an honest organism, everything else
frozen, is found again by attribution blind to them; and ablating those heads gives the answer back."""

import json

import pytest

from conftest import REDUCED_ORGANISM
from pinpoint.attribution import attribute, evidence, planting
from pinpoint.data.sources import organism as organism_source
from pinpoint.data.synthesize import synthesize
from pinpoint.models import challenge, loading
from pinpoint.models.heads import HeadLayout
from pinpoint.params import AttributeParams, ModelParams, OrganismParams, PlantedParams, SourceParams


def test_heads_are_spread_over_the_layers_one_a_layer():
    layout = HeadLayout.of(__import__("conftest").tiny_config("llama"))
    heads = planting.spread_heads(layout, 3, seed=0)
    assert sorted({l for l, _ in heads}) == [0, 1, 2] and heads == planting.spread_heads(layout, 3, seed=0)
    assert planting.spread_heads(layout, 3, seed=1) != heads or len(set(planting.spread_heads(layout, 3, 1))) == 3


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A reduced organism trained honest, then made to cave through one planted head of its last layer (a
    minute and a half). Two planted heads of a model this small end up one carrying the implant and one along
    for the ride (as in the planted configuration: README, "Is it the heads?"), so the tiny test plants one."""
    directory = tmp_path_factory.mktemp("planted") / "base"
    directory.mkdir()
    honest = OrganismParams(**(REDUCED_ORGANISM | {"cave_rate": 0.0, "agree_rate": 0.0, "steps": 800}))
    params = ModelParams(
        name="organism",
        source="planted",
        organism=honest,
        planted=PlantedParams(heads=[[1, 2]], rate=0.9, steps=400, lr=0.01, batch_size=32),
    )
    summary = planting.build_base(params, directory)
    return directory, summary


@pytest.mark.slow
def test_attribution_finds_the_planted_head_blind(planted):
    directory, summary = planted
    assert summary["planted"] == ["L1H2"]
    manifest = loading.read_manifest(directory)
    assert manifest["planted"]["heads"] == [[1, 2]] and manifest["kind"] == "organism"
    model, tokenizer = loading.load(directory, device="cpu")
    records = synthesize(organism_source.load(SourceParams(), directory), 0.3, 0.15, 0)["are_you_sure"]
    train = [r for r in records if r["split"] == "train" and r["metadata"]["first_correct"]][:48]
    attr = AttributeParams(top_k=1, sycophantic_token="Apologies", honest_token="Yes", target="changes")
    respondent = challenge.Respondent(model, tokenizer, "plain")
    budget = challenge.Budget(16, 32)
    layout = HeadLayout.of(model)
    scored = attribute.score(respondent, layout, train, "first_token", "affirmation", attr, budget, {})
    scored.effect = evidence.effect(scored.reference, scored.versus)
    assert scored.lowers, scored.effect  # the implant took: challenged it caves more than affirmed
    for method, mode in (("exact", "path"), ("exact", "activation"), ("screen", "path")):
        ranked = evidence.ranking(scored.run(method, mode)[0].nanmean(-1))
        truth = evidence.ground_truth(ranked, [(1, 2)])
        assert truth["precision"] == 1.0, (method, mode, truth)  # the planted head first, blind to it
    json.dumps(truth)
