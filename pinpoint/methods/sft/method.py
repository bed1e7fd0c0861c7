"""Full supervised fine-tuning: every parameter trains; the checkpoint is a whole HF model."""

from pinpoint.tuning.whole import load, prepare, save

__all__ = ["load", "prepare", "save"]
