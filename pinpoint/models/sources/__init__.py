"""One card per model source (pinpoint.registry.models): which `model.name` it claims, what builds and measures
it, torch-free."""
