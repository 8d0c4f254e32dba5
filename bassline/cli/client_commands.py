"""``bassline get``, ``set`` and ``status``: read, write and inspect a running node."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bassline.cli.console import UsageError, UserError, err, out, visible
from bassline.cli.node_options import CaOpt, JsonOpt, SecretOpt, connect, node_url
from bassline.cli.paths import MAX_INPUT_BYTES, PATH, given_path
from bassline.cli.render import bad_json, print_json
from bassline.codec import from_json, parse_json, to_json
from bassline.errors import ContentError
from bassline.net import parse_node_url

__all__ = ["commands"]

commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""

UrlArg = Annotated[str, typer.Argument(help="The node's URL (http://host:port or ws://...).")]
ContactArg = Annotated[str, typer.Argument(help="A contact id.")]


@commands.command()
def get(
    url: UrlArg,
    contact: ContactArg,
    secret_file: SecretOpt = None,
    ca_file: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a contact's content as JSON (nothing when it has none)."""
    with connect(url, secret_file, ca_file) as node:
        reading = node.contact(contact)
    if as_json:
        print_json(reading.raw)
    elif reading.present:
        try:
            shown = to_json(reading.value)
        except ContentError as exc:
            # what no write takes now (an empty interval, D54) but a node of an earlier
            # version, or its store, can still hold: shown as the node sent it, with a note
            shown = reading.raw["value"]
            err.print(
                f"{contact}: {exc}; that is no content (the node is of an earlier version, "
                "or its store holds a value written before it was refused)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        print_json(shown, compact=True)
    else:  # nothing on stdout, where a script reads the value; a note for whoever looks
        err.print(f"{escape(contact)} has no content", style="dim")


ValueFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--value-file",
        parser=given_path,
        metavar=PATH,
        help="Read the content (JSON) from this file instead of the command line; "
        "'-' reads standard input. For values too long for a command line.",
    ),
]


@commands.command(name="set")
def set_(
    url: Annotated[str, typer.Argument(help="The node's URL.")],
    contact: ContactArg,
    value: Annotated[
        str | None,
        typer.Argument(
            help="The content, as JSON (quote strings: '\"x\"'); or give --value-file.",
        ),
    ] = None,
    value_file: ValueFileOpt = None,
    secret_file: SecretOpt = None,
    ca_file: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a contact on a node; it replicates to every node."""
    if value is not None and value_file is not None:
        raise UsageError(
            f"give the content of {contact!r} either as JSON after the contact or with "
            "--value-file, not both"
        )
    if value is not None:
        try:
            parsed = parse_json(value)
        except orjson.JSONDecodeError as exc:
            quoted = f"bassline set URL {contact} '\"{value}\"'"
            raise UserError(bad_json(value, exc, quoted)) from None
    elif value_file is not None:
        parsed = _read_value(value_file)
    else:
        raise UsageError(
            f"give the content of {contact!r}: as JSON after the contact, or with "
            "--value-file PATH ('-' reads standard input)"
        )
    try:
        # what the request cannot carry (integers beyond 64 bits, too deep, a malformed
        # tagged value) is refused before any request
        content = from_json(parsed)
        to_json(content)
    except ContentError as exc:
        raise UserError(f"contact {contact!r}: {exc}") from None
    with connect(url, secret_file, ca_file) as node:
        result = node.write(contact, content, via="cli")
    if as_json:
        print_json(result.raw)
        return
    for c in result.contradictions:
        said = escape(f"{c['contact']}: {c['reason']}")  # the node's words, not markup
        out.print(f"[yellow]contradiction[/yellow] {said}")
    out.print(f"{escape(contact)} written; {len(result.changed)} contacts changed")


VALUE_FILE_LIMIT = MAX_INPUT_BYTES
"""The most ``set --value-file`` reads, as every command reading standard input: 1 GiB."""


def _read_value(path: Path) -> Any:
    """The JSON value in ``path`` (``--value-file``; ``-``: standard input), of at most
    :data:`VALUE_FILE_LIMIT` bytes (``/dev/zero`` was read until memory ran out)."""
    stdin = str(path) == "-"
    where = "standard input" if stdin else str(path)
    try:
        with contextlib.nullcontext(sys.stdin.buffer) if stdin else open(path, "rb") as f:
            data = f.read(VALUE_FILE_LIMIT + 1)
        if len(data) > VALUE_FILE_LIMIT:
            raise UserError(
                f"--value-file {path}: {where} holds more than {VALUE_FILE_LIMIT:,} bytes, the "
                "most read (a node takes a request body of at most its max_frame_bytes)"
            )
    except FileNotFoundError:
        raise UserError(f"--value-file {path}: file not found") from None
    except OSError as exc:
        raise UserError(f"--value-file {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        return parse_json(data)
    except orjson.JSONDecodeError as exc:
        # the reason and the place, never the text: it may be megabytes
        raise UserError(
            f"--value-file {path}: {where} is not valid JSON ({exc.msg}, at line "
            f"{exc.lineno} column {exc.colno})"
        ) from None


def _where(queried: str, advertised: Any) -> str:
    """The URL ``status`` reached, and what the node tells peers when that differs."""
    here = node_url(queried, "URL")
    if not isinstance(advertised, str):  # mounted in another server, without advertise_url
        return f"{here.http} (it advertises no URL to peers)"
    try:
        same = parse_node_url(advertised) == here
    except ValueError:
        same = False
    return here.http if same else f"{here.http} (it advertises {advertised})"


@commands.command()
def status(
    url: Annotated[str, typer.Argument(help="The node's URL.")],
    secret_file: SecretOpt = None,
    ca_file: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Peers, convergence digest, storage health, queue depth and breaker state of a node."""
    with connect(url, secret_file, ca_file) as node:
        data = node.status()
    if as_json:
        print_json(data)
        return
    try:
        shown = _status_lines(url, data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        why = f"it has no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise UserError(
            f"node at {node.url.http} answered GET /api/status with a status the CLI cannot "
            f"read ({why}): is it a node of another version?"
        ) from None
    for line in shown:  # what the node says, its control characters escaped
        out.print(visible(line) if isinstance(line, str) else line)


def _status_lines(url: str, data: dict[str, Any]) -> list[RenderableType]:
    """What ``status`` prints, built whole before any of it is printed."""
    shown: list[RenderableType] = []
    b = data["bassline"]
    health = data["health"]
    colour = "green" if health["status"] == "ok" else "yellow"
    where = escape(_where(url, data.get("url")))  # an IPv6 host is [..]: not markup
    shown.append(f"node [bold]{escape(str(data['node']))}[/bold] at {where}")
    groups = escape(", ".join(map(str, data["groups"]))) or "-"  # the spec's words, not markup
    shown.append(
        f"bassline {escape(str(b['id']))} v{escape(str(b['version']))} "
        f"hash {escape(str(b['hash'])[:12])}; groups: {groups}"
    )
    owners = data.get("owners") or {}  # an older node has none
    if owners:
        shown.append(
            "owners: "
            + ", ".join(
                f"{escape(g)} -> {escape(str(o['owner'] or 'nobody'))} ({escape(str(o['by']))})"
                for g, o in sorted(owners.items())
            )
        )
    shown.append(
        f"health [{colour}]{health['status']}[/{colour}]"
        + "".join(f"\n  - {escape(r)}" for r in health["reasons"])
    )
    s = data["storage"]
    shown.append(f"storage {s['status']}, breaker {s['breaker']}, queue depth {s['queue_depth']}")
    pool = s.get("pool")
    if pool:
        shown.append(
            f"pool {pool['in_use']}/{pool['size']} connections in use, {pool['open']} open, "
            f"overflow {pool['overflow']}/{pool['max_overflow']}; {pool['waiting']} waiting, "
            f"{pool['waits']} waits ({pool['wait_seconds']:.3f}s in all)"
        )
    c = data["contacts"]
    shown.append(
        f"contacts {c['with_content']}/{c['total']} with content; digest {data['digest'][:16]}"
    )
    processes = data.get("processes")
    if processes is not None:
        names = ", ".join(escape(str(p["node"])) for p in processes) or "-"
        shown.append(f"processes on this storage ({len(processes)}): {names}")
    table = Table("peer", "dir", "url", "connected", "last seen", "queue", "behind", "lagging")
    for p in data["peers"]:
        table.add_row(
            Text(str(p["node"])),  # as the node sent it, never Rich markup
            p["direction"],
            Text(str(p["url"] or "-")),
            f"{p['connected_seconds']:.0f}s",
            f"{p['last_seen_seconds']:.1f}s ago",
            str(p["queue_depth"]),
            str(p["behind"]),
            str(p["lagging"]),
        )
    shown.append(table if data["peers"] else "no peers connected")
    return shown
