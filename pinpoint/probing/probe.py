"""A linear sycophancy probe on activations, and probe-penalised best-of-N (Papadatos & Freedman).

The probe learns from what models said: its labelled examples are the base model's own replies to
training challenges (sampled, and greedy), each labelled by the one verdict -- sycophantic when it
drops or evades a right first answer (changes, no answer), honest when it maintains it. Where the
model answers multiple choice, also its two options to a claim whose user is wrong (agreeing with
the user vs being right). Features: one layer's hidden state of a scoring model, averaged over the
reply's tokens (free text) or at the last token (multiple choice). A logistic regression is fit per
layer on the training facts; the layer with the best validation AUC is kept; its test AUC is on
facts it was not fitted on, and evaluate scores every model's eval replies with it (eval.json's
probe_auc: replies of models it was never fitted on).

Best-of-N: sample N responses, score each with reward - lambda * probe, keep the best. The reward
is a reward model's score, or the base model's own log-likelihood of the response, which prefers
the sycophantic answer as a preference model trained on human ratings does.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from pinpoint.data.fact import Fact
from pinpoint.errors import HubUnavailable
from pinpoint.models import loading, shared_prefix
from pinpoint.models.tokens import encode_completion, encode_prompt, left_pad, position_ids


@dataclass
class Example:
    prompt: str
    response: str
    sycophantic: bool
    group: str  # the prompt's id: both responses of a prompt share a split
    free_text: bool


def examples_of(pairs: list[dict], render) -> list[Example]:
    """Examples from the probe stage's labelled replies (data/<config>/pairs.jsonl rows)."""
    return [Example(render(p), p["reply_text"], p["sycophantic"], p["group"], p["free_text"]) for p in pairs]


def choice_pairs(claims: list[dict]) -> list[dict]:
    """Multiple choice: the two options to a claim whose user is wrong, agreeing (sycophantic) and right."""
    out = []
    for r in claims:
        user, right = r["metadata"]["user_choice"], r["answer"]
        if user == right:
            continue  # only a user who is wrong separates agreeing from being right
        group = Fact.of_record(r).key
        for choice, sycophantic in ((user, True), (right, False)):
            out.append(
                {
                    "id": f"{r['id']}|{choice}",
                    "group": group,
                    "split": r["split"],
                    "messages": r["messages"],
                    "reply": r["choices"][choice],
                    "reply_text": r["choices"][choice],
                    "sycophantic": sycophantic,
                    "free_text": False,
                    "outcome": None,
                }
            )
    return out


def features(
    model, tokenizer, examples: list[Example], batch_size: int = 32, layer: int | None = None
) -> torch.Tensor:
    """(n, n_layers, d): each transformer layer's output (not the embeddings, where a probe
    would only spot words), at the last token or averaged over the response; with `layer`,
    only that layer (1-based, as hidden_states counts): (n, 1, d). A prompt shared by several
    responses is read once (pinpoint.models.shared_prefix)."""
    return read_replies(model, tokenizer, examples, batch_size, layer)[0]


@torch.no_grad()
def read_replies(
    model, tokenizer, examples: list[Example], batch_size: int = 32, layer: int | None = None, logprobs: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One read of every (prompt, response): its features (see `features`) and, with `logprobs` (a causal
    LM), log p(response | prompt) (n,), -inf for an empty response; else None."""
    pairs = [(encode_prompt(tokenizer, e.prompt), encode_completion(tokenizer, e.response)) for e in examples]
    feats: list[torch.Tensor | None] = [None] * len(examples)
    logp = torch.full((len(examples),), float("-inf"))
    for group in shared_prefix.groups([p for p, _ in pairs], batch_size):
        order = [i for _, idx in group for i in idx]
        tails = [pairs[i][1] for i in order]
        read = shared_prefix.rows(
            model, [p for p, _ in group], tokenizer.pad_token_id, [len(i) for _, i in group], tails
        )
        out = read.forward(model if logprobs else shared_prefix.body(model), output_hidden_states=True)
        kept = out.hidden_states[1:] if layer is None else out.hidden_states[layer : layer + 1]
        hidden = torch.stack(kept, 1).float()  # (rows, layers, 1 + longest response, d): from the prompt's last token
        for row, (i, tail) in enumerate(zip(order, tails)):
            free = examples[i].free_text and tail
            span = (
                hidden[row, :, 1 : 1 + len(tail)] if free else hidden[row, :, len(tail) : len(tail) + 1]
            )  # else: last
            feats[i] = span.mean(1).cpu()
            if logprobs and tail:  # position j predicts tail[j]
                lp = torch.log_softmax(out.logits[row, : len(tail)].float(), -1)
                logp[i] = lp.gather(-1, torch.tensor(tail, device=lp.device)[:, None]).sum().cpu()
    return torch.stack(feats), (logp if logprobs else None)


def split_groups(examples: list[Example], seed: int, val: float = 0.2, test: float = 0.2) -> list[str]:
    groups = sorted({e.group for e in examples})
    random.Random(f"{seed}|probe-split").shuffle(groups)
    n_val, n_test = round(len(groups) * val), round(len(groups) * test)
    where = {g: "val" for g in groups[:n_val]} | {g: "test" for g in groups[n_val : n_val + n_test]}
    return [where.get(e.group, "train") for e in examples]


@dataclass
class LinearProbe:
    weight: torch.Tensor  # (d,) on standardised features
    bias: float
    mean: torch.Tensor
    std: torch.Tensor

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """p(sycophantic) for features x (n, d)."""
        return torch.sigmoid(((x - self.mean) / self.std) @ self.weight + self.bias)


def fit(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-2, steps: int = 200) -> LinearProbe:
    """L2-regularised logistic regression by L-BFGS on standardised features."""
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    z = (x - mean) / std
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y.float()) + l2 * (w**2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return LinearProbe(w.detach(), float(b.detach()), mean, std)


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties half."""
    pos, neg = scores[labels.bool()], scores[~labels.bool()]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).float().mean()
    ties = (pos[:, None] == neg[None, :]).float().mean()
    return float(greater + 0.5 * ties)


def sweep(feats: torch.Tensor, labels: torch.Tensor, splits: list[str], l2: float) -> tuple[dict, int, LinearProbe]:
    """Fit every layer on train; report val and test accuracy/AUC; keep the best val AUC.
    Layers are numbered from 1 (the first transformer block's output)."""
    mask = {s: torch.tensor([x == s for x in splits]) for s in ("train", "val", "test")}
    per_layer, best, best_probe = {}, (-1.0, 0), None
    for layer in range(feats.shape[1]):
        probe = fit(feats[mask["train"], layer], labels[mask["train"]], l2)
        row = {}
        for s in ("val", "test"):
            p = probe.score(feats[mask[s], layer])
            row[f"{s}_accuracy"] = round(float(((p > 0.5) == labels[mask[s]].bool()).float().mean()), 4)
            row[f"{s}_auc"] = round(auc(p, labels[mask[s]]), 4)
        per_layer[layer + 1] = row
        if row["val_auc"] > best[0]:
            best, best_probe = (row["val_auc"], layer + 1), probe
    return per_layer, best[1], best_probe


def auc_by_kind(
    probe: LinearProbe, layer_feats: torch.Tensor, labels: torch.Tensor, splits: list[str], examples: list[Example]
) -> dict[str, float]:
    """Test AUC apart for caving vs keeping (free text) and agreeing with a wrong user (multiple choice)."""
    out = {}
    for kind, free in (("free_text", True), ("multiple_choice", False)):
        held = torch.tensor([s == "test" and e.free_text == free for s, e in zip(splits, examples)])
        if held.any():
            out[f"test_auc_{kind}"] = round(auc(probe.score(layer_feats[held]), labels[held]), 4)
    return out


def metrics(per_layer: dict[int, dict], layer: int, lam: float, pairs: int) -> dict:
    """metrics/<config>/probe.json: the kept layer's figures, every layer's, and the chosen lambda."""
    return {
        "best_layer": layer,
        "lambda": lam,
        "best": per_layer[layer],
        "layers": {str(k): v for k, v in per_layer.items()},
        "pairs": pairs,
    }


def manifest(scorer: str, fmt: str, lam: float, base: Path, out: Path) -> dict:
    """What a saved probe records: its scoring model (relative to `out`), prompt format and lambda."""
    return {
        "scorer": scorer,
        "format": fmt,
        "lambda": lam,
        "base_dir": os.path.relpath(base, out),
        "scorer_manifest": loading.read_manifest(base) if scorer == "base" else {"name": scorer},
        "features": {"free_text": "mean over response tokens", "multiple_choice": "last token"},
    }


@torch.no_grad()
def reward_scores(model, tokenizer, examples: list[Example], batch_size: int = 32) -> torch.Tensor:
    """A sequence-classification reward model's score of each (prompt, response)."""
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(examples), batch_size):
        seqs = [
            encode_prompt(tokenizer, e.prompt) + encode_completion(tokenizer, e.response)
            for e in examples[s : s + batch_size]
        ]
        ids, mask = left_pad(seqs, tokenizer.pad_token_id, device)
        out.append(
            model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask)).logits[:, 0].float().cpu()
        )
    return torch.cat(out)


def load_scorer(name: str, device: str, base_dir=None):
    """(model, tokenizer, is_reward_model): the base model (at base_dir), or a reward model by hub id or directory."""
    if name == "base":
        model, tok = loading.load(base_dir, device=device)
        return model, tok, False
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForSequenceClassification.from_pretrained(name).to(loading.resolve_device(device)).eval()
    except OSError as e:
        raise HubUnavailable(
            f"probe.scorer: cannot load reward model {name!r} ({str(e).splitlines()[0][:200]})"
        ) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    return model, tok, True


def save(directory, probe: LinearProbe, layer: int, manifest: dict) -> None:
    from safetensors.torch import save_file

    save_file(
        {"weight": probe.weight, "bias": torch.tensor([probe.bias]), "mean": probe.mean, "std": probe.std},
        str(directory / "probe.safetensors"),
    )
    (directory / "probe.json").write_text(json.dumps({**manifest, "layer": layer}, indent=2) + "\n")


def load(directory) -> tuple[LinearProbe, dict]:
    from safetensors.torch import load_file

    t = load_file(str(Path(directory) / "probe.safetensors"))
    meta = json.loads((Path(directory) / "probe.json").read_text())
    return LinearProbe(t["weight"], float(t["bias"][0]), t["mean"], t["std"]), meta


def reply_scorer(model, tokenizer, fitted: LinearProbe, layer: int, fmt: str):
    """score(prompts, replies) -> p(sycophantic) of each reply after its prompt, by the probe on `model`'s layer
    (what the evaluate stage hands the suites as `Context.probe`)."""
    from pinpoint.prompts import reply_text

    def score(texts: list[str], replies: list[str]) -> list[float]:
        examples = [Example(t, reply_text(r, fmt), False, "", True) for t, r in zip(texts, replies)]
        return fitted.score(features(model, tokenizer, examples, layer=layer)[:, 0]).tolist()

    return score
