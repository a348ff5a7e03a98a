"""No module of the project reads a Faust private attribute: Faust's private names (``_committed_offset``,
``_unacked_messages``, a channel's ``_queue``, ...) change without notice between releases, so code that reads them
can break silently on an upgrade. Read from the source, like the import graph: every attribute access, ``getattr``
/ ``hasattr`` / ``setattr`` with a constant name, and every class built on a Faust class, in the project's packages
and in ``bench/``.

Faust's private names are those its own source (``faust`` and ``mode``, the service library it is built on)
defines: ``_x`` methods and class attributes, and ``self._x`` / ``cls._x`` assignments. An access is flagged when
its name is one of them and the object is not ``self`` or ``cls`` (the project's own classes keep private state of
their own, often under the same common names). In a class built on a Faust class, ``self._x`` and a method ``_x``
are flagged when one of its Faust bases defines ``_x`` (there it is Faust's, read or overridden)."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
from pathlib import Path

import faust
import mode

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ("newsrift", "bench")
FAUST_MODULES = ("faust", "mode")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_private_names(source: str) -> set[str]:
    """The private names a module defines as attributes: methods, class attributes, ``self._x = ...``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _private(item.name):
                    names.add(item.name)
                targets = (item.targets if isinstance(item, ast.Assign)
                           else [item.target] if isinstance(item, ast.AnnAssign) else [])
                names |= {t.id for t in targets if isinstance(t, ast.Name) and _private(t.id)}
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _private(node.attr):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
    return names


@functools.cache
def faust_private_names() -> frozenset[str]:
    names: set[str] = set()
    for package in (faust, mode):
        for path in Path(package.__file__).parent.rglob("*.py"):
            names |= defined_private_names(path.read_text(encoding="utf-8"))
    return frozenset(names)


def _faust_aliases(tree: ast.AST) -> dict[str, str]:
    """Local names this module's imports bind to Faust modules or objects, with their dotted paths."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in FAUST_MODULES:
                    local = a.asname or a.name.split(".")[0]
                    aliases[local] = a.name if a.asname else local
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FAUST_MODULES:
            aliases |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
    return aliases


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _resolve(path: str) -> object:
    """The object at a dotted path: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(path)


@functools.cache
def _base_private_names(path: str) -> frozenset[str]:
    """The private names the Faust classes in the MRO of the class at ``path`` define."""
    cls = _resolve(path)
    names: set[str] = set()
    for klass in inspect.getmro(cls) if isinstance(cls, type) else ():
        if klass.__module__.split(".")[0] in FAUST_MODULES:
            names |= defined_private_names(inspect.getsource(klass))
    return frozenset(names)


def private_reads(source: str, where: str) -> list[str]:
    """Each use of a Faust private name in ``source``, as ``where:line name``."""
    names = faust_private_names()
    tree = ast.parse(source)
    aliases = _faust_aliases(tree)
    found: list[str] = []

    def flag(node: ast.AST, name: str) -> None:
        found.append(f"{where}:{getattr(node, 'lineno', 0)} {name}")

    def inherited(node: ast.ClassDef) -> frozenset[str]:
        out: set[str] = set()
        for base in node.bases:
            dotted = _dotted(base)
            root = dotted.split(".")[0] if dotted else None
            if dotted and root in aliases:
                out |= _base_private_names(".".join([aliases[root], *dotted.split(".")[1:]]))
        return frozenset(out)

    def visit(node: ast.AST, theirs: frozenset[str]) -> None:
        if isinstance(node, ast.ClassDef):
            theirs = inherited(node)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in theirs:
                    flag(item, item.name)  # overriding a Faust private method depends on it as much
        elif isinstance(node, ast.Attribute):
            mine = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if (node.attr in names and not mine) or (mine and node.attr in theirs):
                flag(node, node.attr)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in names):
            flag(node, str(node.args[1].value))
        for child in ast.iter_child_nodes(node):
            visit(child, theirs)

    visit(tree, frozenset())
    return found


def test_faust_private_names_are_read_from_faust_itself() -> None:
    names = faust_private_names()
    assert {"_committed_offset", "_unacked_messages", "_new_offset", "_commit", "_queue"} <= names
    assert not any(n.startswith("__") and n.endswith("__") for n in names)


def test_the_checker_flags_reads_of_faust_books_and_overrides_of_faust_privates() -> None:
    source = '''
import faust
import mode
from faust.transport.drivers import aiokafka as driver

def states(consumer, channels):
    local = dict(consumer._committed_offset)
    held = {m for m in list(consumer._unacked_messages) if not m.acked}
    buffer = getattr(channels[0], "_queue", None)
    return local, held, buffer

class Safer(driver.Consumer):
    def _new_offset(self, tp):
        return self._acked[tp]

class Mine:
    def __init__(self):
        self._queue = []

    def size(self):
        return len(self._queue)

class Task(mode.Service):
    async def _index(self):
        self._thread = None

class Sneaky(mode.Service):
    def _new_stopped_event(self):
        return self._stopped
'''
    found = private_reads(source, "m.py")
    assert found == ["m.py:7 _committed_offset", "m.py:8 _unacked_messages", "m.py:9 _queue",
                     "m.py:13 _new_offset", "m.py:14 _acked",
                     "m.py:28 _new_stopped_event", "m.py:29 _stopped"]


def test_no_module_reads_a_faust_private_attribute() -> None:
    paths = [p for top in SCANNED for p in sorted((ROOT / top).rglob("*.py"))]
    assert len(paths) > 50 and ROOT / "newsrift" / "runtime" / "runner.py" in paths
    found = [hit for p in paths
             for hit in private_reads(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix())]
    assert found == []
