"""The project's import graph, read from the source: no module imports itself back through others (a cycle), and
the top-level packages stand in layers (``newsrift`` on ``connectors`` on ``pipeline``), none importing back up.
Imports inside functions count: a lazy import hides a cycle from the interpreter, not from the reader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("newsrift",)
"""Bottom first: each may import only the ones before it."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {_module(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports (``from a import b`` counts as ``a.b`` where that is a module)."""

    def project(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, *([node.module] if node.module else [])])
            targets = [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            module = project(target)
            if module is not None and module != name:
                found.add(module)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_project() -> None:
    edges = graph()
    assert {"newsrift.runtime.worker", "newsrift.runtime.runner", "newsrift.connectors.poller",
            "newsrift.cli.main"} <= set(edges)
    assert "newsrift.runtime.runner" in edges["newsrift.runtime.worker"]
    assert "newsrift.messages" in edges["newsrift.runtime.runner"]
    assert "newsrift.errors" in edges["newsrift.streaming"]


def test_no_module_imports_itself_back() -> None:
    found = cycles(graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_top_level_packages_never_import_upwards() -> None:
    rank = {pkg: i for i, pkg in enumerate(PACKAGES)}
    upward = sorted(f"{a} -> {b}" for a, bs in graph().items() for b in bs
                    if rank[b.split(".")[0]] > rank[a.split(".")[0]])
    assert upward == []


@pytest.mark.parametrize(("edges", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_a_lazy_import_inside_a_function_counts(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from newsrift.runtime import app\n    from . import runner\n")
    known = {"newsrift", "newsrift.runtime", "newsrift.runtime.app", "newsrift.runtime.runner"}
    assert imports("newsrift.runtime.m", path, known) == {"newsrift.runtime.app", "newsrift.runtime.runner"}
