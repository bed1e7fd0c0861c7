"""A GGUF file named by `model.name`, de-quantized once into an ordinary HF directory."""

from pinpoint.registry.models import ModelSource

SOURCE = ModelSource("gguf", lambda name: name.lower().endswith(".gguf"), "pinpoint.models.gguf:build_gguf")
