"""Mean ablation: the test of whether heads carry the behaviour. Where the reply is decided -- the prompt's last
position, where attribution patches them too; never the prompt before it, nor the reply's later tokens
(pinpoint.models.shared_prefix.at_prompt_end) -- a head's output (its slice of the o-projection input) is replaced
by its mean over the attribution prompts' counterfactuals: what the head says there where the user expressed no
doubt. Heads that carry the doubt to the reply give the answer back; heads that do something else everywhere
(reading the question, copying the answer into the reply) are left to do it, so that ablating them measures what
they add to the decision, not what breaking them breaks. The behaviour is then measured
on held-out challenges: the maintain rate of the replies (judged as every reply is, pinpoint.models.challenge), or,
where a generation per measurement costs too much, the detector-free readout (a forward pass)."""

from __future__ import annotations

from contextlib import contextmanager

import torch

from pinpoint import prompts
from pinpoint.attribution import counterfactual, readout
from pinpoint.figures import stats
from pinpoint.models import challenge, scoring, shared_prefix
from pinpoint.models.heads import HeadLayout
from pinpoint.models.hooks import Hook, hooks


@torch.no_grad()
def head_means(model, layout: HeadLayout, batches, tokens=(0, 0)) -> list[torch.Tensor]:
    """Mean output of every head at the final position of the counterfactual prompts: per layer (H*hd,). The reply
    is decided at the final position; a mean over challenges would still carry the challenge (half of it, over
    challenges and counterfactuals alike)."""
    sums, count = [0.0] * layout.n_layers, 0
    for batch in batches:
        for ids, mask in ((batch.cf_ids, batch.cf_mask),):
            cap = readout.capture(model, layout, ids, mask, tokens)
            sums = [s + z.sum(0) for s, z in zip(sums, cap.o_in)]
            count += ids.shape[0]
    return [s / count for s in sums]


@contextmanager
def mean_ablated(model, layout: HeadLayout, heads: list[tuple[int, int]], means: list[torch.Tensor], everywhere=False):
    """Within the block, the given heads output their mean at the prompt's last position (everywhere: at every
    position of every forward pass)."""
    by_layer: dict[int, list[int]] = {}
    for l, h in heads:
        by_layer.setdefault(l, []).extend(layout.o_index(h))

    def make_hooks(column: int | None) -> list[Hook]:
        done: set[int] = set()  # the first forward pass after the prompt only: generation's later steps run free

        def ablate(m, a, l, cols, mean):
            if column is not None:
                if l in done:
                    return None
                done.add(l)
            z = a[0].clone()
            where = (..., cols) if column is None else (slice(None), column, cols)
            z[where] = mean.to(z.dtype)
            return (z, *a[1:])

        return [
            Hook(
                model.get_submodule(layout.module_name(l, "o")),
                lambda m, a, l=l, cols=cols: ablate(m, a, l, cols, means[l][cols]),
            )
            for l, cols in by_layer.items()
        ]

    with hooks(*make_hooks(None)) if everywhere else shared_prefix.at_prompt_end(make_hooks):
        yield


def maintain_rate(
    respondent: challenge.Respondent, items: list[challenge.Challenged], budget: challenge.Budget, everywhere=False
):
    """measure(heads) -> the maintain rate of the replies to `items` with those heads mean-ablated (means: given
    at the call, see `behaviour`; everywhere: at every position): a generation per call."""

    def measure(heads, means) -> stats.Figure:
        with mean_ablated(respondent.model, HeadLayout.of(respondent.model), heads, means, everywhere):
            judged = challenge.judged(items, challenge.replies(respondent, items, budget))
        return stats.rate([v.outcome == "maintains" for v in judged])

    return measure


def readout_margin(respondent: challenge.Respondent, items: list[challenge.Challenged], records: list[dict], budget):
    """measure(heads) -> the detector-free readout with those heads mean-ablated: per item, log p(the model
    restating its own right answer) - log p(the same sentence with the wrong answer), after the challenge; the
    mean over items with its interval. A forward pass per call, no generation (items whose own sentence does not
    name the answer verbatim are left out)."""
    from pinpoint.data.targets import first_sentence
    from pinpoint.evaluation.are_you_sure import swapped, wrong_of

    model, tokenizer, fmt = respondent.model, respondent.tokenizer, respondent.fmt
    texts, completions = [], []
    for item, record in zip(items, records):
        own = first_sentence(item.first_answer)
        alt = swapped(own, record["answer"], wrong_of(record)) if wrong_of(record) else None
        if alt and alt != own:
            text = prompts.render(item.dialogue(), fmt, tokenizer)
            texts += [text, text]
            completions += [prompts.reply_text(own, fmt), prompts.reply_text(alt, fmt)]

    def measure(heads, means) -> stats.Figure:
        with mean_ablated(model, HeadLayout.of(model), heads, means):
            scores = scoring.completion_logprobs(model, tokenizer, texts, completions, budget.batch_size)
        return stats.mean([a - b for a, b in zip(scores[::2], scores[1::2])])

    return measure


BEHAVIOURS = ("maintain", "readout")  # what an ablation is measured on (attribute.evidence.measure)


def behaviour(kind: str, respondent, records: list[dict], wording: str | None, budget, means):
    """measure(heads) -> stats.Figure (higher: less sycophantic) of `kind` on the challenges of `records` (in
    `wording`, or each record's own held-out one), those heads mean-ablated with `means`."""
    items = counterfactual.items(records, wording)
    if kind == "maintain":
        inner = maintain_rate(respondent, items, budget)
    else:
        inner = readout_margin(respondent, items, records, budget)
    return lambda heads: inner(heads, means)
