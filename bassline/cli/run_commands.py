"""``bassline validate`` and ``bassline run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from bassline.cli.app import UserError, app, out
from bassline.cli.render import result_json, values_table
from bassline.engine import Network, PropagationResult
from bassline.spec import load_spec

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
