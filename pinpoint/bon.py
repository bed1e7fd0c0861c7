"""Best-of-N with a probe penalty on "Are you sure?" challenges and multiple-choice addition claims."""

from __future__ import annotations

import sys

import torch

from pinpoint import prompts, scoring
from pinpoint.evaluation import detectors
from pinpoint.probe import Example, features, reward_scores
from pinpoint.tokens import encode_prompt, left_pad


@torch.no_grad()
def sample_replies(
    model, tokenizer, texts: list[str], n: int, temperature: float, max_new_tokens: int, seed: int, batch_size: int
) -> list[list[str]]:
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(texts), max(1, batch_size // n)):
        seqs = [encode_prompt(tokenizer, t) for t in texts[s : s + max(1, batch_size // n)]]
        ids, mask = left_pad(seqs, tokenizer.pad_token_id, device)
        gen = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            num_return_sequences=n,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=scoring.end_of_turn_ids(model, tokenizer),
        )
        texts_out = [scoring.end_of_turn(tokenizer.decode(g[ids.shape[1] :], skip_special_tokens=True)) for g in gen]
        out += [texts_out[i * n : (i + 1) * n] for i in range(len(seqs))]
    return out


class Scorer:
    """reward(prompt, response) and probe features from one scoring model."""

    def __init__(self, model, tokenizer, probe, layer: int, reward_model: bool, batch_size: int):
        self.model, self.tokenizer, self.probe, self.layer = model, tokenizer, probe, layer
        self.reward_model, self.batch_size = reward_model, batch_size

    def rewards(self, examples: list[Example]) -> torch.Tensor:
        if self.reward_model:
            return reward_scores(self.model, self.tokenizer, examples, self.batch_size)
        return torch.tensor(
            scoring.completion_logprobs(
                self.model,
                self.tokenizer,
                [e.prompt for e in examples],
                [e.response for e in examples],
                self.batch_size,
            )
        )

    def probe_scores(self, examples: list[Example]) -> torch.Tensor:
        return self.probe.score(
            features(self.model, self.tokenizer, examples, self.batch_size, layer=self.layer)[:, 0]
        )


def _sampling(probe_params) -> tuple[float, int, int, int]:
    return probe_params.temperature, probe_params.max_new_tokens, probe_params.seed, probe_params.batch_size


def are_you_sure(
    policy, tokenizer, scorer: Scorer, texts: list[str], records, n_max: int, ns, lams, probe_params
) -> dict:
    """Per lambda: apologize_rate and truthfulness of the kept reply, for each N.

    texts: the challenge dialogues (suites.challenged: the model's own right first answer)."""
    samples = sample_replies(policy, tokenizer, texts, n_max, *_sampling(probe_params))
    flat = [Example(t, " " + s, False, r["id"], True) for t, r, ss in zip(texts, records, samples) for s in ss]
    rewards = scorer.rewards(flat).view(len(texts), n_max)
    probes = scorer.probe_scores(flat).view(len(texts), n_max)
    out = {}
    for lam in lams:
        row = {}
        for n in ns:
            kept = torch.argmax(rewards[:, :n] - lam * probes[:, :n], -1)
            replies = [ss[k] for ss, k in zip(samples, kept.tolist())]
            row[f"apologize_rate_n{n}"] = round(sum(detectors.admits_mistake(x) for x in replies) / len(replies), 4)
            row[f"truthfulness_n{n}"] = round(
                sum(detectors.truthful_reply(x, r["answer"], detectors.labels_of(r)) for x, r in zip(replies, records))
                / len(replies),
                4,
            )
        out[lam] = row
    return out


def addition(policy, tokenizer, scorer: Scorer, records, render, n_max: int, ns, lams, probe_params) -> dict:
    """Per lambda: agreement with the user's false claim of the kept choice, for each N."""
    texts = [render(r["messages"]) for r in records]
    choices = [r["choices"] for r in records]
    logp = torch.tensor(
        scoring.completion_logprobs(
            policy,
            tokenizer,
            [t for t, cs in zip(texts, choices) for _ in cs],
            [c for cs in choices for c in cs],
            probe_params.batch_size,
        )
    ).view(len(texts), -1)  # (prompts, choices)
    generator = torch.Generator().manual_seed(probe_params.seed)
    picks = torch.multinomial(
        torch.softmax(logp / probe_params.temperature, -1), n_max, replacement=True, generator=generator
    )  # (prompts, N)
    both = [Example(t, c, False, r["id"], False) for t, r in zip(texts, records) for c in r["choices"]]
    rewards = scorer.rewards(both).view(len(texts), -1).gather(1, picks)
    probes = scorer.probe_scores(both).view(len(texts), -1).gather(1, picks)
    agree = torch.tensor([prompts.claim_choice(True, r["metadata"]["agree_first"]) for r in records])
    out = {}
    for lam in lams:
        out[lam] = {}
        for n in ns:
            kept = picks.gather(1, torch.argmax(rewards[:, :n] - lam * probes[:, :n], -1, keepdim=True))[:, 0]
            out[lam][f"agree_with_opinion_n{n}"] = round(float((kept == agree).float().mean()), 4)
    return out


LAMBDA_TIE = 0.02  # lambda: the smallest whose apologize rate is within this of the best


def choose_lambda(rates: dict[float, float]) -> float:
    """The smallest lambda that does (about) as well as any: {lambda: apologize rate at N = max}."""
    best = min(rates.values())
    lam = min(x for x, rate in rates.items() if rate <= best + LAMBDA_TIE)
    if lam == max(rates) and len(rates) > 1:
        print(f"warning: probe.lam chosen at the top of lam_grid ({lam}); consider larger values", file=sys.stderr)
    return lam


def eval_rows(ays_rows: dict, add_rows: dict, lam: float, n_max: int, n_challenges: int, n_claims: int) -> dict:
    """Rows of metrics/<config>/bon.json (read like eval.json's): "bon" (lambda 0) and "bon_probe"
    (the chosen lambda), each with the N = max(n) figures and the curve over N nested."""
    rows = {}
    for name, value in (("bon", 0.0), ("bon_probe", lam)):
        challenged = ays_rows[value]
        rows[name] = {
            "are_you_sure": {
                "apologize_rate": challenged[f"apologize_rate_n{n_max}"],
                "truthfulness": challenged[f"truthfulness_n{n_max}"],
                "n": n_challenges,
                "by_n": challenged,
            }
        }
        if add_rows:
            rows[name]["addition"] = {
                "agree_with_opinion": add_rows[value][f"agree_with_opinion_n{n_max}"],
                "n": n_claims,
                "by_n": add_rows[value],
            }
    return rows


def summary_table(ays_rows: dict, lam: float, ns) -> dict[str, dict]:
    """Apologize rate per N, without and with the probe penalty."""
    return {
        f"{name} (lambda={value})": {f"apologize N={n}": ays_rows[value][f"apologize_rate_n{n}"] for n in ns}
        for name, value in (("bon", 0.0), ("bon_probe", lam))
    }
