"""``bassline validate`` and ``bassline run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import orjson
import typer
from rich.text import Text

from bassline.cli.console import UsageError, UserError, err, out, visible
from bassline.cli.paths import MAX_SPEC_BYTES, MaxSpecBytesOpt, given_path, spec_argument
from bassline.cli.render import NetworkView, bad_json, print_json, result_json, say, values_table
from bassline.cli.storage_access import one_line, opened
from bassline.cli.watch import DEFAULT_INTERVAL, MAX_INTERVAL, watch_file
from bassline.clock import is_node_id
from bassline.codec import from_json, parse_json
from bassline.engine import Network, PropagationResult
from bassline.errors import BasslineError, ContentError, PersistenceError
from bassline.runtime import SpecMismatch, StorageBackedRuntime
from bassline.spec import MAX_ID_LENGTH, Bassline
from bassline.storage import mask_url

SpecArg = Annotated[
    Path,
    typer.Argument(
        metavar="SPEC",
        parser=given_path,
        help="Spec file (native or prototype JSON format); - reads standard input.",
    ),
]

Sets = list[tuple[str, Any]]

commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""


def parse_set(item: str) -> tuple[str, Any]:
    """One ``--set CONTACT=JSON``: the contact and its content (the codec's JSON form)."""
    contact, sep, text = item.partition("=")
    if not sep or not contact:
        raise UserError(f"--set {item!r}: expected CONTACT=JSON, e.g. --set a=5")
    if not _is_json(text):
        # an id may hold '=' ("x=y"): then the first later '=' (within the 200 characters
        # of an id) after which the text is JSON splits the item: 'x=y=5' sets 'x=y' to 5
        for at in range(len(contact) + 1, min(len(item), MAX_ID_LENGTH + 1)):
            if item[at] == "=" and _is_json(item[at + 1 :]):
                contact, text = item[:at], item[at + 1 :]
                break
    try:
        # the codec's JSON form, as `bassline set` and the HTTP API take it: tagged lattice
        # values ({"$type": "interval", "value": [20, 21]}) become lattice values
        return contact, from_json(parse_json(text))
    except orjson.JSONDecodeError as exc:
        quoted = f"--set {contact}='\"{text}\"'"
        raise UserError(f"--set {item!r}: {bad_json(text, exc, quoted)}") from None
    except ContentError as exc:
        raise UserError(f"--set {item!r}: {exc}") from None


def _is_json(text: str) -> bool:
    try:
        parse_json(text)
    except orjson.JSONDecodeError:
        return False
    return True


@commands.command()
def validate(spec: SpecArg, max_spec_bytes: MaxSpecBytesOpt = MAX_SPEC_BYTES) -> None:
    """Check a spec and list every problem with its JSON path (exit 1 if any)."""
    loaded = spec_argument(spec, max_spec_bytes)
    # the path, id and version are drawn as written, never as Rich markup ("[/x]")
    line = Text("ok", style="green").append(
        visible(
            f" {spec}: network {loaded.id!r} v{loaded.version}, {len(loaded.groups)} groups, "
            f"{len(loaded.contacts)} contacts, {len(loaded.wires)} wires, hash {loaded.hash[:12]}"
        )
    )
    out.print(line, soft_wrap=True)


def _run_in_memory(spec: Bassline, sets: Sets, node_id: str) -> tuple[Network, PropagationResult]:
    network = Network(spec, node_id=node_id)
    result: PropagationResult = network.initial_result
    for contact, value in sets:
        result = network.update_contact(contact, value, via="cli")
        if not result.settled:
            break
    return network, result


async def _run_stored(
    spec: Bassline, sets: Sets, url: str, replace_spec: bool, node_id: str
) -> tuple[StorageBackedRuntime, PropagationResult, int]:
    masked = mask_url(url)
    async with opened(url) as storage:
        try:
            async with StorageBackedRuntime(
                spec, storage, replace_spec=replace_spec, node_id=node_id
            ) as runtime:
                result = runtime.initial_result
                for contact, value in sets:
                    result = await runtime.update_contact(contact, value, via="cli")
                    if not result.settled:
                        break
                if runtime.ignored_on_recovery:
                    err.print(
                        f"note: {masked} holds contents for contacts this spec no longer has: "
                        f"{', '.join(runtime.ignored_on_recovery[:10])}",
                        markup=False,
                        highlight=False,
                    )
                return runtime, result, runtime.recovered
        except SpecMismatch as exc:
            raise UserError(
                f"{masked} holds network {spec.id!r} with another spec (hash "
                f"{exc.stored_hash[:12]}, this file has {exc.given_hash[:12]}); pass "
                "--replace-spec to store this spec (contents of contacts it still has are kept)"
            ) from None
        except PersistenceError as exc:
            raise UserError(one_line(f"storing to {masked} failed: {exc}")) from None


def _print(
    network: NetworkView,
    result: PropagationResult,
    *,
    as_json: bool,
    compact: bool,
    show_all: bool,
    storage: tuple[str, int] | None,
) -> None:
    if as_json:
        data = result_json(network, result)
        if storage is not None:
            data["storage"], data["recovered"] = mask_url(storage[0]), storage[1]
        print_json(data, compact=compact)
    else:
        out.print(values_table(network, result, show_all=show_all))
        if storage is not None:
            say(f"stored in {mask_url(storage[0])} (restored {storage[1]} contents first)")
    sys.stdout.flush()


@commands.command()
def run(
    ctx: typer.Context,
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
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            metavar="URL",
            help="Run on this storage (file:///dir, postgresql://...): restore what it holds "
            "first and persist every change, so the next run continues from there.",
        ),
    ] = None,
    replace_spec: Annotated[
        bool,
        typer.Option(
            "--replace-spec", help="With --storage: store this spec over a different stored one."
        ),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", "-w", help="Run again whenever the spec file changes; Ctrl-C stops."
        ),
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.05,
            max=MAX_INTERVAL,  # beyond ~9.2e9 s time.sleep overflows: an internal error
            help="With --watch: seconds between checks.",
        ),
    ] = DEFAULT_INTERVAL,
    node_id: Annotated[
        str,
        typer.Option(
            "--node-id",
            help="The id this run stamps its writes with. Runs at the same time on one "
            "PostgreSQL database need different ids.",
        ),
    ] = "local",
    max_spec_bytes: MaxSpecBytesOpt = MAX_SPEC_BYTES,
) -> None:
    """Run a network to its fixpoint and print every contact.

    In memory by default; with --storage the values persist (and the next run continues
    from them). With --watch it runs again whenever the spec file changes (with --json,
    one JSON document per line).
    """
    if replace_spec and storage is None:
        raise UsageError(
            "--replace-spec needs --storage: a run in memory has no stored spec to replace"
        )
    source = ctx.get_parameter_source("interval")  # typer's own click: compare by name
    if not watch and source is not None and source.name != "DEFAULT":
        raise UsageError(
            "--interval needs --watch: it is the seconds between checks of the spec file"
        )
    if watch and str(spec) == "-":
        raise UsageError("--watch needs a spec file: standard input (-) is read once")
    if not is_node_id(node_id):
        raise UserError(
            f"--node-id {node_id!r:.80}: give a non-empty id of at most 200 characters "
            "without control characters"
        )
    sets = [parse_set(item) for item in set_ or []]

    def once() -> None:
        loaded = spec_argument(spec, max_spec_bytes)
        network: NetworkView
        if storage is None:
            network, result = _run_in_memory(loaded, sets, node_id)
            stored = None
        else:
            network, result, recovered = anyio.run(
                _run_stored, loaded, sets, storage, replace_spec, node_id
            )
            stored = (storage, recovered)
        _print(
            network, result, as_json=as_json, compact=watch, show_all=all_contacts, storage=stored
        )
        if not result.settled:
            raise UserError(
                f"the network did not settle within {network.step_budget} steps; "
                f"still changing: {', '.join(result.unsettled[:10])}"
            )

    if not watch:
        once()
        return

    def report(exc: Exception) -> None:
        err.print("[red]error:[/red] ", end="")
        err.print(str(exc), markup=False)

    def waiting() -> None:
        err.print(f"watching {spec} for changes (Ctrl-C to stop)", markup=False, highlight=False)

    watch_file(
        spec,
        once,
        interval=interval,
        limit=max_spec_bytes,
        on_error=report,
        expected=(UserError, BasslineError),
        on_wait=waiting,
    )
    err.print("stopped watching", markup=False, highlight=False)
