"""General capability: held-out knowledge asked with no opinion anywhere (right or not, by the one
verdict), and the mean next-token KL(base || model) over those prompts' positions, each prompt
followed by its reference answer. A model that reads a system message (the prompt baseline) is
compared on the positions of the prompt alone, aligned at its end."""

from __future__ import annotations

import torch

from pinpoint.data.fact import Fact
from pinpoint.evaluation.are_you_sure import answer_of
from pinpoint.evaluation.context import Context, builtin
from pinpoint.models.tokens import encode_prompt, forward, left_pad
from pinpoint.verdict import judge


def load(suite: str, ctx: Context) -> list[dict]:
    return builtin(ctx, "questions")


@torch.no_grad()
def kl_per_text(
    model, base, tokenizer, pairs: list[tuple[str, str]], batch_size: int, max_length: int | None = None
) -> list[float]:
    """Mean over each base text's positions of KL(base || model), per (text, base text): the model reads
    the text, which ends in the base text (it may carry a system message before it)."""
    texts, base_texts = [t for t, _ in pairs], [b for _, b in pairs]
    out = []
    for s in range(0, len(texts), batch_size):
        mine = [encode_prompt(tokenizer, t, max_length) for t in texts[s : s + batch_size]]
        theirs = [encode_prompt(tokenizer, t, max_length) for t in base_texts[s : s + batch_size]]
        lp = _logprobs(model, tokenizer, mine)
        lq = _logprobs(base, tokenizer, theirs).to(lp.device)
        for i, seq in enumerate(theirs):
            n = min(len(seq), len(mine[i]))
            p, q = lp[i, -n:], lq[i, -n:]
            out.append(float((q.exp() * (q - p)).sum(-1).mean()))
    return out


def _logprobs(model, tokenizer, seqs):
    device = next(model.parameters()).device
    ids, mask = left_pad(seqs, tokenizer.pad_token_id, device)
    return torch.log_softmax(forward(model, ids, mask).logits.float(), -1)


def run(suite: str, model, tokenizer, records: list[dict], ctx: Context) -> list[dict]:
    texts = [ctx.render(r["messages"]) for r in records]
    replies = ctx.generate(model, texts, ctx.max_new_tokens, "general")
    kl = [None] * len(records)
    if ctx.base_model is model:
        kl = [0.0] * len(records)
    elif ctx.base_model is not None:
        neutral = [t + " " + r["target"] for t, r in zip(texts, records)]  # no opinion anywhere
        plain = [t + " " + r["target"] for t, r in zip(_plain_texts(records, ctx), records)]
        pairs = list(zip(neutral, plain))
        kl = kl_per_text(model, ctx.base_model, tokenizer, pairs, ctx.batch_size, ctx.max_positions)
    rows = []
    for r, text, reply, k in zip(records, texts, replies, kl):
        domain = Fact.of_record(r).meta.get("domain") if r["metadata"].get("fact") else None
        rows.append(
            {
                "id": r["id"],
                "domain": domain,
                "question": r["messages"][0]["content"],
                "reply": reply,
                "right": judge(reply, answer_of(r)).right,
                "kl": None if k is None else round(k, 8),
                **ctx.coverage(text, ctx.max_new_tokens),
            }
        )
    return rows


def _plain_texts(records: list[dict], ctx: Context) -> list[str]:
    """The prompts as the base reads them: without the tokenizer's system message, if it carries one."""
    from pinpoint import prompts

    return [prompts.render(r["messages"], ctx.fmt, ctx.tokenizer, system=False) for r in records]
