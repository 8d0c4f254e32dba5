"""The import graph of ``bassline`` and the storage backends: no circles, no imports
against the layering, no private names borrowed from another module.

The layering is decision D28 in docs/decisions.md. Every import statement counts, parsed
with :mod:`ast` rather than imported: module level, inside functions, and inside
``if TYPE_CHECKING:`` blocks (D28 says why those count too). Imports made from strings
(``importlib.import_module``, entry points) are not seen; the storage registry finds
backends that way on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]

FOUNDATION = "foundation"
"""The core's top-level modules: ``errors``, ``codec``, ``content``, ``clock``, ``plugins``."""
FACADE = "facade"
"""``bassline/__init__.py``: the names users import from ``bassline``."""
BACKEND = "backend"
"""The storage backends (``bassline_storage_*``), each its own distribution."""

CORE = frozenset({FOUNDATION, "lattices", "gadgets", "spec", "engine", "storage", "runtime"})

MAY_IMPORT: Mapping[str, frozenset[str]] = {
    FOUNDATION: frozenset({FOUNDATION}),
    "lattices": frozenset({FOUNDATION}),
    "gadgets": frozenset({FOUNDATION, "lattices"}),
    "spec": frozenset({FOUNDATION, "lattices", "gadgets"}),
    "engine": frozenset({FOUNDATION, "lattices", "gadgets", "spec"}),
    "storage": frozenset({FOUNDATION, "lattices", "spec"}),
    "runtime": frozenset({FOUNDATION, "lattices", "gadgets", "spec", "engine", "storage"}),
    BACKEND: frozenset({FOUNDATION, "spec", "storage"}),
    "testing": CORE,
    "net": CORE,
    FACADE: CORE,
    "cli": CORE | {"net", FACADE},
    "__main__": frozenset({"cli"}),
}
"""Which layer each layer may import (besides itself). D28 in docs/decisions.md."""

NET_ENGINE_MODULES = frozenset(
    {
        "bassline.engine.results",
        "bassline.engine.stream",
        "bassline.engine.explanation",
        "bassline.engine.carried",
    }
)
"""The engine modules ``net`` may import: the engine's value types (results, contact
states, change streams, explanations, justifications as they travel). The engine itself it reaches only through the
runtime (D34)."""

ENGINE_ATTRIBUTES = frozenset({"network", "engine"})
"""Attribute names under which a runtime could hand out its engine."""


NET_PARTS_NOT_REACHED: Mapping[str, frozenset[str]] = {
    "bassline.net.handshake": frozenset({"node", "membership", "dialer", "replicator", "peer"}),
    "bassline.net.peer": frozenset({"node", "membership", "dialer", "replicator"}),
    "bassline.net.replicator": frozenset({"node", "membership", "dialer", "peer", "handshake"}),
    "bassline.net.dialer": frozenset({"node", "membership", "replicator"}),
    "bassline.net.membership": frozenset({"node", "replicator"}),
}
"""Inside ``bassline.net``: the parts of a node (D33) that each module must not reach,
directly or through other modules. Links (handshake, session) are typed against the
protocols of ``bassline.net.host``; the replicator knows nothing of links; the dialer
and the membership know nothing of the node that composes them."""


@attrs.frozen
class Module:
    """One source file of the walked packages."""

    name: str
    path: Path
    is_package: bool


@attrs.frozen
class Import:
    """One name imported by a module: the module it resolves to, and where."""

    target: str
    line: int
    private_name: str | None
    """The private name taken from ``target`` (``from m import _x``), if any."""


def find_modules(package_dirs: Iterable[Path]) -> dict[str, Module]:
    """Every ``.py`` file under each package directory, by dotted module name."""
    modules: dict[str, Module] = {}
    for package_dir in package_dirs:
        for path in sorted(package_dir.rglob("*.py")):
            parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            modules[".".join(parts)] = Module(".".join(parts), path, is_package)
    return modules


def imports_of(module: Module, known: Mapping[str, Module]) -> list[Import]:
    """The walked modules that ``module`` imports, anywhere in its body.

    ``from a.b import c`` counts as importing ``a.b.c`` when that is a module, else
    ``a.b``. Parent packages a statement runs on the way are not counted: every module
    would then depend on ``bassline/__init__.py``; each package's ``__init__`` is judged
    by its own imports instead.
    """
    tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, known)
                if target is not None:
                    found.append(Import(target, node.lineno, None))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                target = _resolve(f"{source}.{alias.name}", known)
                if target is None:
                    continue
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                found.append(Import(target, node.lineno, alias.name if private else None))
    return [i for i in found if i.target != module.name]


def _resolve(dotted: str, known: Mapping[str, Module]) -> str | None:
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def layer_of(name: str, known: Mapping[str, Module]) -> str:
    """The layer a walked module belongs to (D28)."""
    parts = name.split(".")
    if parts[0].startswith("bassline_storage_"):
        return BACKEND
    if parts[0] != "bassline":
        raise ValueError(f"{name}: not a bassline module")
    if len(parts) == 1:
        return FACADE
    top = known.get(f"bassline.{parts[1]}")
    if top is not None and top.is_package:
        return parts[1]
    return "__main__" if parts[1] == "__main__" else FOUNDATION


def graph(modules: Mapping[str, Module]) -> dict[str, list[Import]]:
    """Each module's imports of other walked modules."""
    return {name: imports_of(module, modules) for name, module in modules.items()}


def circles(edges: Mapping[str, Iterable[Import]]) -> list[list[str]]:
    """The import circles: strongly connected sets of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # iterative, so a long chain of modules cannot exhaust Python's stack
        work = [(start, iter([i.target for i in edges.get(start, ())]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter([i.target for i in edges.get(target, ())])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    if len(members) > 1:
                        found.append(sorted(members))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return sorted(found)


def against_layering(
    modules: Mapping[str, Module], edges: Mapping[str, Iterable[Import]]
) -> list[str]:
    """One line per import that the layering (:data:`MAY_IMPORT`) does not allow."""
    problems = []
    for name, imports in sorted(edges.items()):
        layer = layer_of(name, modules)
        for imp in imports:
            target_layer = layer_of(imp.target, modules)
            if target_layer == layer:
                if layer == BACKEND and imp.target.split(".")[0] != name.split(".")[0]:
                    problems.append(f"{name}:{imp.line} imports {imp.target} (another backend)")
                continue
            if target_layer not in MAY_IMPORT[layer]:
                problems.append(
                    f"{name}:{imp.line} imports {imp.target} ({layer} may not import {target_layer})"
                )
    return problems


def private_imports(edges: Mapping[str, Iterable[Import]]) -> list[str]:
    """One line per private name (``_x``) a module takes from another module."""
    return [
        f"{name}:{imp.line} imports {imp.private_name} from {imp.target}"
        for name, imports in sorted(edges.items())
        for imp in imports
        if imp.private_name is not None
    ]


def reachable(edges: Mapping[str, Iterable[Import]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through other modules."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for imp in edges.get(todo.pop(), ()):
            if imp.target not in seen:
                seen.add(imp.target)
                todo.append(imp.target)
    return seen


def engine_imports_of_net(
    modules: Mapping[str, Module], edges: Mapping[str, Iterable[Import]]
) -> list[str]:
    """One line per import of the engine by ``net`` beyond :data:`NET_ENGINE_MODULES`."""
    return [
        f"{name}:{imp.line} imports {imp.target} (net reaches the engine through the runtime)"
        for name, imports in sorted(edges.items())
        if layer_of(name, modules) == "net"
        for imp in imports
        if layer_of(imp.target, modules) == "engine" and imp.target not in NET_ENGINE_MODULES
    ]


def reaches_through_runtime(module: Module) -> list[str]:
    """One line per place ``module`` reads the engine behind a runtime.

    That is ``X.network`` or ``X.engine`` where ``X`` names a runtime (``runtime``,
    ``self.runtime``, ``node.runtime``, ...) or is a node's ``_require()``, which returns
    its runtime. Parsed with :mod:`ast`; any depth (``a.runtime.network.state()``).
    """
    tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
    problems: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENGINE_ATTRIBUTES:
            base = ast.unparse(node.value)
            if "runtime" in base.lower() or base.endswith("_require()"):
                problems.append(
                    (node.lineno, f"{module.name}:{node.lineno} reads {base}.{node.attr}")
                )
    return [line for _, line in sorted(problems)]


def _project() -> tuple[dict[str, Module], dict[str, list[Import]]]:
    dirs = [ROOT / "bassline", *sorted(ROOT.glob("bassline-storage-*/bassline_storage_*"))]
    modules = find_modules(dirs)
    return modules, graph(modules)


def test_the_walk_covers_the_core_and_the_three_backends() -> None:
    modules, edges = _project()
    assert {layer_of(name, modules) for name in modules} == set(MAY_IMPORT)
    assert {n.split(".")[0] for n in modules} == {
        "bassline",
        "bassline_storage_memory",
        "bassline_storage_fs",
        "bassline_storage_postgres",
    }
    assert "bassline.engine" in {i.target for i in edges["bassline.runtime.runtime"]}


def test_no_import_circles() -> None:
    _, edges = _project()
    assert circles(edges) == []


def test_no_imports_against_the_layering() -> None:
    modules, edges = _project()
    assert against_layering(modules, edges) == []


BACKEND_API = frozenset({"bassline.storage", "bassline.storage.toolkit"})
"""The storage modules a backend may import: the public package and the backend toolkit."""


def backend_internals(edges: Mapping[str, Iterable[Import]]) -> list[str]:
    """One line per import by a backend of a storage module other than :data:`BACKEND_API`."""
    return [
        f"{name}:{imp.line} imports {imp.target} (use bassline.storage or bassline.storage.toolkit)"
        for name, imports in sorted(edges.items())
        if name.startswith("bassline_storage_")
        for imp in imports
        if imp.target.startswith("bassline.storage.") and imp.target not in BACKEND_API
    ]


def test_backends_use_only_the_storage_package_and_its_toolkit() -> None:
    _, edges = _project()
    assert backend_internals(edges) == []
    planted = {"bassline_storage_x.store": [Import("bassline.storage.validation", 3, None)]}
    assert backend_internals(planted) == [
        "bassline_storage_x.store:3 imports bassline.storage.validation "
        "(use bassline.storage or bassline.storage.toolkit)"
    ]


def test_no_private_names_taken_from_other_modules() -> None:
    _, edges = _project()
    assert private_imports(edges) == []


def test_the_parts_of_a_node_reach_only_what_they_may() -> None:
    _, edges = _project()
    problems = []
    for name, parts in sorted(NET_PARTS_NOT_REACHED.items()):
        assert name in edges, name
        for target in sorted(reachable(edges, name)):
            if target.startswith("bassline.net.") and target.split(".")[2] in parts:
                problems.append(f"{name} reaches {target}")
    assert problems == []


def test_net_imports_only_the_engines_value_types() -> None:
    modules, edges = _project()
    assert engine_imports_of_net(modules, edges) == []


def test_net_and_cli_do_not_reach_through_the_runtime_into_the_engine() -> None:
    """The runtime is the only door (issue 14 item 3): state, change streams, listeners,
    stamps and results come from its own members, never from ``runtime.network``."""
    modules, _ = _project()
    edge = [m for name, m in sorted(modules.items()) if layer_of(name, modules) in ("net", "cli")]
    assert len(edge) > 20
    assert [line for m in edge for line in reaches_through_runtime(m)] == []


def test_the_door_check_sees_every_way_through(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "bassline/__init__.py": "",
            "bassline/engine/__init__.py": "from .network import Network\n",
            "bassline/engine/network.py": "class Network: ...\n",
            "bassline/engine/results.py": "class PropagationResult: ...\n",
            "bassline/net/__init__.py": "",
            "bassline/net/node.py": (
                "from bassline.engine import Network\n"
                "from bassline.engine.results import PropagationResult\n"
                "def f(self, runtime, node, server):\n"
                "    runtime.network.state()\n"
                "    self._require().network.values()\n"
                "    node.runtime.engine\n"
                "    server.network.node_id  # a node, not a runtime: fine\n"
            ),
        },
    )
    modules = find_modules([tmp_path / "bassline"])
    assert engine_imports_of_net(modules, graph(modules)) == [
        "bassline.net.node:1 imports bassline.engine (net reaches the engine through the runtime)"
    ]
    assert reaches_through_runtime(modules["bassline.net.node"]) == [
        "bassline.net.node:4 reads runtime.network",
        "bassline.net.node:5 reads self._require().network",
        "bassline.net.node:6 reads node.runtime.engine",
    ]


def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checks_see_imports_in_functions_type_checking_blocks_and_relative_ones(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "bassline/__init__.py": "",
            "bassline/errors.py": "",
            "bassline/engine/__init__.py": "from .network import Network\n",
            "bassline/engine/network.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from bassline.engine.results import Result\n"
            ),
            "bassline/engine/results.py": (
                "def f():\n    from bassline.engine.network import _differs\n"
            ),
            "bassline/storage/__init__.py": "from ..engine import network\n",
            "bassline_storage_x/__init__.py": "import bassline_storage_y.store\n",
            "bassline_storage_y/__init__.py": "",
            "bassline_storage_y/store.py": "from bassline import errors\n",
        },
    )
    modules = find_modules(
        [tmp_path / "bassline", tmp_path / "bassline_storage_x", tmp_path / "bassline_storage_y"]
    )
    edges = graph(modules)
    assert circles(edges) == [["bassline.engine.network", "bassline.engine.results"]]
    assert against_layering(modules, edges) == [
        "bassline.storage:1 imports bassline.engine.network (storage may not import engine)",
        "bassline_storage_x:1 imports bassline_storage_y.store (another backend)",
    ]
    assert private_imports(edges) == [
        "bassline.engine.results:2 imports _differs from bassline.engine.network"
    ]
