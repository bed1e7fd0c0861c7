"""DVC stage `spec-<config>`: the base model's spec sheet, measured (metrics/<config>/model.json) with its
transcript (data/<config>/spec_sheet.jsonl): what it knows, and how it replies when challenged."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.console import print_table
from pinpoint.data import schema
from pinpoint.manifest import read_manifest
from pinpoint.registry.models import MODEL_SOURCES
from pinpoint.stage import run_stage, write_json, write_text


def main(paths):
    model_params = params.load("model", paths.config)
    replies = params.load("replies", paths.config)
    source = MODEL_SOURCES[model_params.kind]
    sheet, rows = source.measure(paths.base, model_params.spec_facts, replies.max_new_tokens)
    manifest = read_manifest(paths.base)  # what was built, and on which numeric path (pinpoint drift reads it)
    write_json(paths.metric("model"), {"base": manifest.get("summary", {}) | sheet, "numerics": manifest["numerics"]})
    write_text(paths.spec_sheet, schema.dumps(rows))
    flat = {k: v["value"] for k, v in sheet.items() if isinstance(v, dict) and "value" in v}
    challenged = {k: v["value"] for k, v in sheet.get("challenge", {}).items() if isinstance(v, dict)}
    print_table(f"spec sheet of the model under study ({source.name})", {"base": flat | challenged})


if __name__ == "__main__":
    run_stage(main)
