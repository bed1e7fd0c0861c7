"""The import graph of pinpoint/ has no cycle: every module can be read (and imported) after the
modules below it. Imports inside functions count too: a lazy import that dodges a cycle is one."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The pinpoint modules `path` imports. `from package import submodule` is an edge to the
    submodule alone; `from package import name` one to the package."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted((ROOT / "pinpoint").rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt]
            if nxt not in state:
                cycle = visit(nxt, [*trail, nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_low_modules_import_nothing_above_them():
    graph = import_graph()
    assert graph["pinpoint.errors"] == set()
    assert graph["pinpoint.models.heads"] <= {"pinpoint.errors"}
    assert graph["pinpoint.files"] <= {"pinpoint.errors"}


def test_the_registries_stand_on_the_ground_floor():
    """A registry imports nothing but the registry package itself: no card, no code, nothing above."""
    graph = import_graph()
    registries = {m for m in graph if m == "pinpoint.registry" or m.startswith("pinpoint.registry.")}
    assert registries == {f"pinpoint.registry{s}" for s in ("", ".facts", ".methods", ".models", ".strict", ".suites")}
    for module in registries:
        assert graph[module] <= registries, (module, graph[module] - registries)


def test_cards_import_no_machinery():
    """Cards (a method's folder __init__, a suite's, a fact or model source's) stay torch-free: they import the
    registries and each other, and fact-source cards the torch-free data modules they load."""
    graph = import_graph()
    torch_free = {"pinpoint.prompts", "pinpoint.verdict", "pinpoint.errors", "pinpoint.files", "pinpoint.data.fact"}
    torch_free |= {"pinpoint.data.real_facts", "pinpoint.data.schema", "pinpoint.data"}
    cards = [
        m
        for m in graph
        if m.count(".") == 2
        and m.startswith("pinpoint.methods.")
        or m.startswith(("pinpoint.evaluation.suites.", "pinpoint.data.sources.", "pinpoint.models.sources."))
    ]
    assert len(cards) >= 7 + 8 + 4 + 4
    for card in cards:
        allowed = {m for m in graph if m.startswith("pinpoint.registry")} | set(cards) | torch_free
        allowed |= {
            "pinpoint.methods",
            "pinpoint.evaluation.suites",
            "pinpoint.data.sources",
            "pinpoint.models.sources",
        }
        assert graph[card] <= allowed, (card, graph[card] - allowed)
