"""A sequence-level quantity to attribute: the model's own caving reply against its own keeping one.

The first-token pair F reads one token, which the replies that keep an answer may share with those that give it
up ("I'm sorry for any confusion. The capital is Paris." and "I'm sorry, I was wrong..." both open with "I"). So
for each attribution prompt, replies are sampled from the model itself and judged by the one verdict, and one
that maintains the right answer and one that does not (changes it or evades it) are kept; then, teacher-forced,

    S = log p(sycophantic reply | prompt) - log p(maintaining reply | prompt)      (nats; higher: more sycophantic)

A head's score is S's change when its output at the prompt's final position is patched from the counterfactual
run (activation patching: every later layer, and every reply token, reads the patched position freely), averaged
over prompts; the heads that lower S the most are selected, as with F. `exact` patches one head at a time, a
batch of prompts per forward pass; `estimate` gives every head's first-order change from one backward pass
(attribution patching: S is a sum of log-probabilities, with no sigmoid to saturate), and `screen` verifies its
top candidates exactly. Prompts where the model gave no reply of one of the two kinds carry no S and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from pinpoint import prompts
from pinpoint.attribution.patching import _to_grid
from pinpoint.attribution.readout import wide
from pinpoint.models import challenge, scoring, shared_prefix
from pinpoint.models.heads import Head, HeadLayout
from pinpoint.models.hooks import Hook, hooks
from pinpoint.models.shared_prefix import body
from pinpoint.models.tokens import encode_completion, encode_prompt, position_ids


@dataclass(frozen=True)
class Pair:
    """One attribution prompt and the model's own two replies to it."""

    reference: str  # the challenged dialogue, rendered
    counterfactual: str  # the same with the counterfactual turn
    sycophantic: str  # a reply that gives up or evades the right answer (as it follows the prompt)
    maintaining: str  # a reply that keeps it


def own_replies(
    respondent: challenge.Respondent, items: list[challenge.Challenged], samples: int, seed: int, budget
) -> list[tuple[str | None, str | None]]:
    """(a sycophantic reply, a maintaining reply) of the model's own, greedy first then sampled at temperature 1,
    per challenge (None where it gave none of that kind)."""
    texts = [prompts.render(i.dialogue(), respondent.fmt, respondent.tokenizer) for i in items]
    greedy = challenge.replies(respondent, items, budget, "attribute: own replies")
    sampling = scoring.Sampling(samples, 1.0, seed)
    sampled = scoring.sample(respondent.model, respondent.tokenizer, texts, sampling, budget.max_new_tokens)
    out = []
    for item, first, more in zip(items, greedy, sampled):
        said = list(dict.fromkeys([first, *more]))
        verdicts = challenge.judged([item] * len(said), said)
        syc = next((r for r, v in zip(said, verdicts) if v.outcome != "maintains"), None)
        keep = next((r for r, v in zip(said, verdicts) if v.outcome == "maintains"), None)
        out.append((syc, keep))
    return out


@dataclass
class Chunk:
    """A few prompts, each followed by its two replies (rows 2i: the sycophantic one, 2i + 1: the maintaining one),
    every prompt read once up to its last token into a key/value cache (pinpoint.models.shared_prefix). A head
    patched at the prompt's final position changes nothing before it, so every variant runs only the final
    position and the replies: column 0 of what runs is that position."""

    rows: shared_prefix.Rows
    owner: torch.Tensor  # (rows,): the prompt (within the chunk) each row follows
    width: int  # the prompts' width in rows.ids: the replies start there

    @classmethod
    def of(cls, model, tokenizer, prompts: list[str], sycophantic: list[str], maintaining: list[str]) -> Chunk:
        heads = [encode_prompt(tokenizer, p) for p in prompts]
        tails = [encode_completion(tokenizer, r) for pair in zip(sycophantic, maintaining) for r in pair]
        rows = shared_prefix.rows(model, heads, tokenizer.pad_token_id, [2] * len(heads), tails)
        owner = torch.arange(len(heads), device=rows.ids.device).repeat_interleave(2)
        return cls(rows, owner, rows.cached + 1)

    def run(self, model, installs=()):
        """The decoder stack on what is not cached (the cache kept as it was): its last hidden states."""
        rows = self.rows
        try:
            with hooks(*installs):
                return body(model)(
                    input_ids=rows.ids[:, rows.cached :],
                    attention_mask=rows.mask,
                    position_ids=position_ids(rows.mask)[:, rows.cached :],
                    cache=rows.cache,
                    use_cache=rows.cache is not None,
                ).last_hidden_state
        finally:
            if rows.cache is not None:  # what this run appended: removed (a negative count, in this API)
                rows.cache.crop(rows.cached - rows.cache.get_seq_length())

    def logprob(self, model, installs=()) -> torch.Tensor:
        """log p(reply | prompt) per row, teacher-forced: (rows,). Logits only where a reply token is predicted (a
        vocabulary of 49k makes the rest the cost)."""
        hidden = self.run(model, installs)
        if self.rows.cached == 0:  # nothing cached: every prompt token ran too
            hidden = hidden[:, self.width - 1 :]
        logits = model.get_output_embeddings()(hidden[:, :-1])  # position t predicts token t + 1
        cap = getattr(model.config, "final_logit_softcapping", None)
        if cap:  # as the model's own forward does (Gemma 2)
            logits = torch.tanh(logits / cap) * cap
        logp = torch.log_softmax(wide(logits), -1)
        tokens = self.rows.ids[:, self.width :]
        picked = logp.gather(-1, tokens[..., None])[..., 0]  # (rows, T)
        return (picked * self.rows.mask[:, self.width :].to(picked.dtype)).sum(-1)

    def s(self, model, installs=()) -> torch.Tensor:
        """S per prompt: (prompts,)."""
        logp = self.logprob(model, installs)
        return logp[0::2] - logp[1::2]

    @property
    def column(self) -> int:
        """The final prompt position's column in what `run` runs."""
        return 0 if self.rows.cached else self.width - 1


@dataclass
class SequenceSubject:
    """The model whose heads are scored on S: its prompts in chunks (reference and counterfactual, each followed by
    the same two replies), and the counterfactual run's head outputs at the final position."""

    model: object
    layout: HeadLayout
    reference: list[Chunk]
    counterfactual: list[Chunk]
    cf_heads: list[list[torch.Tensor]]  # per chunk, per layer (prompts, H*hd)

    @classmethod
    def of(cls, model, layout: HeadLayout, tokenizer, pairs: list[Pair], chunk: int = 16) -> SequenceSubject:
        parts = [pairs[i : i + chunk] for i in range(0, len(pairs), chunk)]

        def chunks(side: str) -> list[Chunk]:
            return [
                Chunk.of(
                    model,
                    tokenizer,
                    [getattr(p, side) for p in part],
                    *zip(*[(p.sycophantic, p.maintaining) for p in part]),
                )
                for part in parts
            ]

        ref, cf = chunks("reference"), chunks("counterfactual")
        return cls(model, layout, ref, cf, [final_head_outputs(model, layout, c) for c in cf])

    @property
    def n(self) -> int:
        return sum(len(c.owner) // 2 for c in self.reference)

    @torch.no_grad()
    def s(self, head: Head | None = None, counterfactual: bool = False) -> torch.Tensor:
        """S per prompt, with `head`'s final-position output patched from the counterfactual run: (P,)."""
        chunks = self.counterfactual if counterfactual else self.reference
        out = []
        for i, chunk in enumerate(chunks):
            installs = [] if head is None else [_patch(self, head, i)]
            out.append(chunk.s(self.model, installs))
        return torch.cat(out).cpu()


@torch.no_grad()
def final_head_outputs(model, layout: HeadLayout, chunk: Chunk) -> list[torch.Tensor]:
    """Every layer's head outputs (its o_proj input) at the chunk's final prompt position: per layer (P, H*hd)."""
    grabbed: list[torch.Tensor | None] = [None] * layout.n_layers

    def grab(l):
        def fn(m, a):
            grabbed[l] = a[0][0::2, chunk.column].detach().clone()  # one row per prompt

        return fn

    chunk.run(model, [Hook(model.get_submodule(layout.module_name(l, "o")), grab(l)) for l in range(layout.n_layers)])
    return grabbed


def _patch(subject: SequenceSubject, head: Head, i: int) -> Hook:
    """`head`'s output at chunk i's final position, from the counterfactual run."""
    l, h = head
    cols, chunk = list(subject.layout.o_index(h)), subject.reference[i]
    patched = subject.cf_heads[i][l][chunk.owner][:, cols]  # (rows, hd)

    def patch(m, a):
        z = a[0].clone()
        z[:, chunk.column, cols] = patched.to(z.dtype)
        return (z, *a[1:])

    return Hook(subject.model.get_submodule(subject.layout.module_name(l, "o")), patch)


def exact(subject: SequenceSubject, heads=None, per_prompt: bool = False) -> torch.Tensor:
    """Each head's change of S when its final-position output is patched: (n_layers, n_heads) or (.., P)."""
    heads = heads or subject.layout.heads
    s_ref = subject.s()
    found = [subject.s(head) - s_ref for head in tqdm(heads, desc="attribute (sequence)", leave=False, disable=None)]
    return _to_grid(subject.layout, heads, found, per_prompt)


def estimate(subject: SequenceSubject, per_prompt: bool = False) -> torch.Tensor:
    """First-order changes of S for every head from one backward pass per chunk (attribution patching)."""
    model, layout = subject.model, subject.layout
    est = torch.empty(layout.n_layers, layout.n_heads, subject.n)
    start = 0
    for i, chunk in enumerate(subject.reference):
        reference = final_head_outputs(model, layout, chunk)
        n = len(reference[0])
        leaves = [torch.zeros_like(z, requires_grad=True) for z in reference]  # per layer (prompts, H*hd)

        def nudge(l, column=chunk.column, owner=chunk.owner, leaves=leaves):
            def fn(m, a):
                z = a[0].clone()
                z[:, column] = z[:, column] + leaves[l][owner].to(z.dtype)
                return (z, *a[1:])

            return fn

        installs = [Hook(model.get_submodule(layout.module_name(l, "o")), nudge(l)) for l in range(layout.n_layers)]
        with torch.enable_grad():
            grads = torch.autograd.grad(chunk.s(model, installs).sum(), leaves)
        for l in range(layout.n_layers):
            dz = (wide(subject.cf_heads[i][l]) - wide(reference[l])) * wide(grads[l])  # (prompts, H*hd)
            est[l, :, start : start + n] = dz.view(n, layout.n_heads, layout.head_dim).sum(-1).T.detach().cpu()
        start += n
    return est if per_prompt else est.mean(-1)


def screen(subject: SequenceSubject, verify: int, per_prompt: bool = False) -> tuple[torch.Tensor, list]:
    """Estimates for every head, the `verify` most negative verified exactly: (scores, the verified heads)."""
    est = estimate(subject, per_prompt=True)
    order = torch.argsort(est.mean(-1).flatten())[:verify].tolist()
    candidates = [divmod(i, subject.layout.n_heads) for i in order]
    checked = exact(subject, candidates, per_prompt=True)
    scores = torch.where(torch.isnan(checked), est, checked)
    return (scores if per_prompt else scores.mean(-1)), candidates
