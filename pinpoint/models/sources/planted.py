"""A built-in base (the organism, SmolLM2) with sycophancy planted in chosen heads: attribution's ground truth
(pinpoint.attribution.planting). Named explicitly (`model.source: planted`): it claims the names its bases do."""

from pinpoint.registry.models import ModelSource

SOURCE = ModelSource(
    "planted",
    lambda name: name in ("organism", "smollm2-135m-instruct"),
    "pinpoint.attribution.planting:build_base",
    "pinpoint.attribution.planting",
    order=2,
)
