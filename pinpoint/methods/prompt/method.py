"""The prompt baseline: the base model with a system message (tune.prompt.system), nothing trained.

Its checkpoint is a manifest; loading it gives the base and a tokenizer that carries the message
(prompts.SYSTEM), which every prompt rendered for it then starts with: the chat template's system
turn, or, for a template without a system role and in the plain format, text in front of the
first user turn (the organism, whose closed vocabulary cannot read it: its figures say so).
Costs nothing to fit; at inference, the message's tokens in every prompt.
"""

from __future__ import annotations

from pathlib import Path

from pinpoint import prompts
from pinpoint.models import checkpoints, loading
from pinpoint.models.heads import HeadLayout


def fit(job) -> dict:
    """Write the checkpoint: the manifest with the system message."""
    layout = HeadLayout.of(loading.model_config(job.base))
    manifest = checkpoints.tuned_manifest("prompt", job.base, job.record_dir, layout, [], 0)
    loading.write_manifest(job.out, manifest | {"system": job.settings.system})
    return {"trainable_params": 0, "system_words": len(job.settings.system.split())}


def load(directory: Path, manifest: dict, dtype: str = "auto", device: str = "auto"):
    """The base, with a tokenizer that carries the system message."""
    model, tokenizer, _ = checkpoints.load_base(directory, manifest, dtype, device)
    setattr(tokenizer, prompts.SYSTEM, manifest["system"])
    return model, tokenizer
