"""File paths given on the command line (or in a ``BASSLINE_...`` variable).

An empty argument is no path: ``pathlib.Path("")`` is ``.``, the current directory, so
``--value-file ''`` was reported as ``--value-file .: ... Is a directory``, ``-o ''`` was
an internal error and ``init ''`` scaffolded a project right here. Every path option
and argument parses through :func:`given_path`, which refuses an empty one as a usage
error (exit status 2) naming the option.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import typer

__all__ = ["PATH", "given_path", "write_file"]

PATH = "<path>"
"""The metavar of a path option in ``--help`` (as Typer shows a plain ``Path`` option)."""


def given_path(value: str | Path) -> Path:
    """``value`` as a path; an empty one is refused (Click names the option)."""
    if isinstance(value, Path):  # a default, already a path
        return value
    if not value:
        raise typer.BadParameter("the path is empty")
    return Path(value)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees it half written.

    A regular file (or a new one) is written beside it and renamed over it; through a
    symbolic link, the file it points to is replaced, and the link kept. Anything else (a
    device such as ``/dev/null``, a FIFO, ``/dev/stdout``) is written into as it is: a
    rename would put a regular file in its place (as root, even over ``/dev/null``).
    Raises :class:`OSError`.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "wb") as out:  # a directory raises IsADirectoryError here
            out.write(data)
        return
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
