"""dvc.yaml can be trusted: it is `pinpoint dag`'s rendering, every stage's code deps are exactly its import
closure inside pinpoint/ (the registry-named modules it runs included), its params are the keys it reads,
dvc.lock holds no stage that dvc.yaml does not define, and no versioned metric depends on the machine.
Tests about committed results read the committed files (`git show HEAD:...`), never the working tree."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import yaml

from pinpoint import dag, params
from pinpoint.paths import Paths
from pinpoint.registry.methods import METHODS
from pinpoint.registry.suites import SUITES

ROOT = Path(__file__).resolve().parents[1]


def committed(path: str) -> str:
    """A file as HEAD has it."""
    return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def body(stage: dict) -> dict:
    return stage.get("do", stage)


# an independent closure: every `import pinpoint...` and `from pinpoint... import x` anywhere in a file
def imports_of(path: Path) -> set[Path]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for name in (n for n in names if n.split(".")[0] == "pinpoint"):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                base = ROOT.joinpath(*parts[:i])
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.exists():
                        found.add(candidate)
    return found


def independent_closure(starts: list[Path]) -> set[str]:
    seen, todo = set(starts), list(starts)
    while todo:
        for path in imports_of(todo.pop()):
            if path not in seen:
                seen.add(path)
                todo.append(path)
    return {str(p.relative_to(ROOT)) for p in seen if p.is_relative_to(ROOT / "pinpoint")}


def module_path(name: str) -> Path:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"


def registry_modules(name: str) -> list[str]:
    """The modules a stage runs by name from a registry (the dag's `modules`), stated anew: each entry's card and
    the code it names."""
    from pinpoint.evaluation.context import VALIDATED
    from pinpoint.registry.facts import FACT_SOURCES
    from pinpoint.registry.models import MODEL_SOURCES

    kind, _, what = name.partition("-")
    configs = params.configs(ROOT / "params.yaml")

    def section(key, config):
        return params.load(key, config, ROOT / "params.yaml")

    def suites(names):
        return [m for n in names for m in (SUITES.card(n), SUITES[n].module)]

    def method(m):
        own = [METHODS.card(m), METHODS[m].module]
        return own + ([METHODS.card("spt")] if METHODS[m].heads != "none" and m != "spt" else [])  # SPT's k

    evaluated = {s for c in configs for s in section("evaluate", c).suites}
    if kind in ("model", "spec"):
        source = section("model", what).kind  # every configuration here names its source
        return [
            MODEL_SOURCES.card(source),
            MODEL_SOURCES[source].module if kind == "model" else MODEL_SOURCES[source].spec,
        ]
    if kind == "synthesize":
        return [FACT_SOURCES.card(s.name) for c in configs for s in section("synthesize", c).sources]
    if kind == "tune":
        return method(what)
    if kind == "evaluate":
        return suites(evaluated) + (method(what) if what != "base" else [])
    if kind == "validate":
        return suites(VALIDATED) + method("spt")
    if kind == "summarize":
        return [SUITES.card(n) for n in evaluated | {"are_you_sure", "addition"}]  # best-of-N's rows: those two
    return []


def test_the_committed_dvc_yaml_is_the_rendering_of_pinpoint_dag():
    assert (ROOT / "dvc.yaml").read_text() == dag.render(), "dvc.yaml is stale: run `make dag` (pinpoint dag)"


def test_each_stage_depends_on_exactly_its_import_closure():
    for name, stage in stages().items():
        b = body(stage)
        script = ROOT / b["cmd"].split()[1]
        # importing a module by name runs its packages' __init__ first
        named = {".".join(m.split(".")[:i]) for m in registry_modules(name) for i in range(2, m.count(".") + 2)}
        starts = [script, *(module_path(m) for m in sorted(named))]
        code = {d for d in b["deps"] if d.startswith("pinpoint/")}
        assert code == independent_closure(starts), name
        assert {"stages/_env.py", b["cmd"].split()[1]} <= set(b["deps"]), name


def test_the_closure_follows_function_level_imports(tmp_path):
    (tmp_path / "pinpoint").mkdir()
    (tmp_path / "pinpoint" / "__init__.py").write_text("")
    (tmp_path / "pinpoint" / "a.py").write_text("def f():\n    from pinpoint import b\n")
    (tmp_path / "pinpoint" / "b.py").write_text("from pinpoint.c import x\n")
    (tmp_path / "pinpoint" / "c.py").write_text("x = 1\n")
    (tmp_path / "pinpoint" / "d.py").write_text("")
    found = dag.closure([tmp_path / "pinpoint" / "a.py"], tmp_path)
    assert found == ["pinpoint/__init__.py", "pinpoint/a.py", "pinpoint/b.py", "pinpoint/c.py"]


def test_printing_and_plotting_stay_out_of_the_stages_that_run_models():
    report_side = {f"pinpoint/figures/{m}.py" for m in ("report", "tables", "plots", "page", "results")}
    for name, stage in stages().items():
        if name.split("-")[0] in ("model", "synthesize", "filter", "attribute", "probe", "tune", "evaluate"):
            assert not report_side & set(body(stage)["deps"]), name
    tuned = {n: set(body(s)["deps"]) for n, s in stages().items() if n.startswith("tune-")}
    lora = "pinpoint/methods/lora/method.py"
    assert lora in tuned["tune-lora"] and lora not in tuned["tune-spt"]
    assert "pinpoint/organism/recipe.py" not in body(stages()["model-smollm2"])["deps"]
    organism = set(body(stages()["model-organism"])["deps"])
    assert "pinpoint/models/sources/organism.py" in organism and "pinpoint/models/sources/hub.py" not in organism


def test_adding_a_method_leaves_every_existing_stage_as_it_was():
    """A method more is new stages and a summary that reads them: no existing stage's deps, params or outputs
    change (its registration is a module of its own, which no other stage imports)."""
    every = params.methods(ROOT / "params.yaml")

    def blocks(methods: list[str]) -> dict[str, list[str]]:
        return {s.name: s.render() for s in dag.stages(methods, ROOT / "params.yaml")}

    fewer, more = blocks([m for m in every if m != "lora"]), blocks(every)
    assert set(more) - set(fewer) == {"tune-lora", "evaluate-lora"}
    changed = {name for name in fewer if fewer[name] != more[name]}
    assert changed == {"summarize"}  # it reads every model's transcript
    cards = {f"pinpoint/methods/{m}/__init__.py" for m in every}
    for name, block in fewer.items():  # a stage imports the cards of what it runs, nothing else
        kind, _, what = name.partition("-")
        own = {f"pinpoint/methods/{what}/__init__.py"} if kind in ("tune", "evaluate") and what != "base" else set()
        if name in ("tune-random", "evaluate-random", "tune-steer_heads", "evaluate-steer_heads"):
            own.add("pinpoint/methods/spt/__init__.py")  # SPT's settings: random's, and its k of heads
        if name in ("tune-wei_unfiltered", "evaluate-wei_unfiltered"):
            own.add("pinpoint/methods/wei/__init__.py")  # Wei's settings: its ablation's
        if name == "validate":
            own = {"pinpoint/methods/spt/__init__.py"}
        deps = {line.strip("- ").strip() for line in block if line.strip().startswith("- pinpoint/")}
        assert deps & cards == own, name


def test_adding_a_suite_changes_only_the_stages_that_evaluate_and_summarise(monkeypatch):
    """A suite more (its card, its runner, its name in `evaluate.suites`) is new deps of the evaluate stages and
    the summary alone: no model, synthesize, filter, attribute, probe or tune stage changes (the registries read
    their cards by name), so `dvc repro` re-runs evaluate, validate (its params), summarize and check."""
    from pinpoint.registry.suites import Suite

    every = params.methods(ROOT / "params.yaml")
    raw = params.read_file(ROOT / "params.yaml")
    for config in raw["tuned"]:  # the configurations that evaluate (a planted ground truth stops at attribute)
        raw[config]["evaluate"]["suites"] = [*raw[config]["evaluate"]["suites"], "toy"]
    more = ROOT / ".pytest_cache" / "params-toy.yaml"
    more.parent.mkdir(exist_ok=True)
    more.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setitem(SUITES, "toy", Suite("toy", 1, "pinpoint.evaluation.general", ()))
    card = SUITES.card  # the toy's card: a module no stage imports yet stands in for its new file
    monkeypatch.setattr(SUITES, "card", lambda name: "pinpoint.figures.drift" if name == "toy" else card(name))

    def blocks(path) -> dict[str, list[str]]:
        return {s.name: s.render() for s in dag.stages(every, path)}

    before, after = blocks(ROOT / "params.yaml"), blocks(more)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {f"evaluate-{m}" for m in ["base", *every]} | {"summarize"}


def test_params_are_the_keys_a_stage_reads():
    lora = body(stages()["tune-lora"])["params"]
    assert "${item}.tune.lora" in lora and "${item}.tune.spt" not in lora and "${item}.tune" not in lora
    assert "${item}.tune.spt" in body(stages()["tune-random"])["params"]  # random is SPT on random heads
    assert body(stages()["summarize"])["params"] == ["${item}.evaluate.format_floor"]


def test_every_param_a_stage_names_is_set_in_every_configuration():
    """dvc refuses to run a stage whose params key is missing from params.yaml (a default in the pydantic
    model does not count), so each key a stage names must be written out for each configuration."""
    raw = params.read_file(ROOT / "params.yaml")

    def present(key: str) -> bool:
        node = raw
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    missing = []
    over = {"${configs}": params.configs(ROOT / "params.yaml"), "${tuned}": params.tuned(ROOT / "params.yaml")}
    for name, stage in stages().items():
        for config in over[stage["foreach"]] if "foreach" in stage else [None]:
            for key in body(stage).get("params", []):
                key = key.replace("${item}", config) if config else key
                if not present(key):
                    missing.append(f"{name}: {key}")
    assert not missing, missing


def test_the_check_stage_runs_the_gate_and_depends_on_it():
    deps = set(body(stages()["check"])["deps"])
    assert {"pinpoint/figures/gate.py", "pinpoint/params.py", "pinpoint/figures/results.py"} <= deps


def test_dvc_lock_holds_only_stages_dvc_yaml_defines():
    dvc = str(Path(sys.executable).parent / "dvc")
    listed = subprocess.run(
        [dvc, "stage", "list", "--name-only"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    locked = yaml.safe_load(committed("dvc.lock"))["stages"]
    dead = sorted(set(locked) - set(listed))
    assert not dead, f"dvc.lock has entries of stages dvc.yaml no longer defines: {dead}"
    assert set(listed) >= {"check@organism", "check@smollm2", "model-organism", "tune-spt@smollm2"}


def test_dvc_yaml_paths_are_the_library_paths():
    """dvc.yaml spells the outputs with ${item}; pinpoint.paths is what the stages write."""
    text = (ROOT / "dvc.yaml").read_text()
    paths = Paths("${item}")
    for path in (
        paths.synthetic,
        paths.filtered,
        paths.heads,
        paths.probe_model,
        paths.pairs,
        paths.report,
        paths.metrics / "eval.json",
        paths.transcript("spt"),
        paths.tuned("spt"),
    ):
        assert str(path) in text, path
    assert str(Paths("organism").base) in text


def test_bytecode_is_never_a_dependency():
    ignored = (ROOT / ".dvcignore").read_text()
    assert "__pycache__" in ignored and "*.pyc" in ignored


def test_no_committed_metric_depends_on_the_machine():
    """Seconds and memory go to logs/ (git-ignored), never into metrics/: a fresh run must not change them."""
    machine_words = ("seconds", "rss", "memory", "peak", "elapsed", "duration")
    files = subprocess.run(["git", "ls-files", "metrics"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert files, "no committed metrics"
    for path in (f for f in files if f.endswith(".json")):
        text = committed(path).lower()
        assert not any(f'"{w}' in text or f'_{w}"' in text for w in machine_words), path
        json.loads(text)
    assert "/logs/" in (ROOT / ".gitignore").read_text()
