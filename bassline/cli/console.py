"""What every command module shares: the consoles, the user-facing errors and exit codes.

Command modules import this, never :mod:`bassline.cli.app`, which imports them to
register their commands.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator

from rich.console import Console

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "UsageError",
    "UserError",
    "err",
    "out",
    "print_error",
    "quiet_stdout",
    "ungrouped",
    "visible",
]

out = Console()
"""Standard output, for results."""
err = Console(stderr=True, soft_wrap=True, highlight=False)
"""Standard error, for errors and progress."""


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with every control character but the line feed escaped (``\\x1b``): a
    file name or URL the user typed, quoted back, cannot drive the terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def print_error(message: str) -> None:
    """Print ``error: MESSAGE`` on standard error (the message is not read as markup, and
    its control characters are escaped: see :func:`visible`)."""
    err.print("[red]error:[/red] ", end="")
    err.print(visible(message), markup=False)


EXIT_FAILURE = 1
"""Exit status: the command was understood but could not do what it was asked."""
EXIT_USAGE = 2
"""Exit status: the command line itself is wrong (as Click and argparse use it)."""
EXIT_INTERNAL = 70
"""Exit status: a bug in bassline (``EX_SOFTWARE`` of sysexits.h); the traceback is printed."""


class UserError(Exception):
    """A mistake in what the user asked for: printed as one clear message, exit status 1."""


class UsageError(UserError):
    """Options that cannot be used together: one clear message, exit status 2.

    Click reports everything else about the command line itself (unknown commands and
    options, missing arguments, values of the wrong type, range or choice) with status 2.
    """


@contextlib.contextmanager
def ungrouped() -> Iterator[None]:
    """Re-raise an exception group holding a single exception as that exception.

    anyio's task groups (a node, the demo's cluster) wrap whatever their body raises,
    even one UserError or OSError, in an ``ExceptionGroup``; unwrapped, it gets the same
    one-line error (and exit status) it would have had outside the task group.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if leaf is group or isinstance(leaf, BaseExceptionGroup):
            raise
        raise leaf from None


def quiet_stdout() -> None:
    """After a broken pipe (``| head``): send what is left of stdout nowhere, silently."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (captured output): nothing to do
        pass
