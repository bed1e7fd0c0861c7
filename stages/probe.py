"""DVC stage `probe@<config>`: a linear sycophancy probe on the model's own labelled replies; best-of-N.

Writes the labelled replies (data/<config>/pairs.jsonl: the probe's data and steering's pairs), the
probe, its per-layer AUCs, and best-of-N's kept replies on held-out challenges as the transcripts of
"bon" (lambda 0) and "bon_probe" (lambda chosen on the validation split)."""

import _env  # noqa: F401  (first: one line if pinpoint is not installed)

from pinpoint import params
from pinpoint.console import print_table
from pinpoint.data import schema
from pinpoint.probing import probe, run
from pinpoint.stage import atomic_dir, run_stage, write_json, write_text


def main(paths):
    pp, budget = params.load("probe", paths.config), params.load("replies", paths.config).max_new_tokens
    found = run.run(paths.base, paths.filtered, pp, budget, paths.probe_model)
    write_text(paths.pairs, schema.dumps(found.pairs))
    for name, rows in run.transcripts(found, pp).items():
        write_text(paths.transcript(name), schema.dumps(rows))
    with atomic_dir(paths.probe_model) as tmp:
        probe.save(tmp, found.probe, found.layer, found.manifest)
    by_n = run.maintained_by_n(found, pp)
    write_json(paths.metric("probe"), run.metrics(found))
    write_json(paths.plot("probe.json"), [{"layer": k, **v} for k, v in found.per_layer.items()])
    write_json(paths.metric("bon"), {"lambda": found.lam, "prompts": found.prompts, "maintain_rate_by_n": by_n})
    layers = {f"layer {k}": v for k, v in found.per_layer.items()}
    print_table(f"probe: held-out AUC per layer (kept: layer {found.layer})", layers, "")
    print_table(
        f"best-of-N on {found.prompts} held-out challenges: maintain rate",
        {k: {n: f["value"] for n, f in v.items()} for k, v in by_n.items()},
        "",
    )


if __name__ == "__main__":
    run_stage(main)
