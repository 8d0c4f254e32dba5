"""``bassline get`` reading what a node of an earlier version can hold: an empty interval.

Decision D54: an empty interval is no content and nothing encodes one now, but a node from
before that (or a store holding one) can still answer with it. Reading it must still work:
the value is shown as the node sent it, and the note on stderr names the contact.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from .conftest import Cli

EMPTY = {"$type": "interval", "value": [3, 1]}


def _reply(contact: str, value: Any) -> bytes:
    return json.dumps(
        {
            "id": contact,
            "present": True,
            "value": value,
            "stamp": [1, "old"],
            "contradiction": None,
            "failure": None,
        }
    ).encode()


@pytest.fixture
def old_node() -> Iterator[str]:
    """A real HTTP server answering ``GET /api/contacts/{id}`` as an earlier node did:
    ``t`` holds the empty interval [3, 1], ``ok`` the interval [1, 3]."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            contact = self.path.rsplit("/", 1)[-1]
            value = EMPTY if contact == "t" else {"$type": "interval", "value": [1, 3]}
            body = _reply(contact, value)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_get_shows_an_empty_interval_an_old_node_holds_and_names_the_contact(
    cli: Cli, old_node: str
) -> None:
    """It failed with 'error: the interval [3, 1] is empty (lo > hi)', naming no contact,
    and printed nothing: re-encoding the value for printing refused it."""
    done = cli("get", old_node, "t")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == EMPTY  # as the node sent it
    assert done.stderr.startswith("t: the interval [3, 1] is empty (lo > hi)"), done.stderr
    assert "no content" in done.stderr


def test_get_of_a_sound_interval_from_the_same_node_prints_it_alone(
    cli: Cli, old_node: str
) -> None:
    done = cli("get", old_node, "ok")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == '{"$type":"interval","value":[1,3]}\n'


def test_get_json_prints_the_reply_with_the_empty_interval(cli: Cli, old_node: str) -> None:
    done = cli("get", old_node, "t", "--json")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["value"] == EMPTY


def test_tables_and_trees_mark_an_empty_interval_as_empty() -> None:
    """``show`` (run's table, explain's tree, the demo) drew [3, 1] like any interval."""
    from bassline.cli.render import show
    from bassline.lattices import Interval

    assert show(Interval(3, 1)) == "[3, 1] (empty)"
    assert show(Interval(1, 3)) == "[1, 3]"
    assert show(Interval(None, 3)) == "[-inf, 3]"
