"""The package's import graph, read from the source: no module imports itself back through others (a cycle), and
the layers of ``newsrift`` stand one on another, none importing upwards. Bottom first:

1. the bottom: ``newsrift.model``, ``records`` (the records messages carry: dispute changes, dispute records,
   handovers, alert retries), ``messages``, ``errors``, ``settings``, ``lexicons``, ``topics`` (the topic names and
   their creation), ``dead_letters`` (the ``.dlq`` envelopes) and ``streaming`` (the JSON codec, the dead-letter
   writer, ``key=value`` logs, batching): they import nothing of the project but each other;
2. ``newsrift.connectors``: the bottom only;
3. ``newsrift.stages.<stage>`` (every module but ``agent``): the bottom, ``newsrift.stages.context`` (what a step
   gets from its driver), and another stage's pure modules only where ``CROSS_STAGE`` names the pair. A stage's
   ``step`` never imports the runtime;
4. ``newsrift.runtime`` and each stage's ``agent`` (which binds the stage's step to the runner): the layers below;
5. ``newsrift.cli``: everything.

There are no exceptions. Imports inside functions count: a lazy import hides a cycle from the interpreter, not
from the reader."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "newsrift"
BOTTOM = frozenset({"newsrift", "newsrift.model", "newsrift.records", "newsrift.messages", "newsrift.errors",
                    "newsrift.settings", "newsrift.lexicons", "newsrift.topics", "newsrift.dead_letters",
                    "newsrift.streaming"})
LAYERS = ("bottom", "connectors", "stages", "runtime", "cli")
CROSS_STAGE = frozenset({
    ("alerts", "disputes"),  # an alert is matched on the disputes' terms (their frames)
    ("dedupe", "events"),  # a reprint's time is an article's event time
    ("disputes", "extract"),  # the tally verbs and vague quantities of extraction
    ("events", "dedupe"),  # reprints and events are one assignment on one partition
    ("normalize", "extract"),  # spaCy's claims run inside the normalise stage
})
"""(stage, stage it may import): the pairs the code has; any other pair is a new coupling and fails."""


def layer(module: str) -> str:
    if module in BOTTOM:
        return "bottom"
    parts = module.split(".")
    if parts[1] == "stages" and len(parts) >= 4 and parts[3] == "agent":
        return "runtime"
    if parts[1] in ("connectors", "stages", "runtime", "cli"):
        return parts[1]
    raise AssertionError(f"{module}: in no layer (add it to BOTTOM or move it into a layer's package)")


def stage(module: str) -> str | None:
    """The stage a module of ``newsrift.stages`` belongs to (None for ``newsrift.stages`` and its ``context``)."""
    m = re.match(r"newsrift\.stages\.(\w+)", module)
    return m.group(1) if m and m.group(1) != "context" else None


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Every import that goes up a layer, or from one stage to another outside ``CROSS_STAGE``."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    found = []
    for a, bs in edges.items():
        for b in bs:
            if rank[layer(b)] > rank[layer(a)]:
                found.append(f"{a} ({layer(a)}) -> {b} ({layer(b)})")
            elif (layer(a) == layer(b) == "stages" and None not in (stage(a), stage(b)) and stage(a) != stage(b)
                  and (stage(a), stage(b)) not in CROSS_STAGE):
                found.append(f"{a} -> {b} (stage {stage(a)} -> stage {stage(b)})")
    return sorted(found)


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


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
            "newsrift.cli.main", "newsrift.stages.events.step"} <= set(edges)
    assert "newsrift.runtime.runner" in edges["newsrift.runtime.worker"]
    assert "newsrift.messages" in edges["newsrift.runtime.runner"]
    assert "newsrift.errors" in edges["newsrift.streaming"]
    assert "newsrift.stages.context" in edges["newsrift.stages.events.step"]


def test_no_module_imports_itself_back() -> None:
    found = cycles(graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_every_module_is_in_a_layer() -> None:
    assert {layer(m) for m in graph()} == set(LAYERS)


def test_no_layer_imports_upwards() -> None:
    assert violations(graph()) == []


def test_the_checker_finds_what_breaks_the_layers() -> None:
    edges = {
        "newsrift.model": {"newsrift.stages.events.core"},  # the bottom importing a stage
        "newsrift.messages": {"newsrift.stages.disputes.state", "newsrift.records"},  # a message on a stage's type
        "newsrift.connectors.poller": {"newsrift.runtime.worker"},  # connectors importing the runtime
        "newsrift.stages.events.step": {"newsrift.runtime.runner", "newsrift.stages.context"},  # a step on the runtime
        "newsrift.stages.dedupe.core": {"newsrift.stages.disputes.rules"},  # a stage pair the code does not have
        "newsrift.stages.events.assign": {"newsrift.stages.dedupe.core", "newsrift.model"},  # allowed
        "newsrift.stages.events.agent": {"newsrift.runtime.runner"},  # an agent is runtime: allowed
        "newsrift.runtime.worker": {"newsrift.cli.main"},  # the runtime importing the CLI
        "newsrift.cli.main": {"newsrift.runtime.worker", "newsrift.connectors.poller"},  # allowed
    }
    assert violations(edges) == [
        "newsrift.connectors.poller (connectors) -> newsrift.runtime.worker (runtime)",
        "newsrift.messages (bottom) -> newsrift.stages.disputes.state (stages)",
        "newsrift.model (bottom) -> newsrift.stages.events.core (stages)",
        "newsrift.runtime.worker (runtime) -> newsrift.cli.main (cli)",
        "newsrift.stages.dedupe.core -> newsrift.stages.disputes.rules (stage dedupe -> stage disputes)",
        "newsrift.stages.events.step (stages) -> newsrift.runtime.runner (runtime)",
    ]


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
