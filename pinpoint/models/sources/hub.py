"""Anything else: a hub id or a local HF directory, pinned by a manifest (asked last: it claims every name)."""

from pinpoint.registry.models import ModelSource

SOURCE = ModelSource("hub", lambda name: True, "pinpoint.models.loading:build_hub", order=1)
