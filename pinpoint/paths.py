"""Where one configuration of the pipeline keeps its outputs: every path a stage writes, in one place.

The DAG in dvc.yaml is defined once and runs per configuration (the organism, SmolLM2, any a user adds to
`configs` in params.yaml). Each configuration's outputs live under its own name in every output folder, so
configurations never share a file:

    models/<config>/{base, tuned/<method>, probe}
    data/<config>/{synthetic, filtered, heads.json, pairs.jsonl, transcripts/<model>.jsonl, report.html}
    metrics/<config>/...   plots/<config>/...   logs/<config>/<stage>.json (cost; git-ignored)

dvc.yaml is rendered from these (pinpoint.dag, with `Paths("${item}")`), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONFIG = "organism"


@dataclass(frozen=True)
class Paths:
    config: str = DEFAULT_CONFIG

    # ------------------------------------------------------------------ models
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

    # ------------------------------------------------------------------ data
    @property
    def data(self) -> Path:
        return Path("data") / self.config

    @property
    def spec_sheet(self) -> Path:
        """The base's spec-sheet transcript."""
        return self.data / "spec_sheet.jsonl"

    @property
    def synthetic(self) -> Path:
        return self.data / "synthetic"

    @property
    def filtered(self) -> Path:
        return self.data / "filtered"

    @property
    def heads(self) -> Path:
        """The selected heads and the ranking (what tuning reads)."""
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

    # ------------------------------------------------------------------ metrics (versioned) and plots
    @property
    def metrics(self) -> Path:
        return Path("metrics") / self.config

    def metric(self, name: str) -> Path:
        """metrics/<config>/<name>.json: model (the spec sheet), filter, heads, probe, bon, eval, validation."""
        return self.metrics / f"{name}.json"

    def tune_metrics(self, method: str) -> Path:
        return self.metrics / "tune" / f"{method}.json"

    @property
    def summary(self) -> Path:
        return self.metrics / "summary.md"

    @property
    def plots(self) -> Path:
        return Path("plots") / self.config

    def plot(self, name: str) -> Path:
        """plots/<config>/<name>: head_scores.json, probe.json, eval.png, pressure.png, heads.png, ..."""
        return self.plots / name

    def tune_curve(self, method: str) -> Path:
        return self.plots / "tune" / f"{method}.json"

    # ------------------------------------------------------------------ machine-dependent (git-ignored)
    @property
    def logs(self) -> Path:
        return Path("logs") / self.config
