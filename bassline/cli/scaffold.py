"""``bassline init``: the files of a new project, from the templates shipped in the package."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

__all__ = ["SCAFFOLD", "network_id_for", "plan", "write"]

SCAFFOLD = {
    "network.json": "network.json",
    "README.md": "README.md.tmpl",
    "tests/test_network.py": "test_network.py.tmpl",
}
"""Files created (relative to the project directory) and the template each comes from."""

_NOT_ID = re.compile(r"[^a-z0-9]+")


def network_id_for(directory: Path) -> str:
    """A network id from a directory name: lower case letters, digits and dashes."""
    # realpath, not resolve(): a symlink loop raises RuntimeError from resolve()
    name = _NOT_ID.sub("-", Path(os.path.realpath(directory)).name.lower()).strip("-")
    return name[:60] or "my-network"


def plan(directory: Path, network: str) -> dict[Path, str]:
    """Each file to write, with its content."""
    templates = resources.files("bassline.cli") / "templates"
    return {
        directory / target: (templates / source).read_text("utf-8").replace("{{network}}", network)
        for target, source in SCAFFOLD.items()
    }


def write(files: dict[Path, str]) -> None:
    """Write the planned files, creating directories as needed."""
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
