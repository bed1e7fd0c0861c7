"""The one training loop every method shares, through accelerate.

Same data order, number of steps and seed for every method; AdamW over the
parameters the method marks trainable (and only those: optimizer state exists for
nothing else); linear warm-up and decay. On CUDA, bf16 autocast by default; on
several GPUs, launch with `accelerate launch` (DDP or FSDP): the trainable
parameters are ordinary nn.Parameters either way.

Exact across process counts: each process takes every num_processes-th row of the global
batch, and its loss is its rows' summed token losses over the *global* number of reply
tokens in the step, times num_processes (DDP averages gradients over processes). The
gradient is then that of the global mean, and 1 process or N at the same global batch
give the same losses and updates (to float summation order). The curve logs the global mean.

Fast by default (`fast=True`), with the same losses and updates to float tolerance:
- logits only where the loss reads them: the decoder's hidden states go through the
  output projection only at positions whose next token is a reply label (a few of
  the sequence's positions, each one a row of the vocabulary-wide matrix product);
- a frozen prefix runs once per example (prefix.py): with SPT, every layer below the
  lowest tuned head is computed once, cached, and never seen by backward.
`fast=False` is the straightforward reference: a plain forward and full logits.
"""

from __future__ import annotations

import random

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from pinpoint.tuning import prefix


def collate(batch, pad_id: int, device):
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (x, y) in enumerate(batch):  # right padding
        ids[i, : len(x)], labels[i, : len(y)], mask[i, : len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids.to(device), mask.to(device), labels.to(device)


def reply_tokens(example) -> int:
    """How many reply tokens an example's loss reads (labels 1.. that are not -100)."""
    return sum(1 for y in example[1][1:] if y != -100)


def reply_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Next-token loss over the reply tokens of the batch (mean or sum), from logits (B, T, V) at every position."""
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100, reduction=reduction
    )


def reply_only_loss(
    causal_lm: nn.Module, hidden: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """`reply_loss` from the final hidden states (B, T, d): logits only at the positions it reads."""
    read = labels[:, 1:] != -100  # (B, T-1): position t predicts label t+1
    logits = causal_lm.get_output_embeddings()(hidden[:, :-1][read])  # (N, V)
    cap = getattr(causal_lm.config, "final_logit_softcapping", None)
    if cap:  # as the model's own forward does (Gemma 2)
        logits = torch.tanh(logits / cap) * cap
    return torch.nn.functional.cross_entropy(logits.float(), labels[:, 1:][read], reduction=reduction)


class ReplyLoss(nn.Module):
    """The model plus its training loss, as one module: accelerate (DDP, FSDP) wraps this
    forward, whatever submodules the fast path calls inside it."""

    def __init__(self, model: nn.Module, decoder: prefix.Decoder | None):
        super().__init__()
        self.model = model
        self.decoder = decoder  # None: the straightforward path
        self._no_split_modules = getattr(prefix.causal_lm(model), "_no_split_modules", None)  # FSDP's wrap units

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """The summed token losses of these rows (the loop divides by the global token count)."""
        if self.decoder is None:
            return reply_loss(self.model(input_ids=ids, attention_mask=mask).logits, labels, "sum")
        return reply_only_loss(self.decoder.causal, self.decoder.hidden_states(ids, mask, rows), labels, "sum")


def my_rows(rows: list[int], index: int, count: int) -> tuple[list[int], float]:
    """This process's share of the global batch, and its weight: a process left without rows
    (batch smaller than the process count) still runs one, weighted 0, so that DDP's
    gradient all-reduce sees every process."""
    mine = rows[index::count]
    return (mine, 1.0) if mine else (rows[:1], 0.0)


def train(
    model,
    trainable: list[torch.nn.Parameter],
    examples,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    pad_id: int,
    mixed_precision: str = "auto",
    desc: str = "tune",
    fast: bool = True,
    prefix_cache_bytes: int = 1 << 30,
) -> list[dict]:
    """Train `trainable` on `examples`; returns the loss curve [{step, loss}].

    `trainable` must be exactly the parameters that require grad (each method's prepare
    marks them): that alone says which bottom layers are a frozen prefix (prefix.py),
    cached when it fits in `prefix_cache_bytes`. `fast=False`: the straightforward loop."""
    from accelerate import Accelerator

    marked = {id(weight) for weight in model.parameters() if weight.requires_grad}
    if marked != {id(weight) for weight in trainable}:
        raise ValueError("train: `trainable` must be exactly the model's parameters that require grad")

    if mixed_precision == "auto":
        mixed_precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(mixed_precision=mixed_precision, cpu=not torch.cuda.is_available())
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=max(1, steps // 10), num_training_steps=steps)
    decoder = prefix.Decoder(model, sum(len(ids) for ids, _ in examples), prefix_cache_bytes) if fast else None
    step_loss, opt = accelerator.prepare(ReplyLoss(model, decoder), opt)
    step_loss.train()
    rng = random.Random(f"{seed}|order")
    order: list[int] = []
    curve = []
    for step in (bar := tqdm(range(steps), desc=desc, mininterval=2, disable=not accelerator.is_main_process)):
        if len(order) < batch_size:  # epochs of the same shuffled order for every method
            fresh = list(range(len(examples)))
            rng.shuffle(fresh)
            order += fresh
        rows, order = order[:batch_size], order[batch_size:]
        n_tokens = max(1, sum(reply_tokens(examples[i]) for i in rows))  # the global batch's, known to all
        rows, weight = my_rows(rows, accelerator.process_index, accelerator.num_processes)
        ids, mask, labels = collate([examples[i] for i in rows], pad_id, accelerator.device)
        with accelerator.autocast():
            summed = step_loss(ids, mask, labels, rows) * weight
        accelerator.backward(summed * (accelerator.num_processes / n_tokens))  # DDP's mean over processes undone
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss = accelerator.reduce(summed.detach(), reduction="sum").item() / n_tokens  # the global mean
        curve.append({"step": step, "loss": round(loss, 6)})
        bar.set_postfix(loss=f"{loss:.4f}")
    step_loss.eval()
    accelerator.wait_for_everyone()
    return curve


def optimizer_state_bytes(trainable: list[torch.nn.Parameter]) -> int:
    """AdamW keeps two fp32 moments per trainable value."""
    return sum(2 * weight.numel() * 4 for weight in trainable)
