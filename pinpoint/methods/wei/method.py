"""Wei et al.'s intervention trains every weight, as full SFT does (what differs is its data:
pinpoint.tuning.examples.claim_dialogues)."""

from pinpoint.tuning.whole import load, prepare, save

__all__ = ["load", "prepare", "save"]
