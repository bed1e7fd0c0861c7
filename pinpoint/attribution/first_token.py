"""The first-token quantity F = p(sycophantic) / (p(sycophantic) + p(honest)) on the reply's first token (SPT's):
the token pair read off the model's own replies to the challenge, the prompts as batches, F per prompt, and every
head's score by path or activation patching (pinpoint.attribution.patching), per prompt.

The pair separates the outcome that matters from keeping the answer: replies that give up the answer (changes)
against replies that maintain it, or, where the model almost never changes its answer, replies that evade it
(no_answer), which heads.json then says."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from pinpoint.attribution import patching, readout
from pinpoint.data.fact import Fact
from pinpoint.models import challenge, scoring
from pinpoint.models.tokens import encode_prompt, first_reply_token, left_pad
from pinpoint.verdict import judge

RARE = 0.1  # target auto: below this share of changed answers, rank evasions instead


def choose_target(verdicts, target: str) -> tuple[str, str]:
    """(the outcome F ranks against keeping the answer, why)."""
    changed = sum(v.outcome == "changes" for v in verdicts)
    if target != "auto":
        return target, "attribute.target"
    if changed >= max(3, RARE * len(verdicts)):
        return "changes", f"{changed} of {len(verdicts)} replies give up the answer"
    return "no_answer", (
        f"the model almost never gives up its answer ({changed} of {len(verdicts)} replies change it): "
        "F ranks evading it (no answer) against keeping it instead"
    )


def auto_reply_tokens(
    model, tokenizer, records: list[dict], challenged: list[str], budget: challenge.Budget, target: str = "auto"
):
    """The first-token pair that best separates the model's own replies to the challenge with the
    target outcome (sycophantic) from those that maintain the answer (honest), judged by the verdict.

    Returns ((sycophantic id, honest id), a record of how they were chosen), or raises ValueError
    when the replies do not split."""
    replies = scoring.greedy(
        model,
        tokenizer,
        challenged,
        budget.max_new_tokens,
        budget.batch_size,
        "attribute: own replies",
        budget.max_length,
    )
    verdicts = [judge(r, Fact.of_record(rec).answer()) for r, rec in zip(replies, records)]
    outcome, why = choose_target(verdicts, target)
    first = [_first_token(tokenizer, text, reply) for text, reply in zip(challenged, replies)]
    group = [True if v.outcome == outcome else False if v.outcome == "maintains" else None for v in verdicts]
    n_syc, n_honest = group.count(True), group.count(False)
    if not n_syc or not n_honest:
        raise ValueError(
            f"of the model's {len(replies)} replies to the challenge {n_syc} are {outcome} and {n_honest} maintain "
            "the answer: no reply-token pair to read off; set sycophantic_token and honest_token explicitly"
        )

    def share(token, side):
        return sum(t == token and g is side for t, g in zip(first, group)) / (n_syc if side else n_honest)

    candidates = set(first)
    sycophantic = max(candidates, key=lambda t: (share(t, True) - share(t, False), -t))
    honest = max(candidates - {sycophantic}, key=lambda t: (share(t, False) - share(t, True), -t))
    chosen = {
        "target": outcome,
        "why": why,
        "sycophantic_token": tokenizer.decode([sycophantic]),
        "honest_token": tokenizer.decode([honest]),
        "replies": len(replies),
        "replies_by_outcome": {
            o: sum(v.outcome == o for v in verdicts) for o in ("maintains", "changes", "no_answer")
        },
        "sycophantic_share_target": round(share(sycophantic, True), 4),
        "sycophantic_share_maintaining": round(share(sycophantic, False), 4),
        "honest_share_maintaining": round(share(honest, False), 4),
        "honest_share_target": round(share(honest, True), 4),
    }
    return (sycophantic, honest), chosen


def _first_token(tokenizer, prompt: str, reply: str) -> int:
    """The reply's first token as it follows the prompt (the greedy reply's own first token)."""
    head = encode_prompt(tokenizer, prompt)
    full = encode_prompt(tokenizer, prompt + reply)
    return full[len(head)] if len(full) > len(head) else tokenizer.eos_token_id


@torch.no_grad()
def fractions(model, batches, tokens) -> tuple[torch.Tensor, torch.Tensor]:
    """F per prompt on the reference and on the counterfactual prompts: ((P,), (P,))."""
    ref, cf = [], []
    for b in batches:
        ref.append(readout.sycophancy_fraction(readout.forward_final(model, b.ref_ids, b.ref_mask, tokens)).cpu())
        cf.append(readout.sycophancy_fraction(readout.forward_final(model, b.cf_ids, b.cf_mask, tokens)).cpu())
    return torch.cat(ref), torch.cat(cf)


def make_batches(
    tokenizer, challenged: list[str], counterfactual: list[str], batch_size: int, device
) -> list[readout.Batch]:
    """The reference and counterfactual prompts, tokenised and left-padded, `batch_size` of each per batch."""
    out = []
    for s in range(0, len(challenged), batch_size):
        r = [encode_prompt(tokenizer, t) for t in challenged[s : s + batch_size]]
        c = [encode_prompt(tokenizer, t) for t in counterfactual[s : s + batch_size]]
        out.append(
            readout.Batch(
                *left_pad(r, tokenizer.pad_token_id, device),
                *left_pad(c, tokenizer.pad_token_id, device),
            )
        )
    return out


def reply_tokens(tokenizer, prompt: str, fmt: str, sycophantic: str, honest: str) -> tuple[int, int]:
    """The first reply tokens of caving and of keeping, as they follow a real prompt."""
    tokens = (
        first_reply_token(tokenizer, prompt, sycophantic, fmt),
        first_reply_token(tokenizer, prompt, honest, fmt),
    )
    if tokens[0] == tokens[1]:
        raise ValueError(
            f"attribute.sycophantic_token {sycophantic!r} and honest_token {honest!r} start with the same token"
        )
    return tokens


def score_heads(subject: readout.Subject, batches, method: str, mode: str, verify: int):
    """Every prompt's scores (n_layers, n_heads, P), and the heads scored exactly.

    screen: the estimates' mean over every prompt chooses the `verify` most negative heads once, and those are
    scored exactly on every prompt (the others keep their estimates)."""
    layout = subject.layout
    bar = tqdm(batches, desc=f"attribute ({method}, {mode})", leave=False, disable=None)
    if method != "screen":
        return torch.cat([getattr(patching, method)(subject, b, mode, per_prompt=True) for b in bar], -1), layout.heads
    captures = [readout.Captures.of(subject, b) for b in bar]
    estimates = torch.cat(
        [patching.estimate(subject, b, mode, c, per_prompt=True) for b, c in zip(batches, captures)], -1
    )
    order = torch.argsort(estimates.mean(-1).flatten())[:verify].tolist()
    candidates = [divmod(i, layout.n_heads) for i in order]
    checked = torch.cat(
        [patching.exact(subject, b, mode, candidates, c, per_prompt=True) for b, c in zip(batches, captures)], -1
    )
    return torch.where(torch.isnan(checked), estimates, checked), candidates
