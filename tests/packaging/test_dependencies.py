"""Each distribution declares exactly what its modules import.

A module that imports a package its distribution does not declare works in the dev
environment (something else brought the package in) and fails after a plain
``pip install`` — as ``sniffio`` did. A declared package that nothing imports is weight
every user installs for nothing — as ``httpx-ws`` was. Both are found here by reading the
import statements of every module each wheel ships and mapping the imported names to the
distributions that provide them (``importlib.metadata.packages_distributions``).
"""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from scripts.distributions import Distribution, all_distributions, normalize

# Parts of a distribution that need one of its extras: {distribution: {path: extra}}.
# The path is relative to the distribution's folder; a folder covers everything under it.
EXTRA_PARTS: dict[str, dict[str, str]] = {
    "bassline": {
        "bassline/testing": "testing",
        # the test that `bassline init` writes into a new project
        "bassline/cli/templates/test_network.py.tmpl": "testing",
    },
}

# Declared requirements that no module imports, each with the reason it is declared.
NOT_IMPORTED: dict[str, dict[str, str]] = {
    "bassline": {
        "bassline-storage-memory": "memory://, the default storage, found by its entry point",
    },
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` that run when it runs.

    Imports under ``if TYPE_CHECKING:`` are left out: only type checkers see them.
    """
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
                continue
            for child in ast.walk(node):
                if isinstance(child, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in child.names)
                elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                    found.add(child.module.split(".")[0])

    visit(ast.parse(source).body)
    return found


def _owners(dists: list[Distribution]) -> dict[str, set[str]]:
    """Import name -> normalized names of the distributions that provide it."""
    owners: dict[str, set[str]] = {
        name: {normalize(d) for d in provided}
        for name, provided in packages_distributions().items()
    }
    for dist in dists:  # editable installs do not always list their packages
        for package in dist.packages:
            owners.setdefault(package, set()).add(dist.name)
    return owners


def _files(dist: Distribution) -> list[tuple[Path, str | None]]:
    """Every file of ``dist`` to audit, with the extra it may use (None: dependencies only)."""
    parts = EXTRA_PARTS.get(dist.name, {})
    files: list[tuple[Path, str | None]] = []
    extra_files = [dist.folder / p for p in parts if (dist.folder / p).is_file()]
    for path in [*dist.modules(), *extra_files]:
        relative = path.relative_to(dist.folder).as_posix()
        extra = next(
            (e for p, e in parts.items() if relative == p or relative.startswith(p + "/")), None
        )
        files.append((path, extra))
    return files


def audit(dist: Distribution, owners: dict[str, set[str]]) -> tuple[list[str], dict[str, str]]:
    """Undeclared imports of ``dist`` (as messages), and what each declared name is used by."""
    problems: list[str] = []
    used: dict[str, str] = {}
    declared = {normalize(r.name) for r in dist.dependencies}
    for path, extra in _files(dist):
        allowed = declared | {dist.name}
        if extra is not None:
            allowed |= {normalize(r.name) for r in dist.extras[extra]}
        relative = path.relative_to(dist.folder).as_posix()
        for name in sorted(runtime_imports(path.read_text())):
            if name in sys.stdlib_module_names or name == "__future__":
                continue
            providers = owners.get(name)
            if not providers:
                problems.append(f"{relative} imports {name!r}, which no installed package provides")
                continue
            if not providers & allowed:
                where = f"its {extra!r} extra" if extra else "its dependencies"
                problems.append(
                    f"{relative} imports {name!r} (from {', '.join(sorted(providers))}), "
                    f"which {dist.name} does not declare in {where}"
                )
            for provider in providers & allowed:
                used.setdefault(provider, relative)
    return problems, used


DISTRIBUTIONS = all_distributions()


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_every_import_is_declared(dist: Distribution) -> None:
    problems, _ = audit(dist, _owners(DISTRIBUTIONS))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_every_declared_requirement_is_imported(dist: Distribution) -> None:
    _, used = audit(dist, _owners(DISTRIBUTIONS))
    reasons = NOT_IMPORTED.get(dist.name, {})
    requirements = [*dist.dependencies, *(r for rs in dist.extras.values() for r in rs)]
    unused = sorted(
        {normalize(r.name) for r in requirements} - set(used) - set(reasons) - {dist.name}
    )
    assert not unused, f"{dist.name} declares {unused}, which none of its modules imports"


def test_runtime_imports_reads_what_runs() -> None:
    source = (
        "from __future__ import annotations\n"
        "import os.path, sniffio\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n"
        "    import only_for_types\n"
        "else:\n"
        "    import at_run_time\n"
        "def later():\n"
        "    from hypercorn.trio.run import worker_serve\n"
    )
    assert runtime_imports(source) == {
        "__future__",
        "os",
        "sniffio",
        "typing",
        "at_run_time",
        "hypercorn",
    }


def test_an_undeclared_import_is_reported(tmp_path: Path) -> None:
    """The audit itself fails on the bug it guards against (sniffio, imported, undeclared)."""
    core = DISTRIBUTIONS[0]
    package = tmp_path / "bassline"
    package.mkdir()
    (package / "serve.py").write_text("import anyio\nimport sniffio\n")
    planted = Distribution(
        name=core.name,
        folder=tmp_path,
        packages=("bassline",),
        dependencies=tuple(r for r in core.dependencies if normalize(r.name) != "sniffio"),
        extras=core.extras,
    )
    problems, _ = audit(planted, _owners(DISTRIBUTIONS))
    assert problems == [
        "bassline/serve.py imports 'sniffio' (from sniffio), "
        "which bassline does not declare in its dependencies"
    ]
