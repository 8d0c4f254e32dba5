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
from typing import Annotated

import typer

from bassline.cli.console import UserError
from bassline.spec import MAX_SPEC_BYTES, Bassline
from bassline.spec.load import load_spec_text, read_at_most

__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_SPEC_BYTES",
    "PATH",
    "SPEC_LIMIT",
    "MaxSpecBytesOpt",
    "given_path",
    "output_parser",
    "read_input",
    "spec_argument",
    "write_file",
]

MAX_INPUT_BYTES = 1 << 30
"""The most the command line reads of an export document unless ``import --max-bytes``
says otherwise: 1 GiB. Reading stops there, so endless input (``/dev/zero``, a pipe that
never ends) is refused, not held in memory. A spec's limit is :data:`MAX_SPEC_BYTES`
(also 1 GiB), set with ``--max-spec-bytes``."""

SPEC_LIMIT = "--max-spec-bytes N or BASSLINE_MAX_SPEC_BYTES"
"""How a spec's size limit is raised, as a refusal says it."""

MaxSpecBytesOpt = Annotated[
    int,
    typer.Option(
        "--max-spec-bytes",
        envvar="BASSLINE_MAX_SPEC_BYTES",
        min=1,
        metavar="N",
        help="Refuse a spec file (or standard input) of more than N bytes, reading no "
        "further (default: 1 GiB).",
    ),
]
"""``--max-spec-bytes``: every command that takes a spec has it."""

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


def read_input(path: Path, limit: int = MAX_INPUT_BYTES, option: str = "", what: str = "") -> bytes:
    """The whole of file ``path``, or of standard input for ``-``, at most ``limit`` bytes.

    :class:`UserError` for a missing or unreadable file, and for more than ``limit``
    bytes, saying so (``what`` was read, ``a spec``, if given; ``option`` names how the
    limit is raised, if it can be) with at most ``limit`` + 1 bytes read (a regular file
    larger than ``limit`` is refused unread): see
    :func:`~bassline.spec.load.read_at_most`.
    """
    stdin = str(path) == "-"
    where = "standard input" if stdin else str(path)
    try:
        if stdin:
            data = read_at_most(sys.stdin.buffer, limit)
        else:
            with open(path, "rb") as f:
                data = read_at_most(f, limit)
    except FileNotFoundError:
        raise UserError(f"file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {where}: {exc.strerror or exc}") from None
    if data is None:
        raise UserError(
            f"{where}: more than {limit:,} bytes, the most read"
            + (f" of {what}" if what else "")
            + (f" (raise it with {option})" if option else "")
        )
    return data


def spec_argument(path: Path, max_bytes: int = MAX_SPEC_BYTES) -> Bassline:
    """The spec a command was given: the file ``path``, or standard input for ``-`` (as
    ``import`` and ``--value-file`` read it), at most ``max_bytes`` of it (one
    ``error:`` line for more, or for a file that is missing or cannot be read).
    :class:`~bassline.errors.SpecError` for a spec with problems."""
    data = read_input(path, max_bytes, SPEC_LIMIT, "a spec")
    if str(path) == "-":
        return load_spec_text(data, "standard input")
    return load_spec_text(data, str(path), default_id=path.stem or "network")


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
