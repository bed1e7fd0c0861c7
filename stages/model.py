"""DVC stage `model@<config>`: build models/<config>/base from `model.name` (see model_sources)."""

from pinpoint import model_sources, params, spec_sheet
from pinpoint.report import print_table
from pinpoint.stage import atomic_dir, run_stage, write_json


def main(paths):
    model_params = params.load("model", paths.config)
    source = model_sources.source_of(model_params.name)
    with atomic_dir(paths.base) as tmp:
        summary = source.build(model_params, tmp)
        model_sources.record_placement(model_params, tmp)
        if source.name != "organism":  # the organism measures its own sheet on its world
            summary |= spec_sheet.measure(tmp, model_params.spec_facts)
    write_json(paths.metrics / "model.json", {"base": summary})
    print_table(f"the model under study ({source.name})", {"base": summary})


if __name__ == "__main__":
    run_stage(main)
