"""The ``bassline`` command line."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

from bassline.errors import BasslineError, ContentError, SpecError, UnknownContact

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "UsageError",
    "UserError",
    "app",
    "main",
    "quiet_stdout",
    "ungrouped",
]

app = typer.Typer(
    name="bassline",
    help="Run and inspect Bassline propagation networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _print_version(value: bool) -> None:
    if value:
        from bassline import __version__

        print(f"bassline {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run and inspect Bassline propagation networks."""


def _error(message: str) -> None:
    err.print("[red]error:[/red] ", end="")
    err.print(message, markup=False)


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


def _register_commands() -> None:
    """Import the command modules; each adds its commands to :data:`app`."""
    from bassline.cli import (
        node_commands,  # noqa: F401
        project_commands,  # noqa: F401
        run_commands,  # noqa: F401
        storage_commands,  # noqa: F401
        watch_node,  # noqa: F401
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, mapping errors to exit codes.

    0 success, 1 a failure (:class:`UserError` and every :class:`BasslineError`), 2 a
    usage error (Click's own, and :class:`UsageError`), 70 a bug, 130 Ctrl-C.
    """
    _register_commands()
    try:
        with ungrouped():
            app(args=argv, prog_name="bassline", standalone_mode=True)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (SpecError, UserError, UnknownContact, ContentError) as exc:
        _error(str(exc))
        return EXIT_FAILURE
    except BasslineError as exc:
        _error(str(exc))
        return EXIT_FAILURE
    except SystemExit as exc:  # click's own exits: 0 for --help, 2 for a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as click does
        quiet_stdout()
        return 1
    except Exception as exc:  # a bug: say so plainly, with the traceback for the report
        import traceback

        traceback.print_exc()
        err.print("[red]internal error:[/red] ", end="")
        err.print(f"{type(exc).__name__}: {exc} (please report this)", markup=False)
        return EXIT_INTERNAL
    return 0


def entry_point() -> None:
    """The console script: exit with :func:`main`'s status."""
    sys.exit(main())
