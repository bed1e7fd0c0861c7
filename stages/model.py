"""DVC stage `model`: train the built-in organism, or pin a hub model by manifest."""

from pathlib import Path

from pinpoint import params
from pinpoint.report import print_table
from pinpoint.stage import atomic_dir, run_stage, write_json

OUT = Path("models/base")
METRICS = Path("metrics/model.json")


def main():
    p = params.load("model")
    if p.name == "organism":
        from pinpoint import organism

        with atomic_dir(OUT) as tmp:
            sheet = organism.build(p.organism, tmp)
        write_json(METRICS, {"base": sheet})
        print_table("the model organism (held-out prompts)", {"base": sheet})
        return
    from pinpoint.models import hub_manifest, write_manifest

    manifest = hub_manifest(p.name, p.revision)  # fails fast when the hub is unreachable
    manifest["dtype"] = p.dtype
    with atomic_dir(OUT) as tmp:
        write_manifest(tmp, manifest)
    cfg = manifest["config"]
    summary = {"name": p.name, "revision": manifest["revision"], "model_type": cfg.get("model_type"),
               "layers": cfg.get("num_hidden_layers"), "heads": cfg.get("num_attention_heads")}
    write_json(METRICS, {"base": summary})
    print_table("the model under study", {"base": summary})


if __name__ == "__main__":
    run_stage(main)
