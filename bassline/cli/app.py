"""The ``bassline`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

from bassline.cli.render import result_json, values_table
from bassline.engine import Network, PropagationResult
from bassline.errors import BasslineError, ContentError, SpecError, UnknownContact
from bassline.spec import load_spec

__all__ = ["UserError", "app", "main"]

app = typer.Typer(
    name="bassline",
    help="Run and inspect Bassline propagation networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _error(message: str) -> None:
    err.print("[red]error:[/red] ", end="")
    err.print(message, markup=False)


class UserError(Exception):
    """A mistake in what the user asked for: printed as one clear message, exit status 1."""


SpecArg = Annotated[Path, typer.Argument(help="Spec file (native or prototype JSON format).")]


def _parse_set(item: str) -> tuple[str, Any]:
    contact, sep, text = item.partition("=")
    if not sep or not contact:
        raise UserError(f"--set {item!r}: expected CONTACT=JSON, e.g. --set a=5")
    try:
        return contact, orjson.loads(text)
    except orjson.JSONDecodeError:
        raise UserError(
            f"--set {item!r}: {text!r} is not valid JSON; quote strings, e.g. --set {contact}='\"{text}\"'"
        ) from None


@app.command()
def validate(spec: SpecArg) -> None:
    """Check a spec and list every problem with its JSON path (exit 1 if any)."""
    loaded = load_spec(spec)
    out.print(
        f"[green]ok[/green] {spec}: network {loaded.id!r} v{loaded.version}, "
        f"{len(loaded.groups)} groups, {len(loaded.contacts)} contacts, {len(loaded.wires)} wires, "
        f"hash {loaded.hash[:12]}"
    )


@app.command()
def run(
    spec: SpecArg,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", help="CONTACT=JSON to write after loading; repeatable, applied in order."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    all_contacts: Annotated[
        bool, typer.Option("--all", help="Also list gadget port contacts.")
    ] = False,
) -> None:
    """Run a network to its fixpoint in memory and print every contact."""
    sets = [_parse_set(item) for item in set_ or []]
    network = Network(load_spec(spec))
    result: PropagationResult = network.initial_result
    for contact, value in sets:
        result = network.update(contact, value)
        if not result.settled:
            break
    if as_json:
        sys.stdout.write(
            orjson.dumps(result_json(network, result), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        out.print(values_table(network, result, show_all=all_contacts))
    if not result.settled:
        raise UserError(
            f"the network did not settle within {network.step_budget} steps; "
            f"still changing: {', '.join(result.unsettled[:10])}"
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, mapping errors to exit codes (0 ok, 1 user error, 2 internal)."""
    try:
        app(args=argv, prog_name="bassline", standalone_mode=True)
    except (SpecError, UserError, UnknownContact, ContentError) as exc:
        _error(str(exc))
        return 1
    except BasslineError as exc:
        _error(str(exc))
        return 1
    except SystemExit as exc:  # click's own exits: 0 for --help, 2 for a usage error
        code = exc.code if isinstance(exc.code, int) else 1
        return 1 if code == 2 else code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so plainly, with the traceback for the report
        import traceback

        traceback.print_exc()
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} (please report this)")
        return 2
    return 0


def entry_point() -> None:
    """The console script: exit with :func:`main`'s status."""
    sys.exit(main())
