"""Tokenise, pad and run a batch: the helpers every layer that feeds a model shares.

Prompts are left-padded so the final position is index -1 in every row; position ids
are derived from the attention mask, so a prompt scores the same in any batch. Given
`max_length` (the model's positions), a prompt too long to fit with what follows it
keeps its end, the part the model answers (and its BOS).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pinpoint.prompts import reply_text


def max_positions(model) -> int | None:
    """How many positions the model has (None where its config sets no limit)."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def prompt_room(max_length: int | None, after: int) -> int | None:
    """Positions left for a prompt that `after` tokens follow (at least one); None: no limit."""
    return None if max_length is None else max(1, max_length - after)


def keep_end(ids: list[int], room: int | None, bos_id: int | None = None) -> list[int]:
    """Left truncation to `room` tokens: the end of a prompt is what the model answers;
    a leading BOS stays, as models read every text after one."""
    if room is None or len(ids) <= room:
        return ids
    head = ids[:1] if bos_id is not None and ids[0] == bos_id and room > 1 else []
    return head + ids[len(ids) - room + len(head) :]


def encode_prompt(tokenizer, text: str, max_length: int | None = None) -> list[int]:
    """A prompt's ids; with max_length, only its last max_length tokens (see keep_end)."""
    bos = tokenizer.bos_token
    add_special = not (bos and text.startswith(bos))  # chat templates already start with BOS
    return keep_end(tokenizer(text, add_special_tokens=add_special)["input_ids"], max_length, tokenizer.bos_token_id)


def encode_completion(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def first_reply_token(tokenizer, prompt: str, word: str, fmt: str = "plain") -> int:
    """Id of the first token of a reply that starts with `word`, right after `prompt`.

    Read off the encoding of prompt + reply, not of the word alone: chat templates and
    SentencePiece tokenizers spell a word differently at the start of a turn."""
    head = encode_prompt(tokenizer, prompt)
    full = encode_prompt(tokenizer, prompt + reply_text(word.strip(), fmt))
    if len(full) <= len(head) or full[: len(head)] != head:
        raise ValueError(f"{word!r} does not extend the prompt's tokens cleanly")
    token = full[len(head)]
    if tokenizer.unk_token_id is not None and token == tokenizer.unk_token_id:
        raise ValueError(f"{word!r} is not in the model's vocabulary")
    return token


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s) :] = 1
    return ids.to(device), mask.to(device)


def position_ids(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)


def forward(model, ids: torch.Tensor, mask: torch.Tensor, **kw):
    """Model forward with mask-derived positions (left padding safe)."""
    return model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), **kw)
