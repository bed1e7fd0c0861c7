"""The DVC pipeline, written once: `pinpoint dag` renders dvc.yaml from the stage table below.

Each stage lists its script, inputs, outputs and the params keys it reads; its code deps are
computed, never written by hand: the script's import closure inside pinpoint/ (every import,
function-level ones too), plus the modules the registries name for what the stage runs (a
method's module and its registration for tune-<method> and evaluate-<method>; every suite's runner for
evaluate).
So editing a module re-runs exactly the stages that import it: the tuning loop, the tune and
evaluate stages of the trained methods; report.py, only the summary; a method's module, only
that method's stages. One stage per method keeps method-specific params per method: a change of
LoRA's rank re-runs tune-lora and evaluate-lora, nothing else. tests/test_dvc.py checks that the
committed dvc.yaml is this rendering, and the end-to-end tests that every module a stage really
loaded is among its deps (the cost log records them).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from pinpoint.paths import Paths

ROOT = Path(__file__).resolve().parents[1]
C = "${item}"  # the configuration, in dvc.yaml


# --------------------------------------------------------------------------- import closures


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The file of a pinpoint module (a package's __init__.py), or None."""
    base = root / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported(path: Path, root: Path = ROOT) -> set[str]:
    """The pinpoint modules a file imports (anywhere in it), their packages included."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out.update(m for name in names if name.split(".")[0] == "pinpoint" for m in with_packages(name))
    return {n for n in out if module_file(n, root)}


def with_packages(name: str) -> list[str]:
    """A module and the packages whose __init__ Python runs before it: pinpoint, pinpoint.tuning, ..."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(starts: list[Path | str], root: Path = ROOT) -> list[str]:
    """Every file of pinpoint/ that running these scripts or modules may import, relative to root."""
    named = sorted({m for s in starts if isinstance(s, str) for m in with_packages(s)})  # and their packages
    todo = [s for s in starts if isinstance(s, Path)] + [module_file(n, root) for n in named]
    seen = {p for p in todo if p.is_relative_to(root / "pinpoint")}
    while todo:
        for name in imported(todo.pop(), root):
            path = module_file(name, root)
            if path not in seen:
                seen.add(path)
                todo.append(path)
    return sorted(str(p.relative_to(root)) for p in seen)


# --------------------------------------------------------------------------- the stages


@dataclass
class Stage:
    name: str
    script: str
    args: str = ""
    inputs: list[str] = field(default_factory=list)
    params: list[str] | dict[str, list[str]] = field(default_factory=list)  # by configuration: per block
    outs: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    plots: list[str | dict] = field(default_factory=list)
    modules: list[str] | dict[str, list[str]] = field(default_factory=list)  # registry-named modules it runs
    configs: list[str] = field(default_factory=list)  # one block per configuration (its modules differ by it)
    over: str = "configs"  # the params.yaml list a foreach stage runs over: configs, or tuned

    def render(self, root: Path = ROOT) -> list[str]:
        """The stage's dvc.yaml block(s): a foreach over the configurations, or one block per configuration."""
        if not self.configs:
            return [
                f"  {self.name}:",
                f"    foreach: ${{{self.over}}}",
                "    do:",
                *self._body(root, self.modules, C, 6),
            ]
        blocks = []
        for config in self.configs:  # `model@organism` is foreach's naming, so `model-organism`
            blocks += [f"  {self.name}-{config}:", *self._body(root, self.modules[config], config, 4), ""]
        return blocks[:-1]

    def _body(self, root: Path, modules: list[str], config: str, indent: int) -> list[str]:
        pad, code = " " * indent, closure([root / "stages" / f"{self.script}.py", *filter(None, modules)], root)

        def item(path: str) -> str:
            return path.replace(C, config)

        lines = [f"{pad}cmd: python stages/{self.script}.py {config}{(' ' + self.args) if self.args else ''}"]
        lines.append(f"{pad}deps:")
        lines += [f"{pad}  - {item(d)}" for d in [f"stages/{self.script}.py", "stages/_env.py", *code, *self.inputs]]
        keys = self.params[config] if isinstance(self.params, dict) else self.params
        if keys:
            lines += [f"{pad}params:", *(f"{pad}  - {item(p)}" for p in keys)]
        for kind, paths in (("outs", self.outs), ("metrics", self.metrics)):
            if paths:
                lines.append(f"{pad}{kind}:")
                for p in paths:
                    lines.append(f"{pad}  - {item(p)}:")
                    if kind == "metrics" or p.startswith(("metrics/", "plots/")):
                        lines.append(f"{pad}      cache: false")
                    lines.append(f"{pad}      persist: true")
        if self.plots:
            lines.append(f"{pad}plots:")
            for p in self.plots:
                path, extra = (p, {}) if isinstance(p, str) else (p["path"], p)
                lines += [f"{pad}  - {item(path)}:", f"{pad}      cache: false", f"{pad}      persist: true"]
                lines += [f"{pad}      {k}: {v}" for k, v in extra.items() if k != "path"]
        return lines


def stages(methods: list[str], params_path: Path = ROOT / "params.yaml") -> list[Stage]:
    """The stage table, for the methods params.yaml trains (the model and spec stages once per configuration:
    each depends on its own model source's modules). Every output path comes from `Paths`, every module a stage
    runs by name from the registry that names it. Long: it is the pipeline's one listing, top to bottom."""
    from pinpoint import params
    from pinpoint.evaluation.context import VALIDATED
    from pinpoint.figures.plots import FILES as PLOTTED
    from pinpoint.params import TuneShared
    from pinpoint.probing.best_of_n import SUITES as BEST_OF_N_SUITES
    from pinpoint.registry.facts import FACT_SOURCES
    from pinpoint.registry.methods import METHODS
    from pinpoint.registry.models import MODEL_SOURCES
    from pinpoint.registry.suites import SUITES

    configs, tuned = params.configs(params_path), params.tuned(params_path)
    raw = params.read_file(params_path)
    p = Paths(C)
    # the keys of each configuration's model section that building reads (the spec sheet's size is the spec's)
    model_keys = {c: [f"{c}.model.{k}" for k in (raw[c].get("model") or {}) if k != "spec_facts"] for c in configs}
    # the spec sheet's size where a configuration sets one (the organism's sheet reads its own world)
    spec_keys = {
        c: [
            f"{c}.model.name",
            *[f"{c}.model.{k}" for k in ("source", "spec_facts") if k in (raw[c].get("model") or {})],
            f"{c}.replies",
        ]
        for c in configs
    }
    # each configuration's model source: its card and code, or (source auto) every card, which `auto` asks
    models = {c: params.load("model", c, params_path) for c in configs}
    cards = {
        c: [MODEL_SOURCES.card(n) for n in ([m.kind] if m.source != "auto" else MODEL_SOURCES)]
        for c, m in models.items()
    }
    builds = {c: [*cards[c], MODEL_SOURCES[m.kind].module] for c, m in models.items()}
    specs = {c: [*cards[c], MODEL_SOURCES[m.kind].spec] for c, m in models.items()}
    # the registry entries a stage runs by name, over every configuration (a foreach stage's deps are shared)
    facts = sorted(
        {FACT_SOURCES.card(s.name) for c in configs for s in params.load("synthesize", c, params_path).sources}
    )
    evaluated = sorted({s for c in tuned for s in params.load("evaluate", c, params_path).suites})

    def suites(names) -> list[str]:
        return sorted({m for name in names for m in (SUITES.card(name), SUITES[name].module)})

    def method_modules(name: str) -> list[str]:
        method = METHODS[name]
        takes_k = method.heads != "none" and method.section != "spt"  # how many heads: SPT's k
        return [method.module, METHODS.card(name), *([METHODS.card("spt")] if takes_k else [])]

    out = [
        Stage("model", "model", params=model_keys, outs=[str(p.base)], configs=configs, modules=builds),
        Stage(
            "spec",
            "spec",
            inputs=[str(p.base)],
            params=spec_keys,
            outs=[str(p.spec_sheet)],
            metrics=[str(p.metric("model"))],
            configs=configs,
            modules=specs,
        ),
        Stage(
            "synthesize",
            "synthesize",
            inputs=[str(p.base)],
            params=[f"{C}.synthesize"],
            outs=[str(p.synthetic)],
            modules=facts,
        ),
        Stage(
            "filter",
            "filter",
            inputs=[str(p.base), str(p.synthetic)],
            params=[f"{C}.filter"],
            outs=[str(p.filtered)],
            metrics=[str(p.metric("filter"))],
        ),
        Stage(
            "attribute",
            "attribute",
            inputs=[str(p.base), str(p.filtered)],
            params=[f"{C}.attribute", f"{C}.replies"],
            outs=[str(p.heads)],
            metrics=[str(p.metric("heads"))],
            plots=[
                {"path": str(p.plot("head_scores.json")), "x": "score", "y": "head", "template": "bar_horizontal"},
            ],
        ),
        Stage(
            "probe",
            "probe",
            inputs=[str(p.base), str(p.filtered)],
            params=[f"{C}.probe", f"{C}.replies"],
            outs=[str(p.probe_model), str(p.pairs), str(p.transcript("bon")), str(p.transcript("bon_probe"))],
            metrics=[str(p.metric("probe")), str(p.metric("bon"))],
            plots=[{"path": str(p.plot("probe.json")), "x": "layer", "y": "test_auc"}],
            over="tuned",
        ),
    ]
    shared = [f"{C}.tune.{key}" for key in TuneShared.model_fields]
    for name in methods:
        method = METHODS[name]
        takes_k = method.heads != "none" and method.section != "spt"
        inputs = [str(p.base), str(p.filtered)] + ([str(p.heads)] if method.heads != "none" else [])
        inputs += [str(p.synthetic)] if method.unfiltered else []
        inputs += [str(p.pairs)] if name.startswith("steer") else []
        out.append(
            Stage(
                f"tune-{name}",
                "tune",
                name,
                inputs=inputs,
                params=shared
                + [f"{C}.tune.{method.section}"]
                + ([f"{C}.tune.spt.top_k"] if takes_k else [])  # how many heads: SPT's k, for all that take heads
                + ([f"{C}.replies"] if not method.trains else []),
                outs=[str(p.tuned(name))],
                metrics=[str(p.tune_metrics(name))],
                plots=[{"path": str(p.tune_curve(name)), "x": "step"}],
                modules=method_modules(name),
                over="tuned",
            )
        )
    for name in ["base", *methods]:
        model = [str(p.base)] + ([str(p.tuned(name))] if name != "base" else [])
        out.append(
            Stage(
                f"evaluate-{name}",
                "evaluate",
                name,
                inputs=[*model, str(p.filtered), str(p.probe_model), "external"],
                params=[f"{C}.evaluate", f"{C}.replies"],
                outs=[str(p.transcript(name))],
                modules=suites(evaluated) + (method_modules(name) if name != "base" else []),
                over="tuned",
            )
        )
    if "spt" in methods:  # every choice is made on the validation split (the sweep compares this)
        out.append(
            Stage(
                "validate",
                "validate",
                inputs=[str(p.base), str(p.tuned("spt")), str(p.filtered)],
                params=[f"{C}.evaluate", f"{C}.replies"],
                metrics=[str(p.metric("validation"))],
                modules=suites(VALIDATED) + method_modules("spt"),
                over="tuned",
            )
        )
    transcripts = [str(p.transcript(n)) for n in ["base", *methods, "bon", "bon_probe"]]
    out.append(
        Stage(
            "summarize",
            "summarize",
            inputs=[
                *transcripts,
                str(p.metric("model")),
                str(p.metric("heads")),
                *(str(p.tune_curve(m)) for m in methods),
            ],
            params=[f"{C}.evaluate.format_floor"],
            outs=[str(p.summary), str(p.report)],
            metrics=[str(p.metric("eval"))],
            plots=[str(p.plot(f)) for f in PLOTTED],
            modules=[SUITES.card(s) for s in sorted({*evaluated, *BEST_OF_N_SUITES})],
            over="tuned",
        )
    )
    out.append(
        Stage(
            "check",
            "check",
            inputs=[str(p.metric("eval"))] + ([str(p.metric("validation"))] if "spt" in methods else []),
            params=[f"{C}.checks"],
            over="tuned",
        )
    )
    return out


HEADER = """\
# GENERATED by `pinpoint dag` (pinpoint/dag.py): edit that table, then `make dag`.
#
#   model ─┬─► spec
#          └─► synthesize ─► filter ─┬─► attribute ─► tune-<method> ─► evaluate-<model> ─► summarize ─► check
#                                    └─► probe ─────────┴────────────────┘      validate ──────────────┘
#
# Every stage runs per configuration (params.yaml `configs`; `dvc repro check@organism`), those after attribute
# per configuration of `tuned` (a planted ground truth stops at attribute), one tune and one evaluate stage per
# method (params.yaml `methods`). A stage's code deps are its import closure inside
# pinpoint/, so `dvc repro` re-runs exactly what an edit touches. Every output persists: a failed run never
# deletes the last good one (stages write atomically).
"""


def render(root: Path = ROOT) -> str:
    """dvc.yaml's text."""
    from pinpoint import params

    lines = [HEADER, "stages:"]
    for stage in stages(params.methods(root / "params.yaml"), root / "params.yaml"):
        lines += stage.render(root) + [""]
    return "\n".join(lines).rstrip() + "\n"
