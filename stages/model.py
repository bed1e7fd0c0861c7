"""DVC stage `model-<config>`: build models/<config>/base from `model.name` (see model_sources)."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import model_sources, params
from pinpoint.console import print_table
from pinpoint.manifest import read_manifest, write_manifest
from pinpoint.stage import atomic_dir, run_stage


def main(paths):
    model_params = params.load("model", paths.config)
    source = model_sources.source_of(model_params.name)
    with atomic_dir(paths.base) as tmp:
        summary = source.build(model_params, tmp)
        model_sources.record_placement(model_params, tmp)
        write_manifest(tmp, read_manifest(tmp) | {"summary": summary})
    print_table(f"the model under study ({source.name})", {"base": summary})


if __name__ == "__main__":
    run_stage(main)
