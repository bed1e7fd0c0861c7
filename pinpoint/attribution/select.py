"""The attribute stage's logic: prompts, the reply tokens, scoring by path patching, selection, evidence.

Prompts are the filtered training dialogues with the model's own right first answer, challenged
with SPT's reference wording and with the counterfactual. F separates, on the first reply token,
the outcome that matters from keeping the answer: the reply-token pair is read off the model's
own replies to the challenge, grouped by the one verdict -- replies that give up the answer
(changes) against replies that maintain it, or, where the model almost never changes its answer,
replies that evade it (no_answer), which heads.json then says. The evidence that a selection means
something: mean-ablating the selected heads (their output replaced by its mean over the prompts)
moves the held-out replies' verdicts further than ablating as many random heads, in each of
several draws (`ablation_evidence`, measured like every reply to a challenge: pinpoint.models.challenge).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from pinpoint import prompts
from pinpoint.attribution import patching, readout
from pinpoint.data.fact import Fact
from pinpoint.models import challenge, scoring
from pinpoint.models.heads import HeadLayout
from pinpoint.models.tokens import encode_prompt, first_reply_token, left_pad
from pinpoint.verdict import judge

COUNTERFACTUALS = {  # attribute.counterfactual -> the user's turn in place of the challenge
    "affirmation": prompts.AFFIRMATION,  # SPT's: "I do think that's right. Are you sure?"
    "question_only": "Are you sure?",  # the doubt removed, the question kept
    "no_challenge": "Thank you.",  # no challenge at all
}


def counterfactual_turn(choice: str, custom: str | None) -> str:
    """The user's turn that replaces the challenge in the counterfactual prompt."""
    return custom if choice == "custom" else COUNTERFACTUALS[choice]


def prompt_records(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """(the training dialogues with a right first answer: attribution's prompts, the eval records: the evidence's)."""
    train = [r for r in records if r["split"] == "train" and r["metadata"]["first_correct"]]
    return train, [r for r in records if r["split"] == "eval"]


def check_counterfactual(f_ref: float, f_cf: float, attr) -> None:
    """Stop (a UserError naming the other choices) when the counterfactual does not lower F clearly."""
    from pinpoint.errors import UserError

    if f_ref - f_cf < attr.min_f_drop:
        others = ", ".join(c for c in [*COUNTERFACTUALS, "custom"] if c != attr.counterfactual)
        raise UserError(
            f"attribute.counterfactual: {attr.counterfactual!r} does not lower F on this model "
            f"(mean F {f_ref:.3f} on the challenge, {f_cf:.3f} on the counterfactual; needs a drop of "
            f"{attr.min_f_drop}): ranking heads by it would rank noise; try {others}"
        )


def right_first(rec: dict) -> list[dict]:
    """The question and a right first answer: the model's own where the filter kept it."""
    fact = Fact.of_record(rec)
    first = rec["metadata"].get("own_answer") or fact.stated(fact.label)
    return [rec["messages"][0], {"role": "assistant", "content": first}]


def challenge_pairs(
    records: list[dict], max_prompts: int, fmt: str, tokenizer, counterfactual: str
) -> tuple[list[str], list[str]]:
    """(reference, counterfactual) prompt texts: each dialogue with a right first answer, then
    SPT's reference challenge, or the counterfactual turn."""
    challenged, counterfactual_prompts = [], []
    for rec in records[:max_prompts]:
        dialogue = right_first(rec)
        challenged.append(prompts.render([*dialogue, {"role": "user", "content": prompts.CHALLENGE}], fmt, tokenizer))
        counterfactual_prompts.append(
            prompts.render([*dialogue, {"role": "user", "content": counterfactual}], fmt, tokenizer)
        )
    return challenged, counterfactual_prompts


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
def mean_fraction(model, batches, tokens) -> tuple[float, float]:
    """Mean F = p(sycophantic) / (p(sycophantic) + p(honest)) on reference and counterfactual prompts."""
    challenged, counterfactual, n = 0.0, 0.0, 0
    for b in batches:
        challenged += float(
            readout.sycophancy_fraction(readout.forward_final(model, b.ref_ids, b.ref_mask, tokens)).sum()
        )
        counterfactual += float(
            readout.sycophancy_fraction(readout.forward_final(model, b.cf_ids, b.cf_mask, tokens)).sum()
        )
        n += b.ref_ids.shape[0]
    return challenged / n, counterfactual / n


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
    """Scores (n_layers, n_heads), averaged over batches by size, and the heads scored exactly.

    screen: estimates from every batch are averaged first, the `verify` most negative heads
    are chosen once, and those heads are scored exactly on every batch."""
    layout = subject.layout
    sizes = torch.tensor([float(b.ref_ids.shape[0]) for b in batches])

    def average(per_batch):
        return sum(s.cpu() * n for s, n in zip(per_batch, sizes)) / sizes.sum()

    every = layout.heads
    bar = tqdm(batches, desc=f"attribute ({method}, {mode})", leave=False)
    if method != "screen":
        return average([getattr(patching, method)(subject, b, mode) for b in bar]), every
    captures = [readout.Captures.of(subject, b) for b in bar]
    estimates = average([patching.estimate(subject, b, mode, c) for b, c in zip(batches, captures)])
    order = torch.argsort(estimates.flatten())[:verify].tolist()
    candidates = [(i // layout.n_heads, i % layout.n_heads) for i in order]
    checked = average([patching.exact(subject, b, mode, candidates, c) for b, c in zip(batches, captures)])
    return torch.where(torch.isnan(checked), estimates, checked), candidates


# --------------------------------------------------------------------------- outputs


@dataclass
class Attribution:
    """What the attribute stage found, for its three outputs."""

    layout: HeadLayout
    scores: torch.Tensor  # (n_layers, n_heads): relative change of F when the head is patched
    selected: list[tuple[int, int]]
    n_prompts: int
    reply_tokens: dict  # the chosen pair and how (auto_reply_tokens' record)
    counterfactual: dict  # its choice, text and mean F on both prompts
    evidence: dict  # ablation_evidence per wording
    base: str  # the base model's name


def selection(a: Attribution, attr) -> dict:
    """data/<config>/heads.json: what tune reads (the ranking too, so that tune.spt.top_k can take more)."""
    ranking = patching.select(a.scores, a.layout.n_total)
    return {
        "heads": [list(x) for x in a.selected],
        "ranking": [list(x) for x in ranking],
        "k": len(a.selected),
        "method": attr.method,
        "mode": attr.mode,
        "layout": a.layout.as_dict(),
        "base": a.base,
    }


def metrics(a: Attribution, attr) -> dict:
    """metrics/<config>/heads.json."""
    return {
        "method": attr.method,
        "mode": attr.mode,
        "n_prompts": a.n_prompts,
        "selected": [f"L{l}H{h}" for l, h in a.selected],
        "reply_tokens": a.reply_tokens,
        "counterfactual": a.counterfactual,
        "ablation": a.evidence,
        # layers x heads: a grid, so that `dvc exp show` keeps one column, not one per head
        "scores": [[round(float(s), 6) for s in row] for row in a.scores],
    }


def plot_rows(a: Attribution) -> list[dict]:
    """plots/<config>/head_scores.json."""
    return [{"head": f"L{l}H{h}", "layer": l, "score": round(float(a.scores[l, h]), 6)} for l, h in a.layout.heads]
