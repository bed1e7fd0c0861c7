"""One card per evaluation suite (pinpoint.registry.suites): its name, version, runner and metrics, torch-free."""
