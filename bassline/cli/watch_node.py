"""``bassline watch URL [CONTACT ...]``: a live table of a node's changes and problems."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import attrs
import orjson
import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bassline.cli.console import UserError, out
from bassline.cli.node_options import CaOpt, JsonOpt, SecretOpt, connect
from bassline.cli.render import print_json
from bassline.net.client_errors import WatchOverflow
from bassline.net.replies import NodeEvent

__all__ = ["commands", "watch"]

commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""


def _short(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= 60 else text[:57] + "..."


@attrs.define
class _Row:
    value: str = ""
    when: str = "-"
    changes: int = 0
    problem: str = ""


def _problems(event: NodeEvent) -> tuple[list[str], str]:
    """The contacts a contradiction or failure event is about, and what it says."""
    data = event.data
    if event.kind == "contradiction":
        return [data["contact"]], f"contradiction: {data['reason']} (from {data['source']})"
    return list(
        data["outputs"]
    ), f"gadget {data['gadget']} in {data['group']} failed: {data['error']}"


class _Screen:
    """What ``watch`` shows: a live table on a terminal, else a line per event."""

    def __init__(self, where: str, as_json: bool) -> None:
        self.where = where
        self.as_json = as_json
        # a live table redraws in place, so it only works on a terminal: anywhere else
        # (a pipe, a file) each value is a line, written as it arrives
        self.lines = not as_json and not out.is_terminal
        self.rows: dict[str, _Row] = {}
        self.live: Live | None = None

    def __enter__(self) -> _Screen:
        if self.lines:
            _line(f"watching {self.where} (Ctrl-C to stop)")
        elif not self.as_json:
            self.live = Live(self._table(), console=out)
            self.live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.live is not None:
            self.live.stop()

    def show(self, event: NodeEvent) -> None:
        """Take one event in: print it, or update the table."""
        if self.as_json:
            print_json({"event": event.kind, "data": event.data}, compact=True)
        when = time.strftime("%H:%M:%S")
        if event.kind == "snapshot":
            for item in event.data:
                self.rows[item["contact"]] = _Row(_short(item["value"]))
                self._say(f"-         {item['contact']}  {_short(item['value'])}")
        elif event.kind == "change":
            row = self.rows.setdefault(event.data["contact"], _Row())
            row.value, row.when, row.changes = _short(event.data["value"]), when, row.changes + 1
            self._say(f"{when}  {event.data['contact']}  {row.value}")
        elif event.kind in ("contradiction", "failure"):
            contacts, problem = _problems(event)
            for contact in contacts:
                self.rows.setdefault(contact, _Row()).problem = f"{when} {problem}"
            self._say(f"{when}  {', '.join(contacts)}  {problem}")
        if self.live is not None:
            self.live.update(self._table())

    def _say(self, text: str) -> None:
        if self.lines:
            _line(text)

    def _table(self) -> Table:
        table = Table(title=Text(f"watching {self.where}"), title_justify="left")
        table.add_column("contact", style="bold")
        table.add_column("value")
        table.add_column("changed", justify="right")
        table.add_column("last change")
        table.add_column("last problem", style="red")
        for cid in sorted(self.rows):
            row = self.rows[cid]
            # as the node sent them, never Rich markup: an id or value may hold "[/x]"
            table.add_row(Text(cid), Text(row.value), str(row.changes), row.when, Text(row.problem))
        return table


@commands.command()
def watch(
    url: Annotated[str, typer.Argument(help="The node's URL (http://host:port or ws://...).")],
    contacts: Annotated[
        list[str] | None, typer.Argument(help="Contacts to watch (default: every contact).")
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", "-n", min=1, help="Stop after this many changes.")
    ] = None,
    secret_file: SecretOpt = None,
    ca_file: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Watch contacts change on a node: a live table, or JSON lines with --json. Ctrl-C stops.

    Contradictions and gadget failures on the watched contacts show too: in the table's
    last problem column, or as lines of their own. When stdout is not a terminal (a pipe,
    a file), each event is printed as a line as it arrives instead of the live table.
    """
    seen = 0
    with connect(url, secret_file, ca_file) as node:
        try:
            with node.changes(contacts or []) as events, _Screen(node.url.http, as_json) as screen:
                for event in events:
                    screen.show(event)
                    seen += event.kind == "change"
                    if count is not None and seen >= count:
                        return
        except KeyboardInterrupt:
            return
        except WatchOverflow as exc:
            if as_json:
                data = {"error": exc.reason, "limit": exc.limit}
                print_json({"event": "overflow", "data": data}, compact=True)
            raise UserError(str(exc)) from None


def _line(text: str) -> None:
    """Write one line to stdout now (not when a buffer fills)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
