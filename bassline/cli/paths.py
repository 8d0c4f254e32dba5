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
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import typer

from bassline.cli.console import UserError
from bassline.spec import Bassline, load_spec
from bassline.spec.load import load_spec_text

__all__ = [
    "MAX_INPUT_BYTES",
    "PATH",
    "given_path",
    "output_parser",
    "read_input",
    "spec_argument",
    "write_file",
]

MAX_INPUT_BYTES = 1 << 30
"""The most the command line reads of a spec (a file or standard input) and, unless
``import --max-bytes`` says otherwise, of an export document: 1 GiB. Reading stops there,
so endless input (``/dev/zero``, a pipe that never ends) is refused, not held in memory."""

_CHUNK = 1 << 20

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


def read_input(path: Path, limit: int = MAX_INPUT_BYTES, option: str = "") -> bytes:
    """The whole of file ``path``, or of standard input for ``-``, at most ``limit`` bytes.

    :class:`UserError` for a missing or unreadable file, and for more than ``limit``
    bytes, saying so (``option`` names the option that sets the limit, if any) before
    more than ``limit`` + 1 MiB are read.
    """
    stdin = str(path) == "-"
    where = "standard input" if stdin else str(path)
    try:
        if stdin:
            return _read_at_most(sys.stdin.buffer, limit, where, option)
        with open(path, "rb") as f:
            return _read_at_most(f, limit, where, option)
    except FileNotFoundError:
        raise UserError(f"file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {where}: {exc.strerror or exc}") from None


def _read_at_most(f: BinaryIO, limit: int, where: str, option: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := f.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise UserError(
                f"{where}: more than {limit:,} bytes, the most read"
                + (f" (raise it with {option})" if option else "")
            )
        chunks.append(chunk)
    return b"".join(chunks)


def spec_argument(path: Path) -> Bassline:
    """The spec a command was given: the file ``path``, or standard input for ``-`` (as
    ``import`` and ``--value-file`` read it); at most :data:`MAX_INPUT_BYTES` from
    standard input. :class:`~bassline.errors.SpecError` for a spec with problems."""
    if str(path) != "-":
        return load_spec(path)
    return load_spec_text(read_input(path), "standard input")


def output_parser(option: str) -> Callable[[str | Path], Path]:
    """A parser for option ``option`` naming a file to write (``-``: standard output):
    :class:`UserError` (one ``error:`` line, exit status 1) for a directory, one there or
    a name ending in ``/``, which a path would drop; an empty one as :func:`given_path`."""

    def parse(value: str | Path) -> Path:
        path = given_path(value)
        text = str(value)
        if text != "-" and (text.endswith(("/", os.sep)) or os.path.isdir(text)):
            raise UserError(f"{option} {text}: is a directory; give a file name")
        return path

    return parse
