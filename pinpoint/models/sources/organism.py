"""The built-in model organism, trained by the model stage in minutes (pinpoint.organism)."""

from pinpoint.registry.models import ModelSource

SOURCE = ModelSource(
    "organism", lambda name: name == "organism", "pinpoint.organism.recipe:build_base", "pinpoint.organism.spec"
)
