"""Where one configuration of the pipeline keeps its outputs.

The DAG in dvc.yaml is defined once and runs per configuration (the organism, SmolLM2,
any a user adds to `configs` in params.yaml). Each configuration's outputs live under
its own name in every output folder, so configurations never share a file:

    models/<config>/{base, tuned/<method>, probe}
    data/<config>/{synthetic, filtered, heads.json, pairs.jsonl, transcripts/<model>.jsonl, report.html}
    metrics/<config>/...   plots/<config>/...   logs/<config>/<stage>.json (cost; git-ignored)

dvc.yaml spells the same paths with `${item}`; tests/test_dvc.py checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONFIG = "organism"


@dataclass(frozen=True)
class Paths:
    config: str = DEFAULT_CONFIG

    @property
    def models(self) -> Path:
        return Path("models") / self.config

    @property
    def base(self) -> Path:
        return self.models / "base"

    @property
    def tuned_root(self) -> Path:
        return self.models / "tuned"

    def tuned(self, method: str) -> Path:
        return self.tuned_root / method

    @property
    def probe_model(self) -> Path:
        return self.models / "probe"

    @property
    def data(self) -> Path:
        return Path("data") / self.config

    @property
    def synthetic(self) -> Path:
        return self.data / "synthetic"

    @property
    def filtered(self) -> Path:
        return self.data / "filtered"

    @property
    def heads(self) -> Path:
        return self.data / "heads.json"

    @property
    def pairs(self) -> Path:
        """The probe stage's labelled replies: the probe's data and steering's contrastive pairs."""
        return self.data / "pairs.jsonl"

    @property
    def transcripts(self) -> Path:
        return self.data / "transcripts"

    def transcript(self, model: str) -> Path:
        return self.transcripts / f"{model}.jsonl"

    @property
    def report(self) -> Path:
        """The configuration's report page (self-contained HTML)."""
        return self.data / "report.html"

    @property
    def metrics(self) -> Path:
        return Path("metrics") / self.config

    @property
    def plots(self) -> Path:
        return Path("plots") / self.config

    @property
    def logs(self) -> Path:
        return Path("logs") / self.config
