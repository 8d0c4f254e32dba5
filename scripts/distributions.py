"""The four distributions of this repository as their pyproject files describe them.

Shared by the packaging tests (``tests/packaging``) and the install check
(``scripts/check_install.py``): where each distribution lives, which import packages its
wheel holds, and what it declares it needs.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("", "bassline-storage-memory", "bassline-storage-fs", "bassline-storage-postgres")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Foo_Bar`` and ``foo-bar`` are equal)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    """One distribution: its folder, wheel packages and declared requirements."""

    name: str
    folder: Path
    packages: tuple[str, ...]
    dependencies: tuple[Requirement, ...]
    extras: dict[str, tuple[Requirement, ...]]

    def modules(self) -> list[Path]:
        """Every Python source file the wheel ships."""
        return sorted(p for pkg in self.packages for p in (self.folder / pkg).rglob("*.py"))


def load(folder: Path) -> Distribution:
    """Read the distribution whose ``pyproject.toml`` is in ``folder``."""
    data = tomllib.loads((folder / "pyproject.toml").read_text())
    project = data["project"]
    packages = data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return Distribution(
        name=normalize(project["name"]),
        folder=folder,
        packages=tuple(packages),
        dependencies=tuple(Requirement(r) for r in project.get("dependencies", [])),
        extras={
            extra: tuple(Requirement(r) for r in reqs)
            for extra, reqs in project.get("optional-dependencies", {}).items()
        },
    )


def all_distributions() -> list[Distribution]:
    """The core and the three backends, core first."""
    return [load(ROOT / folder) for folder in FOLDERS]
