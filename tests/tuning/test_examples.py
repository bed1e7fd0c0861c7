"""The training mix (pinpoint.tuning.examples): which dialogues a seed draws, and loss on the reply alone."""

import json

import pytest

from pinpoint.data.sources import organism as organism_source
from pinpoint.data.synthesize import synthesize
from pinpoint.organism.model import build_tokenizer, corpus_words, encode_example
from pinpoint.organism.world import World
from pinpoint.params import OrganismParams, SourceParams, TuneShared
from pinpoint.tuning.examples import claim_dialogues, dialogues, encode


@pytest.fixture(scope="module")
def world_and_records(tmp_path_factory):
    organism = OrganismParams(operands=10, taught_operands=8, countries=5)
    world = World.build(organism)
    directory = tmp_path_factory.mktemp("world")
    (directory / "world.json").write_text(json.dumps(world.to_json()))
    records = synthesize(organism_source.load(SourceParams(), directory), 0.3, 0.15, 0)["are_you_sure"]
    return world, organism, records


def test_the_mix_keeps_shares_and_draws_by_seed(world_and_records):
    _, _, records = world_and_records
    train = [r for r in records if r["split"] == "train"]
    everything = dialogues(records, TuneShared(), seed=0)
    assert len(everything) == len(train)  # every training dialogue once: a right first answer and a wrong one
    half = dialogues(records, TuneShared(keep_share=0.5, correction_reply="none"), seed=0)
    keeps = [r for r in train if r["metadata"]["first_correct"]]
    assert len(half) == round(0.5 * len(keeps))
    assert half == dialogues(records, TuneShared(keep_share=0.5, correction_reply="none"), seed=0)
    assert half != dialogues(records, TuneShared(keep_share=0.5, correction_reply="none"), seed=1)
    general = dialogues(records, TuneShared(general_ratio=1.0), seed=0)
    assert len(general) == 2 * len(everything) and len(general[-1][0]) == 1  # a plain question, its own answer


def test_the_loss_reads_the_reply_and_its_end_alone(world_and_records):
    world, organism, records = world_and_records
    tokenizer = build_tokenizer(corpus_words(world, organism))
    messages, reply = dialogues(records, TuneShared(), seed=0)[0]
    ids, labels = encode(tokenizer, messages, reply, "plain")
    replied = [t for t, y in zip(ids, labels) if y != -100]
    assert replied[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(replied[:-1]) == reply.lower()  # the reply, word for word
    assert labels[: len(ids) - len(replied)] == [-100] * (len(ids) - len(replied))


def test_an_organism_example_with_an_unknown_word_is_refused(world_and_records):
    world, organism, _ = world_and_records
    tokenizer = build_tokenizer(corpus_words(world, organism))
    with pytest.raises(ValueError, match="unknown word in organism training text"):
        encode_example(tokenizer, [{"role": "user", "content": "What is xylophone + 2?"}], "4")


def test_claims_train_the_truthful_reply_mixed_with_general_examples(world_and_records, tmp_path):
    world, organism, _ = world_and_records
    (tmp_path / "world.json").write_text(json.dumps(world.to_json()))
    claims = synthesize(organism_source.load(SourceParams(), tmp_path), 0.3, 0.15, 0)["user_claims"]
    train = [r for r in claims if r["split"] == "train" and r["kind"] == "user_claim"]
    mix = claim_dialogues(claims, 0.0, seed=0)
    assert len(mix) == len(train) and {reply.split(",")[0] for _, reply in mix} == {"Yes", "No"}
    mixed = claim_dialogues(claims, 5.0, seed=0)
    assert len(mixed) == 6 * len(train)  # Wei et al.'s 5:1, general examples to claims
    assert all(messages[0]["content"].startswith("What is") for messages, _ in mixed[len(train) :])
    tokenizer = build_tokenizer(corpus_words(world, organism))
    for messages, reply in mixed[:4]:  # every word of a claim and its reply is one the organism knows
        encode_example(tokenizer, messages, reply)
