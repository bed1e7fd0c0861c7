"""One card per fact source (pinpoint.registry.facts): a loader `(source params, model dir) -> list[Fact]`
and `SOURCE`, torch-free."""
