"""File paths given on the command line (or in a ``BASSLINE_...`` variable).

An empty argument is no path: ``pathlib.Path("")`` is ``.``, the current directory, so
``--value-file ''`` was reported as ``--value-file .: ... Is a directory``, ``-o ''`` was
an internal error and ``init ''`` scaffolded a project right here. Every path option
and argument parses through :func:`given_path`, which refuses an empty one as a usage
error (exit status 2) naming the option.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["PATH", "given_path"]

PATH = "<path>"
"""The metavar of a path option in ``--help`` (as Typer shows a plain ``Path`` option)."""


def given_path(value: str | Path) -> Path:
    """``value`` as a path; an empty one is refused (Click names the option)."""
    if isinstance(value, Path):  # a default, already a path
        return value
    if not value:
        raise typer.BadParameter("the path is empty")
    return Path(value)
