"""``bassline.__version__`` is the installed distribution's, which is pyproject.toml's."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import bassline

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_one_pyproject_gives() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert bassline.__version__ == project["version"] == metadata.version("bassline")


def test_a_source_tree_that_was_never_installed_says_its_version_is_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert bassline._installed_version() == "0+unknown"
