"""The Python API reference (docs/api, built by mkdocstrings) covers the public modules.

CI builds it with ``mkdocs build --strict``, which fails on any docstring griffe cannot
read; these tests check what the build cannot: that no public module is left out, and
that the Sphinx-style docstrings read as Markdown.
"""

from __future__ import annotations

import inspect
import pkgutil
import re
import typing
from collections.abc import Iterator
from pathlib import Path

import bassline
import bassline.engine
from scripts.griffe_sphinx_roles import plain

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"


def documented() -> set[str]:
    """Every module a ``::: module`` line of docs/api renders."""
    found: set[str] = set()
    for page in API.glob("*.md"):
        found |= set(re.findall(r"^::: ([\w.]+)$", page.read_text(), re.MULTILINE))
    return found


def test_every_public_package_of_bassline_has_a_page() -> None:
    public = {
        f"bassline.{info.name}"
        for info in pkgutil.iter_modules(bassline.__path__)
        if not info.name.startswith("_") and info.name not in ("cli", "plugins")
    }
    missing = public - documented()
    assert not missing, f"add these to a page of docs/api: {sorted(missing)}"


def test_every_backend_has_a_page() -> None:
    assert {"bassline_storage_memory", "bassline_storage_fs", "bassline_storage_postgres"} <= (
        documented()
    )


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in API.glob("*.md"):
        assert f"api/{page.name}" in nav, page.name


def test_sphinx_roles_and_literal_blocks_read_as_markdown() -> None:
    text = (
        "Use as::\n\n    async with x:\n        ...\n\n"
        "See :class:`Network`, :func:`~bassline.storage.open_storage` and :py:meth:`a.b`; "
        "a::b stays."
    )
    assert plain(text) == (
        "Use as:\n\n    async with x:\n        ...\n\n"
        "See `Network`, `open_storage` and `a.b`; a::b stays."
    )


def _types_in(hint: object) -> Iterator[object]:
    yield hint
    for arg in typing.get_args(hint):
        yield from _types_in(arg)


def test_every_engine_type_a_network_method_takes_or_returns_is_exported() -> None:
    # Network.restore_stored returned a Restored that only bassline.engine.restoring named
    exported = {getattr(bassline.engine, name) for name in bassline.engine.__all__}
    unexported: set[str] = set()
    for name, method in inspect.getmembers(bassline.engine.Network, inspect.isfunction):
        if name.startswith("_"):
            continue
        for hint in typing.get_type_hints(method).values():
            for kind in _types_in(hint):
                module = getattr(kind, "__module__", "")
                engine_type = isinstance(kind, type) and module.startswith("bassline.engine")
                if engine_type and kind not in exported:
                    unexported.add(f"{name}: {module}.{kind.__name__}")
    assert not unexported, f"export these from bassline.engine: {sorted(unexported)}"
