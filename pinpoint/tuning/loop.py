"""The one training loop: every tuning method and the organism itself, through accelerate.

What varies is data, not code: a `Recipe` (steps, optimizer, schedule, clipping, micro-batches)
and a `Loss` (how a batch's loss is computed and normalised). AdamW runs over the parameters
marked trainable, and only those (optimizer state exists for nothing else). On CUDA, bf16
autocast by default; on several GPUs, launch with `accelerate launch` (DDP or FSDP).

Tuning (`ReplyLoss`): the mean next-token loss over the reply tokens of the global batch; epochs
of one shuffled order (`Shuffled`), the same for every method at the same seed; linear warm-up
and decay. Exact across process counts: each process takes every num_processes-th row, and its
loss is its rows' summed token losses over the *global* number of reply tokens, times
num_processes (DDP averages gradients over processes), so 1 process or N give the same updates
(to float summation order). Fast by default, with the same losses and updates to float tolerance:
logits only at the positions whose next token is a reply label, and a frozen prefix computed
once per example (frozen_prefix.py: with SPT, every layer below the lowest tuned head). `fast=False`
is the straightforward reference: a plain forward and full logits.

The organism (`ExampleLoss`, pinpoint.organism.recipe): a fresh batch each step, the per-example
mean loss (a claim's reply is one letter, a challenge's a sentence), micro-batches of similar
lengths, clipping and its own schedule.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from pinpoint.tuning import frozen_prefix

Example = tuple[list[int], list[int]]  # (input ids, labels: -100 outside the reply)


@dataclass(frozen=True)
class Recipe:
    """How to train, apart from the data and the loss."""

    steps: int
    lr: float
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    clip_norm: float | None = None
    schedule: Callable[[int], float] | None = None  # step -> lr factor; None: linear warm-up (10%) and decay to 0
    micro_batch: int | None = None  # rows per forward pass, sorted by length; None: the whole batch at once
    log_every: int = 1
    seed: int = 0
    mixed_precision: str = "auto"  # auto: bf16 on CUDA, else no
    cpu: bool = False  # train on the CPU even where there is a GPU (the organism: the same organism everywhere)
    desc: str = "train"

    def lr_lambda(self) -> Callable[[int], float]:
        if self.schedule is not None:
            return self.schedule
        warmup = max(1, self.steps // 10)  # as transformers' get_linear_schedule_with_warmup

        def linear(step: int) -> float:
            if step < warmup:
                return step / warmup
            return max(0.0, (self.steps - step) / max(1, self.steps - warmup))

        return linear


class Shuffled:
    """Batches of a fixed example list: epochs of one shuffled order per seed."""

    def __init__(self, examples: Sequence[Example], batch_size: int, seed: int):
        self.examples, self.batch_size = examples, batch_size
        self._rng, self._order = random.Random(f"{seed}|order"), []

    def __call__(self, step: int) -> tuple[list[Example], list[int]]:
        """(the step's examples, their indices: stable keys for the prefix cache)."""
        if len(self._order) < self.batch_size:
            fresh = list(range(len(self.examples)))
            self._rng.shuffle(fresh)
            self._order += fresh
        rows, self._order = self._order[: self.batch_size], self._order[self.batch_size :]
        return [self.examples[i] for i in rows], rows


def collate(batch: Sequence[Example], pad_id: int, device):
    """Right-padded (ids, mask, labels), each (B, T)."""
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (x, y) in enumerate(batch):
        ids[i, : len(x)], labels[i, : len(y)], mask[i, : len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids.to(device), mask.to(device), labels.to(device)


def reply_tokens(example: Example) -> int:
    """How many reply tokens an example's loss reads (labels 1.. that are not -100)."""
    return sum(1 for y in example[1][1:] if y != -100)


def reply_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Next-token loss over the reply tokens (mean or sum), from logits (B, T, V) at every position."""
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
    forward, whatever submodules the fast path calls inside it. Summed token losses, normalised
    by the global batch's reply tokens."""

    def __init__(self, model: nn.Module, decoder: frozen_prefix.Decoder | None):
        super().__init__()
        self.model = model
        self.decoder = decoder  # None: the straightforward path
        self._no_split_modules = getattr(
            frozen_prefix.causal_lm(model), "_no_split_modules", None
        )  # FSDP's wrap units

    @staticmethod
    def weight(examples: Sequence[Example]) -> int:
        return max(1, sum(reply_tokens(e) for e in examples))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, keys: list[int]) -> torch.Tensor:
        if self.decoder is None:
            return reply_loss(self.model(input_ids=ids, attention_mask=mask).logits, labels, "sum")
        return reply_only_loss(self.decoder.causal, self.decoder.hidden_states(ids, mask, keys), labels, "sum")


class ExampleLoss(nn.Module):
    """Each example's mean loss over its own reply tokens, summed; normalised by the example count
    (per example, not per token: one-letter replies would drown in a token mean). Right padding
    under a causal mask needs no attention mask: no real token attends to the pads after it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @staticmethod
    def weight(examples: Sequence[Example]) -> int:
        return len(examples)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, keys: list[int]) -> torch.Tensor:
        logits = self.model(input_ids=ids).logits
        targets = labels[:, 1:]
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="none"
        ).view(targets.shape)
        return (nll.sum(-1) / (targets != -100).sum(-1).clamp(min=1)).sum()


def my_rows(n: int, index: int, count: int) -> tuple[list[int], float]:
    """This process's rows of a global batch of n, and its weight: a process left without rows
    (batch smaller than the process count) still runs one, weighted 0, so that DDP's gradient
    all-reduce sees every process."""
    mine = list(range(index, n, count))
    return (mine, 1.0) if mine else ([0], 0.0)


def train(model, trainable: list[nn.Parameter], batches, loss: nn.Module, recipe: Recipe, pad_id: int) -> list[dict]:
    """Train `trainable` with `batches(step) -> (examples, keys)` and `loss`; returns the curve [{step, loss}]
    (the mean loss of each logged step).

    `trainable` must be exactly the parameters that require grad (each method's prepare marks
    them): that alone says which bottom layers are a frozen prefix (frozen_prefix.py)."""
    from accelerate import Accelerator

    marked = {id(weight) for weight in model.parameters() if weight.requires_grad}
    if marked != {id(weight) for weight in trainable}:
        raise ValueError("train: `trainable` must be exactly the model's parameters that require grad")
    mixed = recipe.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    _fresh_state(mixed)
    accelerator = Accelerator(mixed_precision=mixed, cpu=recipe.cpu or not torch.cuda.is_available())
    torch.manual_seed(recipe.seed)
    opt = torch.optim.AdamW(trainable, lr=recipe.lr, weight_decay=recipe.weight_decay, betas=recipe.betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, recipe.lr_lambda())
    step_loss, opt = accelerator.prepare(loss, opt)
    step_loss.train()
    curve = []
    for step in (bar := tqdm(range(recipe.steps), desc=recipe.desc, mininterval=2, disable=_quiet(accelerator))):
        examples, keys = batches(step)
        total = loss.weight(examples)  # the global batch's, known to every process
        mine, weight = my_rows(len(examples), accelerator.process_index, accelerator.num_processes)
        parts = [mine]
        if recipe.micro_batch:  # similar lengths together: less padding
            mine = sorted(mine, key=lambda i: len(examples[i][0]))
            parts = [mine[i : i + recipe.micro_batch] for i in range(0, len(mine), recipe.micro_batch)]
        opt.zero_grad(set_to_none=True)
        summed = 0.0
        for part in parts:
            ids, mask, labels = collate([examples[i] for i in part], pad_id, accelerator.device)
            with accelerator.autocast():
                part_loss = step_loss(ids, mask, labels, [keys[i] for i in part] if keys else []) * weight
            scaled = (
                part_loss / total
                if accelerator.num_processes == 1
                else part_loss * (accelerator.num_processes / total)
            )
            accelerator.backward(scaled)  # DDP's mean over processes undone by the factor above
            summed += float(accelerator.reduce(scaled.detach(), reduction="sum")) / accelerator.num_processes
        if recipe.clip_norm is not None:
            accelerator.clip_grad_norm_(trainable, recipe.clip_norm)
        opt.step()
        sched.step()
        if step % recipe.log_every == 0 or step == recipe.steps - 1:
            curve.append({"step": step, "loss": summed})  # unrounded: callers round as they write
        bar.set_postfix(loss=f"{summed:.4f}")
    opt.zero_grad(set_to_none=True)
    step_loss.eval()
    accelerator.wait_for_everyone()
    return curve


def _fresh_state(mixed: str) -> None:
    """accelerate keeps one mixed-precision setting per process; a second run in the same process (a test, a
    notebook) with another one starts from a fresh state (the process group, if any, is kept)."""
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state and AcceleratorState().mixed_precision != mixed:
        AcceleratorState._reset_state()


def _quiet(accelerator) -> bool | None:
    """No progress bar on other processes; none in a non-interactive log (tqdm's disable=None)."""
    return True if not accelerator.is_main_process else None


def optimizer_state_bytes(trainable: list[nn.Parameter]) -> int:
    """AdamW keeps two fp32 moments per trainable value."""
    return sum(2 * weight.numel() * 4 for weight in trainable)
