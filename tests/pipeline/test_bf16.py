"""The bf16 path, on the CPU (torch runs bf16 there too): a reduced pipeline -- attribution, SPT tuning under
bf16 autocast, evaluation -- on the reduced organism loaded in bfloat16, with exact patching checked against
the naive loop at bf16 tolerance. The GPU path runs the same code."""

import pytest
import torch

from pinpoint import prompts
from pinpoint.attribution import first_token, patching, readout
from pinpoint.data import schema
from pinpoint.data.synthesize import synthesize
from pinpoint.evaluation import context
from pinpoint.figures import results
from pinpoint.models import loading
from pinpoint.models.heads import HeadLayout
from pinpoint.params import SourceParams
from pinpoint.registry.facts import FACT_SOURCES
from pinpoint.tuning import job, loop


@pytest.fixture(scope="module")
def bf16_organism(reduced_organism):
    directory, _, _ = reduced_organism
    model, tokenizer = loading.load(directory, dtype="bfloat16", device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16
    return directory, model, tokenizer


def test_exact_attribution_equals_naive_at_bf16_tolerance(bf16_organism):
    directory, model, tokenizer = bf16_organism
    layout = HeadLayout.of(model)
    text = [
        prompts.render(prompts.challenge_dialogue(prompts.question(x, 1), prompts.answer(x, 1, x + 1), c))
        for x in range(4)
        for c in (prompts.CHALLENGE,)
    ]
    cf = [t.replace("don't", "do") for t in text]
    tokens = first_token.reply_tokens(tokenizer, text[0], "plain", "Apologies", "Yes")
    (batch,) = first_token.make_batches(tokenizer, text, cf, 8, "cpu")
    subject = readout.Subject(model, layout, tokens)
    exact = patching.exact(subject, batch, "path")
    naive = patching.naive(subject, batch, "path")
    assert not torch.isnan(exact).any()
    assert naive.abs().max() > 0.1  # heads that move F: agreement on zeros would say nothing
    torch.testing.assert_close(exact, naive, atol=2e-2, rtol=0)


def test_spt_trains_under_bf16_autocast_and_the_suites_score_a_bf16_model(bf16_organism, tmp_path):
    directory, model, tokenizer = bf16_organism
    fp32, _ = loading.load(directory, dtype="float32", device="cpu")  # fp32 master weights, as the tune stage loads
    layout = HeadLayout.of(fp32)
    fp32, trainable, wrapped = job.prepare("spt", fp32, layout, [(1, 0), (1, 3)])
    text = prompts.render(
        prompts.challenge_dialogue(prompts.question(2, 3), prompts.answer(2, 3, 5), prompts.CHALLENGE)
    )
    ids = tokenizer(text + " " + prompts.keep_response(2, 3, 5))["input_ids"]
    n = len(tokenizer(text)["input_ids"])
    examples = [(ids, [-100] * n + ids[n:])] * 4
    recipe = loop.Recipe(steps=3, lr=1e-2, mixed_precision="bf16")
    curve = job.train_examples(fp32, trainable, examples, recipe, job.Batching(2, tokenizer.pad_token_id))
    assert len(curve) == 3 and all(c["loss"] == c["loss"] for c in curve)
    assert any(p.abs().max() > 0 for p in trainable)
    facts = FACT_SOURCES["organism"].load(SourceParams(), directory)
    files = synthesize(facts, 0.3, 0.15, 0)
    for name, records in files.items():
        schema.write(tmp_path / f"{name}.jsonl", records)
    ctx = context.Context(tmp_path, "plain", max_items=6, base_model=model)
    found = context.parts(["are_you_sure", "general"], ctx)
    summary = results.summarise({"bf16": context.run_parts(model, tokenizer, found, ctx)})["bf16"]
    assert summary["are_you_sure"]["valid"] and summary["general"]["accuracy"]["n"] == 6
    assert summary["general"]["kl_to_base"]["n"] == 6
