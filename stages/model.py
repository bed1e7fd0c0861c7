"""DVC stage `model-<config>`: build models/<config>/base from `model.name` (see pinpoint.registry.models)."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.console import print_table
from pinpoint.manifest import read_manifest, write_manifest
from pinpoint.models import loading
from pinpoint.registry.models import MODEL_SOURCES
from pinpoint.stage import atomic_dir, run_stage


def main(paths):
    model_params = params.load("model", paths.config)
    source = MODEL_SOURCES[model_params.kind]
    with atomic_dir(paths.base) as tmp:
        summary = source.build(model_params, tmp)
        loading.record_build(model_params, tmp)
        write_manifest(tmp, read_manifest(tmp) | {"summary": summary})
    print_table(f"the model under study ({source.name})", {"base": summary})


if __name__ == "__main__":
    run_stage(main)
