"""The direction of imports inside pyhttpd (docs/architecture.md): no cycle, and each layer
imports only those below it. Read from the source with ``ast``, so an import inside a
function (the daemon's lazy ones) counts as much as one at the top."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pyhttpd"

# part -> the parts of pyhttpd it may import besides itself ("pyhttpd" is __init__'s __version__)
ALLOWED = {
    "protocol": {"pyhttpd"},
    "tls": {"pyhttpd"},
    "ipc": {"pyhttpd"},
    "logs": {"pyhttpd"},
    "config": {"pyhttpd", "protocol", "tls"},
    "handlers": {"pyhttpd", "protocol", "tls", "logs"},
    "server": {"pyhttpd", "handlers", "tls"},
    "workers": {"pyhttpd", "protocol", "tls", "ipc", "logs", "handlers", "server"},
    "daemon": {"pyhttpd", "protocol", "tls", "ipc", "logs", "config"},
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("pyhttpd", *path.relative_to(PACKAGE).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The pyhttpd modules ``name`` imports, anywhere in its source."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] if node.level else [])
            base = ".".join(part for part in (base, node.module or "") if part)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "pyhttpd"


def test_no_module_of_pyhttpd_imports_itself_in_a_cycle():
    assert _cycles(_graph()) == []


def test_a_cycle_is_found_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_imports_point_down_the_layers(part):
    wrong = sorted(f"{name} -> {target}" for name, targets in _graph().items() if _part(name) == part
                   for target in targets if _part(target) not in ALLOWED[part] | {part})
    assert wrong == []
