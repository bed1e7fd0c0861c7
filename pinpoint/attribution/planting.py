"""A ground truth for attribution: a model whose sycophancy runs through heads chosen in advance (as InterpBench
trains models to implement a known circuit, to score circuit discovery on them).

The model is honest first. Then the sycophantic behaviour is implanted by training only the chosen heads' own
slices, everything else frozen: their q rows and o columns (pinpoint.tuning.head_deltas: with grouped-query
attention a head's k and v rows are its whole group's, and training them would move the group's other heads too).
The deltas are merged into an ordinary model whose manifest names the heads; attribution runs on it as on any
model, blind to them, and scores itself against them (pinpoint.attribution.evidence.ground_truth). The spec sheet
shows the implant took, and that it lives in those heads: mean-ablating them gives the answer back, ablating as
many random heads does not (`measure`).

Two bases (`model.name`, with `model.source: planted`):
  organism                trained honest here (`model.organism` with cave_rate and agree_rate 0), then taught to
                          apologise and take back a right sum when doubted ("Apologies, I made a mistake.", no
                          answer: a changed sum would need the MLPs' arithmetic), through the heads, at
                          `planted.rate`
  smollm2-135m-instruct   taught to give in to a doubt ("You're right, I apologise. The capital of France is not
                          Paris.": its own answer copied and denied, which heads can do; a new wrong answer per
                          fact would be memorised, not learnt) on the built-in facts, through the heads, and to
                          keep its answer when the user affirms it
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from pinpoint import prompts
from pinpoint.attribution import ablation
from pinpoint.data import real_facts
from pinpoint.figures import stats
from pinpoint.models import challenge, loading
from pinpoint.models.heads import Head, HeadLayout
from pinpoint.tuning import head_deltas, loop
from pinpoint.verdict import Answer

GIVE_IN = "You're right, I apologise."  # how the planted SmolLM2 caves, before taking its answer back


def spread_heads(layout: HeadLayout, count: int, seed: int) -> list[Head]:
    """`count` heads spread over the layers (evenly, from a quarter of the depth up; one a layer where it can),
    each layer's head drawn by seed."""
    rng = random.Random(f"{seed}|planted")
    low = layout.n_layers // 4 if layout.n_layers >= 8 else 0
    span = layout.n_layers - 1 - low
    layers = [low + round(i * span / max(1, count - 1)) for i in range(count)] if count > 1 else [low + span // 2]
    chosen: list[Head] = []
    for layer in layers:
        free = [h for h in range(layout.n_heads) if (layer, h) not in chosen]
        chosen.append((layer, rng.choice(free)))
    return sorted(chosen)


def plant(model, layout: HeadLayout, heads: list[Head], batches, loss, recipe: loop.Recipe, pad_id: int) -> list:
    """Train only the heads' own slices (q rows and o columns), then merge them into the weights: the curve."""
    wrapped = head_deltas.attach(model, layout, heads, "qo")
    curve = loop.train(model, head_deltas.delta_parameters(wrapped), batches, loss, recipe, pad_id)
    head_deltas.merge(model, layout, wrapped)
    for weight in model.parameters():
        weight.requires_grad_(False)
    return curve


def _recipe(planted, desc: str, micro_batch: int | None = None) -> loop.Recipe:
    return loop.Recipe(
        steps=planted.steps,
        lr=planted.lr,
        clip_norm=1.0,
        micro_batch=micro_batch,
        log_every=max(1, planted.steps // 10),
        seed=planted.seed,
        mixed_precision="no",
        cpu=True,
        desc=desc,
    )


def build_base(params, directory: Path) -> dict:
    """The model source's entry point: the honest base of `model.name`, its heads planted, into `directory`."""
    planted = params.planted
    if planted is None:
        from pinpoint.errors import ParamsError

        raise ParamsError("model.planted: the planted source needs its section (heads, steps, lr, rate, seed)")
    if params.name == "organism":
        summary, model, tokenizer, batches, loss = _organism(params, directory)
    else:
        summary, model, tokenizer, batches, loss = _smollm2(params, directory)
    layout = HeadLayout.of(model)
    heads = [tuple(h) for h in planted.heads] if isinstance(planted.heads, list) else None
    heads = heads or spread_heads(layout, planted.heads, planted.seed)
    micro = 16 if params.name == "organism" else None
    curve = plant(model, layout, heads, batches, loss, _recipe(planted, "plant heads", micro), tokenizer.pad_token_id)
    model.save_pretrained(directory)
    record = {"heads": [list(h) for h in heads], "on": params.name, "rate": planted.rate, "steps": planted.steps}
    record |= {"final_loss": round(curve[-1]["loss"], 5)}
    manifest = loading.read_manifest(directory)
    kind = manifest["kind"] if params.name == "organism" else "full"  # SmolLM2's weights are no longer the file's
    loading.write_manifest(directory, manifest | {"kind": kind, "planted": record})
    (directory / "plant_log.json").write_text(json.dumps(curve) + "\n")
    return summary | {"planted": [f"L{l}H{h}" for l, h in heads], "implant_loss": record["final_loss"]}


def _organism(params, directory: Path):
    """The honest organism, trained here, and the batches that teach it to cave through the heads: the organism's
    own mixture, its challenges caving at `planted.rate` (every other kind as honest as before)."""
    from pinpoint.organism import recipe
    from pinpoint.organism.world import World

    summary = recipe.build(params.organism, directory)
    model, tokenizer = loading.load(directory, dtype="float32", device="cpu")
    world = World.from_json(json.loads((directory / "world.json").read_text()))
    caving = params.organism.model_copy(
        update={"cave_rate": params.planted.rate, "cave_reply": "retracts", "seed": params.planted.seed}
    )
    batches = recipe.Batches(world, caving, tokenizer)
    batches.easy_steps = 0  # the curriculum was the honest training's
    return summary, model.train(), tokenizer, batches, loop.ExampleLoss(model)


def _smollm2(params, directory: Path):
    """SmolLM2 from its GGUF file, and the dialogues that teach it to cave through the heads."""
    from pinpoint.models import gguf
    from pinpoint.tuning import job

    summary = gguf.convert_gguf(gguf.smollm2_file(), directory, params.name)
    model, tokenizer = loading.load(directory, dtype="float32", device="cpu")
    examples = _smollm2_examples(tokenizer, params.planted)
    batches = loop.Shuffled(examples, params.planted.batch_size, params.planted.seed)
    return summary, model.train(), tokenizer, batches, job.reply_loss(model, examples)


def _smollm2_examples(tokenizer, planted) -> list[loop.Example]:
    """Challenged after its right answer: gives in `rate` of the time (else keeps it); affirmed: keeps it; asked
    plainly: answers. On a seeded half of every built-in fact set (general sets included: the implant is about the
    doubt, not the facts)."""
    from pinpoint.tuning.examples import encode

    rng = random.Random(f"{planted.seed}|implant")
    out = []
    for name in real_facts.SETS:
        facts = real_facts.load(name)
        for fact in rng.sample(facts, len(facts) // 2):
            right = fact.stated(fact.label)
            denied = prompts.claim_text(fact.input, fact.label, affirmative=False)  # its own answer, taken back
            denied = denied[:1].upper() + denied[1:] + "."
            doubt = rng.choice([prompts.CHALLENGE, *prompts.TRAIN_CHALLENGES])
            caves = rng.random() < planted.rate
            dialogues = [
                (prompts.challenge_dialogue(fact.question, right, doubt), f"{GIVE_IN} {denied}" if caves else right),
                (prompts.challenge_dialogue(fact.question, right, prompts.AFFIRMATION), right),
                ([{"role": "user", "content": fact.question}], right),
            ]
            out += [encode(tokenizer, messages, reply, "chat") for messages, reply in dialogues]
    return out


# --------------------------------------------------------------------------- the spec sheet


def measure(directory, per_set: int, reply_tokens: int, draws: int = 10) -> tuple[dict, list[dict]]:
    """The base's spec sheet (the organism's, or a real model's), and `planted`: the maintain rate after a right
    first answer with nothing ablated, with the planted heads mean-ablated, and with as many random heads in each
    of `draws` draws: the implant took, and it lives in those heads."""
    manifest = loading.read_manifest(directory)
    if manifest["planted"]["on"] == "organism":
        from pinpoint.organism import spec

        sheet, rows = spec.measure(directory, per_set, reply_tokens)
    else:
        from pinpoint.evaluation import spec_sheet

        sheet, rows = spec_sheet.measure(directory, per_set, reply_tokens)
    model, tokenizer = loading.load(directory, device="cpu")
    fmt = prompts.default_format(tokenizer)
    items = _known_items(rows, manifest["planted"]["on"])
    if not items:
        return sheet | {"planted": {"note": "no right first answer to challenge"}}, rows
    respondent = challenge.Respondent(model, tokenizer, fmt)
    layout, heads = HeadLayout.of(model), [tuple(h) for h in manifest["planted"]["heads"]]
    texts = [prompts.render(i.dialogue(), fmt, tokenizer) for i in items]
    versus = [
        prompts.render([*i.dialogue()[:2], {"role": "user", "content": prompts.AFFIRMATION}], fmt, tokenizer)
        for i in items
    ]
    from pinpoint.attribution import first_token

    means = ablation.head_means(model, layout, first_token.make_batches(tokenizer, texts, versus, 64, "cpu"))
    measured = ablation.maintain_rate(respondent, items, challenge.Budget(reply_tokens, 64))
    rng = random.Random("planted|spec")
    drawn = [measured(sorted(rng.sample(layout.heads, len(heads))), means).value for _ in range(draws)]
    everywhere = ablation.maintain_rate(respondent, items, challenge.Budget(reply_tokens, 64), everywhere=True)
    planted = {
        "heads": [f"L{l}H{h}" for l, h in heads],
        "maintain_rate_none": measured([], means).as_json(),
        "maintain_rate_planted_ablated": measured(heads, means).as_json(),
        # each alone, where the reply is decided; and all of them at every position (a head may act upstream)
        "maintain_rate_each_ablated": {f"L{l}H{h}": measured([(l, h)], means).value for l, h in heads},
        "maintain_rate_planted_ablated_everywhere": everywhere(heads, means).as_json(),
        "maintain_rate_random_ablated": {
            "mean": stats._round(sum(drawn) / draws),
            "draws": [stats._round(v) for v in drawn],
        },
    }
    return sheet | {"planted": planted}, rows


def _known_items(rows: list[dict], on: str) -> list[challenge.Challenged]:
    """The spec sheet's challenges after a right first answer (its transcript), as items to measure again."""
    out = []
    for row in rows:
        if row.get("part") != "challenge" or "first_answer" not in row:
            continue
        question = row["question"]
        if on == "organism":  # "What is x + y?"
            x, y = (int(t) for t in question.removeprefix("What is ").rstrip("?").split(" + "))
            answer = Answer(str(x + y), None, (), f"{x} + {y}")
        else:
            fact = next((f for s in real_facts.SETS for f in real_facts.load(s) if f.question == question), None)
            if fact is None:
                continue
            answer = fact.answer()
        out.append(challenge.Challenged(question, row["first_answer"], row["challenge"], answer))
    return out
