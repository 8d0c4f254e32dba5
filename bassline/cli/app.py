"""The ``bassline`` command line: the application, its commands and :func:`main`.

Each command module defines its commands on a Typer of its own and imports only
:mod:`bassline.cli.console` and the helpers below it; this module adds them to :data:`app`,
in the order ``bassline --help`` lists them.
"""

from __future__ import annotations

import inspect
import sys
from typing import Annotated

import typer

from bassline.cli import (
    client_commands,
    explain_commands,
    export_commands,
    node_commands,
    project_commands,
    run_commands,
    storage_commands,
    watch_node,
)
from bassline.cli.console import (
    EXIT_FAILURE,
    EXIT_INTERNAL,
    EXIT_USAGE,
    UsageError,
    UserError,
    err,
    print_error,
    quiet_stdout,
    ungrouped,
)
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


for _commands in (
    node_commands.commands,
    client_commands.commands,
    project_commands.commands,
    run_commands.commands,
    explain_commands.commands,
    export_commands.commands,
    watch_node.commands,
):
    app.add_typer(_commands)  # no name: the commands join the top level
app.add_typer(storage_commands.storage_app, name="storage")


def reflow(doc: str) -> str:
    """A docstring as help text: each paragraph's lines joined into one, so the terminal
    wraps it at its own width (Rich keeps single newlines; a paragraph with a list item,
    a line starting ``- `` or ``* ``, is left as written)."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        p
        if any(line.startswith(("- ", "* ", "\b")) for line in p.splitlines())
        else " ".join(p.split())
        for p in paragraphs
    )


def _reflow_commands(typers: list[typer.Typer]) -> None:
    for commands in typers:
        for info in commands.registered_commands:
            if info.help is None and info.callback is not None and info.callback.__doc__:
                info.help = reflow(info.callback.__doc__)
        _reflow_commands(
            [g.typer_instance for g in commands.registered_groups if g.typer_instance is not None]
        )


_reflow_commands([app])


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, mapping errors to exit codes.

    0 success, 1 a failure (:class:`UserError` and every :class:`BasslineError`), 2 a
    usage error (Click's own, and :class:`UsageError`), 70 a bug, 130 Ctrl-C.
    """
    try:
        with ungrouped():
            app(args=argv, prog_name="bassline", standalone_mode=True)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except (SpecError, UserError, UnknownContact, ContentError) as exc:
        print_error(str(exc))
        return EXIT_FAILURE
    except BasslineError as exc:
        print_error(str(exc))
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
