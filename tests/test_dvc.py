"""dvc.yaml can be trusted: each stage's deps cover the library modules its script imports
(the whole import closure inside pinpoint/, function-level imports included), its params
section and the configurations and methods it iterates over; bytecode is no dep."""

import ast
from pathlib import Path

import yaml

from pinpoint import params
from pinpoint.paths import Paths

ROOT = Path(__file__).resolve().parents[1]


def module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported(path: Path) -> set[str]:
    """Names of pinpoint modules that a file imports (anywhere in it), parents included."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] == "pinpoint":
                parts = name.split(".")
                out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {n for n in out if module_file(n)}


def closure(script: Path) -> set[Path]:
    """Every file of pinpoint/ that running `script` may import."""
    seen, todo = set(), [script]
    while todo:
        for name in imported(todo.pop()):
            path = module_file(name)
            if path not in seen:
                seen.add(path)
                todo.append(path)
    return {p.relative_to(ROOT) for p in seen}


def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def covered(path: Path, deps: list[str]) -> bool:
    return any(path == Path(d) or Path(d) in path.parents for d in deps)


def test_each_stage_depends_on_every_module_it_imports():
    missing = {}
    for name, stage in stages().items():
        body = stage.get("do", stage)
        script = ROOT / "stages" / f"{name}.py"
        if not script.exists():
            continue  # `check` runs the CLI; checked below
        deps = [d for d in body["deps"] if not d.startswith(("models/", "data/", "metrics/"))]
        gaps = sorted(str(p) for p in closure(script) if not covered(p, deps))
        if gaps:
            missing[name] = gaps
    assert not missing, f"dvc.yaml deps miss imported modules: {missing}"


def test_the_check_stage_depends_on_the_gate():
    deps = stages()["check"]["do"]["deps"]
    assert all(covered(p, deps) for p in closure(ROOT / "pinpoint/evaluation/gate.py"))


def test_stages_run_per_configuration_over_the_configured_lists():
    assert params.configs(ROOT / "params.yaml")
    for name, stage in stages().items():
        if name == "tune":
            assert stage["matrix"] == {"config": "${configs}", "method": "${methods}"}
        else:
            assert stage["foreach"] == "${configs}", name


def test_dvc_yaml_paths_are_the_library_paths():
    """dvc.yaml spells the outputs with ${item}; pinpoint.paths is what the stages write."""
    text = (ROOT / "dvc.yaml").read_text()
    paths = Paths("${item}")
    for path in (
        paths.base,
        paths.synthetic,
        paths.filtered,
        paths.heads,
        paths.probe_model,
        paths.metrics / "eval.json",
    ):
        assert str(path) in text, path
    assert str(Paths("${item.config}").tuned("${item.method}")) in text


def test_bytecode_is_never_a_dependency():
    ignored = (ROOT / ".dvcignore").read_text()
    assert "__pycache__" in ignored and "*.pyc" in ignored


def test_no_versioned_metric_depends_on_the_machine():
    """Seconds and memory go to logs/ (git-ignored), never into metrics/: a fresh run must not change them."""
    machine_words = ("seconds", "rss", "memory", "peak", "elapsed", "duration")
    for path in sorted((ROOT / "metrics").rglob("*.json")):
        text = path.read_text().lower()
        assert not any(f'"{w}' in text or f'_{w}"' in text for w in machine_words), path
    assert "/logs/" in (ROOT / ".gitignore").read_text()
