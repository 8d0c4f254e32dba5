"""``bassline watch URL [CONTACT ...]``: a live table of a node's changes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import orjson
import typer
from rich.live import Live
from rich.table import Table

from bassline.cli.console import UserError, out
from bassline.cli.node_options import CaOpt, JsonOpt, SecretOpt, node_url, read_secret, ssl_context
from bassline.net import api_token

__all__ = ["commands", "parse_events", "watch"]

commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""


def parse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Server-sent events as ``(event, data)`` pairs (data parsed as JSON)."""
    kind = "message"
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield kind, orjson.loads("\n".join(data))
            kind = "message"
            data = []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _short(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _table(rows: dict[str, tuple[str, str, int]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("contact", style="bold")
    table.add_column("value")
    table.add_column("changed", justify="right")
    table.add_column("last change")
    for cid in sorted(rows):
        value, when, n = rows[cid]
        table.add_row(cid, value, str(n), when)
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

    When stdout is not a terminal (a pipe, a file), each value is printed as a line as it
    arrives instead of the live table.
    """
    base = node_url(url, "URL")
    headers = {"accept": "text/event-stream"}
    secret = read_secret(secret_file)
    if secret is not None:
        headers["authorization"] = f"Bearer {api_token(secret)}"
    query = urlencode([("contact", c) for c in contacts or []])
    target = f"{base.http}/api/changes" + (f"?{query}" if query else "")
    verify = ssl_context(ca_file) or True
    rows: dict[str, tuple[str, str, int]] = {}
    seen = 0
    try:
        with httpx.Client(verify=verify, timeout=httpx.Timeout(10.0, read=None)) as client:
            with client.stream("GET", target, headers=headers) as response:
                if response.status_code != 200:
                    response.read()
                    _refused(response, base.http)
                # a live table redraws in place, so it only works on a terminal: anywhere
                # else (a pipe, a file) each value is a line, written as it arrives
                lines = not as_json and not out.is_terminal
                live = None
                if lines:
                    _line(f"watching {base.http} (Ctrl-C to stop)")
                elif not as_json:
                    live = Live(_table(rows, f"watching {base.http}"), console=out)
                    live.start()
                try:
                    for kind, data in parse_events(response.iter_lines()):
                        if as_json:
                            _line(orjson.dumps({"event": kind, "data": data}).decode())
                        if kind == "snapshot":
                            for row in data:
                                rows[row["contact"]] = (_short(row["value"]), "-", 0)
                                if lines:
                                    _line(f"-         {row['contact']}  {_short(row['value'])}")
                        elif kind == "change":
                            seen += 1
                            n = rows.get(data["contact"], ("", "", 0))[2] + 1
                            when = time.strftime("%H:%M:%S")
                            rows[data["contact"]] = (_short(data["value"]), when, n)
                            if lines:
                                _line(f"{when}  {data['contact']}  {_short(data['value'])}")
                        elif kind == "overflow":
                            raise UserError("the node cut this watcher off: it fell behind")
                        if live is not None:
                            live.update(_table(rows, f"watching {base.http}"))
                        if count is not None and seen >= count:
                            return
                finally:
                    if live is not None:
                        live.stop()
    except KeyboardInterrupt:
        return
    except httpx.TimeoutException:
        raise UserError(f"node at {base.http} did not answer within 10s") from None
    except httpx.HTTPError as exc:
        raise UserError(f"cannot reach node at {base.http}: {exc}") from None


def _line(text: str) -> None:
    """Write one line to stdout now (not when a buffer fills)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _refused(response: httpx.Response, where: str) -> None:
    if response.status_code == 401:
        raise UserError(f"node at {where} refused the request: wrong or missing --secret-file")
    try:
        payload = response.json()
        message = payload.get("error") if isinstance(payload, dict) else None
    except ValueError:
        message = None
    raise UserError(message or f"HTTP {response.status_code} from {where}: is it a Bassline node?")
