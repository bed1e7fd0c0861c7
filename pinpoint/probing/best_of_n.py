"""The probe stage's two uses of sampled replies: the probe's labelled examples, and best-of-N.

`labelled_replies`: for each training dialogue with a right first answer (the model's own), the
greedy reply and `samples` sampled ones, each judged by the one verdict: the probe's data and
steering's contrastive pairs (data/<config>/pairs.jsonl).

Best-of-N on held-out challenges: N samples from the policy, the kept one the argmax of
reward - lambda * probe; its verdict as any model's reply's (the kept replies are transcript rows
of the are_you_sure suite, so eval.json's "bon" (lambda 0) and "bon_probe" figures are computed as
every other model's). Lambda is chosen on the validation split (`choose_lambda`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

from pinpoint import prompts
from pinpoint.data.fact import Fact
from pinpoint.evaluation import are_you_sure
from pinpoint.models import challenge, scoring
from pinpoint.probing.probe import Example, read_replies, reward_scores

SUITES = ("are_you_sure", "addition")  # the suites its kept replies are transcript rows of


def kept(rewards: torch.Tensor, probe_scores: torch.Tensor, lam: float) -> torch.Tensor:
    """Index of the kept sample per prompt: argmax of reward - lambda * probe, over (prompts, N)."""
    return torch.argmax(rewards - lam * probe_scores, dim=-1)


class Scorer:
    """reward(prompt, response) and probe scores from one scoring model."""

    def __init__(self, model, tokenizer, probe, layer: int, reward_model: bool, batch_size: int):
        self.model, self.tokenizer, self.probe, self.layer = model, tokenizer, probe, layer
        self.reward_model, self.batch_size = reward_model, batch_size

    def scores(self, examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
        """(rewards, probe scores) of each (prompt, response): the base model as the scorer reads each once
        (its log-likelihood of the response is the reward); a reward model scores apart from its features."""
        feats, logp = read_replies(
            self.model, self.tokenizer, examples, self.batch_size, self.layer, logprobs=not self.reward_model
        )
        rewards = reward_scores(self.model, self.tokenizer, examples, self.batch_size) if self.reward_model else logp
        return rewards, self.probe.score(feats[:, 0])


@dataclass(frozen=True)
class Dialogues:
    """Challenged dialogues: their rows (as the suite builds them) and their rendered prompts."""

    rows: list[dict]
    texts: list[str]


def challenged(policy, tokenizer, records: list[dict], ctx, suite: str = "are_you_sure") -> Dialogues:
    """The first-right dialogues of `records`, rendered, with the policy's own first answers, as the suite
    builds them (are_you_sure: the reference wording; are_you_sure_heldout: each record's own)."""
    rows = are_you_sure.dialogues(suite, records, are_you_sure.first_answers(policy, records, ctx))
    rows = [r for r in rows if r["first"] == "right"]
    texts = [ctx.render(prompts.challenge_dialogue(r["question"], r["first_answer"], r["challenge"])) for r in rows]
    return Dialogues(rows, texts)


def labelled_replies(
    policy: challenge.Respondent, dialogues: Dialogues, probe_params, reply_tokens: int, split: str
) -> list[dict]:
    """The greedy and `samples` sampled replies to each dialogue, labelled by the verdict."""
    model, tokenizer, texts = policy.model, policy.tokenizer, dialogues.texts
    greedy = scoring.greedy(model, tokenizer, texts, reply_tokens, probe_params.batch_size, "probe: greedy replies")
    sampling = scoring.Sampling(probe_params.samples, probe_params.temperature, probe_params.seed)
    sampled = scoring.sample(model, tokenizer, texts, sampling, reply_tokens, probe_params.batch_size)
    out = []
    for row, g, ss in zip(dialogues.rows, greedy, sampled):
        said = list(dict.fromkeys([g, *ss]))  # each distinct reply once
        for i, (reply, verdict) in enumerate(zip(said, challenge.judged([_item(row)] * len(said), said))):
            out.append(
                {
                    "id": f"{row['id']}|{i}",
                    "group": Fact.of_record(row["record"]).key,
                    "split": split,
                    "messages": prompts.challenge_dialogue(row["question"], row["first_answer"], row["challenge"]),
                    "reply": reply,
                    "reply_text": prompts.reply_text(reply, policy.fmt),
                    "sycophantic": verdict.outcome != "maintains",
                    "outcome": verdict.outcome,
                    "free_text": True,
                    "greedy": i == 0,
                }
            )
    return out


def best_of_n(
    policy: challenge.Respondent, scorer: Scorer, dialogues: Dialogues, lams, probe_params, reply_tokens: int
) -> dict[float, dict[int, list[dict]]]:
    """{lambda: {N: transcript rows of the kept replies}} for every lambda and N of probe_params.n."""
    n_max, rows, texts, fmt = max(probe_params.n), dialogues.rows, dialogues.texts, policy.fmt
    sampling = scoring.Sampling(n_max, probe_params.temperature, probe_params.seed)
    samples = scoring.sample(policy.model, policy.tokenizer, texts, sampling, reply_tokens, probe_params.batch_size)
    flat = [
        Example(t, prompts.reply_text(s, fmt), False, r["id"], True)
        for t, r, ss in zip(texts, rows, samples)
        for s in ss
    ]
    rewards, probes = (x.view(len(texts), n_max) for x in scorer.scores(flat))
    out: dict[float, dict[int, list[dict]]] = {}
    for lam in lams:
        out[lam] = {}
        for n in probe_params.n:
            chosen = kept(rewards[:, :n], probes[:, :n], lam).tolist()
            out[lam][n] = [
                _row(row, ss[k], float(probes[i, k]), fmt) for i, (row, ss, k) in enumerate(zip(rows, samples, chosen))
            ]
    return out


def _item(row: dict) -> challenge.Challenged:
    answer = are_you_sure.answer_of(row["record"], row["first_label"])
    return challenge.Challenged(row["question"], row["first_answer"], row["challenge"], answer)


def _row(row: dict, reply: str, probe: float, fmt: str) -> dict:
    (verdict,) = challenge.judged([_item(row)], [reply])
    return {
        "suite": "are_you_sure",
        "part": "are_you_sure",
        "id": row["id"],
        "first": "right",
        "question": row["question"],
        "first_answer": row["first_answer"],
        "challenge": row["challenge"],
        "reply": reply,
        "verdict": verdict.as_json(),
        "readout": None,
        "probe": round(probe, 4),
        "tokens": 0,
        "unknown": 0,
        "truncated": False,
    }


def maintain_rate(rows: list[dict]) -> float:
    """The share of kept replies that maintain the right answer."""
    return sum(r["verdict"]["outcome"] == "maintains" for r in rows) / max(1, len(rows))


LAMBDA_TIE = 0.02  # lambda: the smallest whose maintain rate is within this of the best


def choose_lambda(rates: dict[float, float]) -> float:
    """The smallest lambda that does (about) as well as any: {lambda: maintain rate at N = max} on validation."""
    best = max(rates.values())
    lam = min(x for x, rate in rates.items() if rate >= best - LAMBDA_TIE)
    if lam == max(rates) and len(rates) > 1:
        print(f"warning: probe.lam chosen at the top of lam_grid ({lam}); consider larger values", file=sys.stderr)
    return lam


def addition_rows(
    policy: challenge.Respondent, scorer: Scorer, records, lams, probe_params
) -> dict[float, list[dict]]:
    """Multiple choice: {lambda: rows of the addition suite for the kept choice at N = max} (the user agrees
    with a false claim; sampling picks choices by the policy's own probabilities)."""
    n_max = max(probe_params.n)
    texts = [prompts.render(r["messages"], policy.fmt, policy.tokenizer) for r in records]
    choices = [r["choices"] for r in records]
    flat_p = [t for t, cs in zip(texts, choices) for _ in cs]
    logp = torch.tensor(
        scoring.completion_logprobs(
            policy.model, policy.tokenizer, flat_p, [c for cs in choices for c in cs], probe_params.batch_size
        )
    ).view(len(texts), -1)
    generator = torch.Generator().manual_seed(probe_params.seed)
    picks = torch.multinomial(
        torch.softmax(logp / probe_params.temperature, -1), n_max, replacement=True, generator=generator
    )  # (prompts, N)
    both = [Example(t, c, False, r["id"], False) for t, r in zip(texts, records) for c in r["choices"]]
    rewards, probes = (x.view(len(texts), -1).gather(1, picks) for x in scorer.scores(both))
    agree = torch.tensor([prompts.claim_choice(True, r["metadata"]["agree_first"]) for r in records])
    out = {}
    for lam in lams:
        chose = picks.gather(1, kept(rewards, probes, lam)[:, None])[:, 0]
        out[lam] = [
            {
                "suite": "addition",
                "part": "addition",
                "id": r["id"],
                "opinion": "agree",
                "agrees": bool(k == a),
                "picked": r["choices"][k],
                "tokens": 0,
                "unknown": 0,
                "truncated": False,
            }
            for r, k, a in zip(records, chose.tolist(), agree.tolist())
        ]
    return out
