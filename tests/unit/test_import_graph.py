"""The client and simulator packages import each other in one direction only, and so do the
modules within handlers/ and within services/: no module reaches back, not even for type
checking (a cycle there is a knot a reader has to untie). And simulators are wired in by the
demo and the tests alone: the product's layers never import them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("clients", "simulators")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` needs the module, not the package's other modules.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            if not all(name in known for name in names):
                names.append(node.module)
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def import_graph(packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    paths = {_module(p): p for package in packages for p in (ROOT / package).rglob("*.py")}
    known = set(paths)
    return {module: _imports(path, known) - {module} for module, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path being walked, 2 done
    path: list[str] = []

    def walk(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := walk(target)) is not None:
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := walk(module)) is not None:
            return cycle
    return None


def test_finds_a_cycle_when_there_is_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_from_a_package_import_a_module_needs_that_module_only(tmp_path: Path) -> None:
    # Importing handlers.blocks runs handlers/__init__ whatever the spelling: that edge is in
    # every package, so it is no cycle a reader has to untie.
    source = tmp_path / "m.py"
    source.write_text("from pkg import a\nfrom pkg import VALUE\nimport pkg.b\n")
    assert _imports(source, {"pkg", "pkg.a", "pkg.b"}) == {"pkg.a", "pkg", "pkg.b"}
    source.write_text("from pkg import a, b\n")
    assert _imports(source, {"pkg", "pkg.a", "pkg.b"}) == {"pkg.a", "pkg.b"}


def test_no_import_cycles_in_clients_and_simulators() -> None:
    graph = import_graph()
    assert {"clients.jira_client", "simulators.jira_site.memory"} <= set(graph)
    assert find_cycle(graph) is None


def test_no_import_cycles_in_handlers() -> None:
    graph = import_graph(("handlers",))
    assert {"handlers.commands", "handlers.identity"} <= set(graph)
    assert find_cycle(graph) is None


def test_no_import_cycles_in_services() -> None:
    graph = import_graph(("services",))
    assert {"services.commands", "services.subscriptions.service"} <= set(graph)
    assert find_cycle(graph) is None


def test_the_product_layers_import_no_simulator() -> None:
    importing = []
    for layer in ("clients", "services", "handlers", "models"):
        for path in (ROOT / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                if any(name.split(".")[0] == "simulators" for name in names):
                    importing.append(_module(path))
    assert importing == []
