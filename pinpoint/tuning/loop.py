"""The one training loop every method shares, through accelerate.

Same data order, number of steps and seed for every method; AdamW over the
parameters the method marks trainable (and only those: optimizer state exists for
nothing else); linear warm-up and decay. On CUDA, bf16 autocast by default; on
several GPUs, launch with `accelerate launch` (DDP or FSDP): the trainable
parameters are ordinary nn.Parameters either way.
"""

from __future__ import annotations

import random

import torch
from tqdm.auto import tqdm


def collate(batch, pad_id: int, device):
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (x, y) in enumerate(batch):  # right padding
        ids[i, : len(x)], labels[i, : len(y)], mask[i, : len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids.to(device), mask.to(device), labels.to(device)


def reply_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss over the reply tokens of the batch."""
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)


def train(model, trainable: list[torch.nn.Parameter], examples, *, steps: int, batch_size: int, lr: float,
          weight_decay: float, seed: int, pad_id: int, mixed_precision: str = "auto", desc: str = "tune") -> list[dict]:
    """Train `trainable` on `examples`; returns the loss curve [{step, loss}]."""
    from accelerate import Accelerator

    if mixed_precision == "auto":
        mixed_precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(mixed_precision=mixed_precision, cpu=not torch.cuda.is_available())
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps))
    model, opt = accelerator.prepare(model, opt)
    model.train()
    rng = random.Random(f"{seed}|order")
    order: list[int] = []
    curve = []
    for step in (bar := tqdm(range(steps), desc=desc, mininterval=2, disable=not accelerator.is_main_process)):
        if len(order) < batch_size:  # epochs of the same shuffled order for every method
            fresh = list(range(len(examples)))
            rng.shuffle(fresh)
            order += fresh
        batch, order = [examples[i] for i in order[:batch_size]], order[batch_size:]
        batch = batch[accelerator.process_index:: accelerator.num_processes] or batch[:1]
        ids, mask, labels = collate(batch, pad_id, accelerator.device)
        with accelerator.autocast():
            loss = reply_loss(model(input_ids=ids, attention_mask=mask).logits, labels)
        accelerator.backward(loss)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        curve.append({"step": step, "loss": round(loss.item(), 6)})
        bar.set_postfix(loss=f"{loss.item():.4f}")
    model.eval()
    accelerator.wait_for_everyone()
    return curve


def optimizer_state_bytes(trainable: list[torch.nn.Parameter]) -> int:
    """AdamW keeps two fp32 moments per trainable value."""
    return sum(2 * p.numel() * 4 for p in trainable)
