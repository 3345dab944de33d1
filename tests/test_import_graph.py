"""The import structure: imports flow one way.

Every ``import`` statement of the three packages is read with ``ast`` -- including the ones placed inside
functions, which is where a cycle would hide -- and the module graph is checked for cycles inside each
package and for imports against the package order (``siamese`` and ``lagrangian`` may use
``conserve_tf``, never each other; ``conserve_tf`` uses neither).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("conserve_tf", "siamese", "lagrangian")
ALLOWED = {"conserve_tf": set(), "siamese": {"conserve_tf"}, "lagrangian": {"conserve_tf"}}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: pathlib.Path) -> set:
    """Absolute names of the modules that ``path`` imports (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict:
    """module -> the project modules it imports (names that are not modules, e.g. classes, dropped)."""
    files = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    # a module's own parent packages are initialised before it anyway: importing from them is no edge
    return {mod: {dep for dep in imports_of(path) if dep in files and dep != mod and not mod.startswith(dep + ".")}
            for mod, path in files.items()}


def find_cycle(edges: dict) -> list | None:
    """One cycle of the directed graph ``edges`` as a list of nodes, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_detects_a_cycle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package):
    # a package's __init__ lists the public API and may name every module: it is not part of the flow
    edges = {mod: {d for d in deps if d.split(".")[0] == package and d != package}
             for mod, deps in graph().items() if mod.split(".")[0] == package and mod != package}
    assert find_cycle(edges) is None, f"import cycle in {package}: {' -> '.join(find_cycle(edges))}"


def test_packages_import_one_way():
    wrong = sorted(f"{mod} imports {dep}" for mod, deps in graph().items() for dep in deps
                   if dep.split(".")[0] != mod.split(".")[0]
                   and dep.split(".")[0] not in ALLOWED[mod.split(".")[0]])
    assert not wrong, wrong
