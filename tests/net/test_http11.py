"""The node's own HTTP/1.1 server answers byte for byte as Hypercorn behind the hop did.

Each case is sent, as raw bytes on one connection, to a node serving HTTP/1.1 itself and to
the same node with every request passed on to Hypercorn (``_in_node_http = False``, the
path of every request before); the answers must be equal but for the ``date`` header.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs
import pytest

from bassline.net import NodeServer

from .conftest import FAST, flat, node

pytestmark = pytest.mark.anyio

H = b"Host: x\r\n"
CLOSE = b"Connection: close\r\n"


def _post(path: bytes, body: bytes, *extra: bytes) -> bytes:
    length = b"Content-Length: %d\r\n" % len(body)
    return b"POST " + path + b" HTTP/1.1\r\n" + H + length + b"".join(extra) + b"\r\n" + body


def _chunked(path: bytes, *chunks: bytes, extra: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = b"POST " + path + b" HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n" + extra
    return head + b"\r\n" + body


VALUES = b'{"values": {"c0": 1, "c1": "two"}}'
CASES: dict[str, list[bytes]] = {
    "pipelined": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"
        b"GET /api/contacts/c0 HTTP/1.1\r\n" + H + b"\r\n"
        b"HEAD /healthz HTTP/1.1\r\n" + H + b"\r\n"
        b"GET /api/nope?x=1 HTTP/1.1\r\n" + H + b"\r\n"
        b"GET /api/contacts/c%30 HTTP/1.1\r\n" + H + CLOSE + b"\r\n"
    ],
    "one-by-one": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n",
        b"DELETE /api/contacts/c0 HTTP/1.1\r\n" + H + b"\r\n",
        b"GET /healthz HTTP/1.1\r\n" + H + CLOSE + b"\r\n",
    ],
    "http-1.0": [b"GET /healthz HTTP/1.0\r\n\r\n"],
    "http-1.0-keep-alive": [b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
    "head": [b"HEAD /api/contacts HTTP/1.1\r\n" + H + CLOSE + b"\r\n"],
    "write-then-read": [
        _post(b"/api/contacts", VALUES, b"Content-Type: application/json\r\n")
        + b"GET /api/contacts/c1 HTTP/1.1\r\n"
        + H
        + CLOSE
        + b"\r\n"
    ],
    "chunked-body": [
        _chunked(b"/api/contacts", VALUES[:7], VALUES[7:20], VALUES[20:], extra=CLOSE),
    ],
    "chunked-body-in-pieces": [
        _chunked(b"/api/contacts", VALUES, extra=CLOSE)[:60],
        _chunked(b"/api/contacts", VALUES, extra=CLOSE)[60:],
    ],
    "expect-100-continue": [
        _post(b"/api/contacts", b"", b"Expect: 100-continue\r\n", CLOSE).replace(
            b"Content-Length: 0", b"Content-Length: %d" % len(VALUES)
        ),
        VALUES,
    ],
    "declared-body-too-large": [
        b"PUT /api/contacts/c0 HTTP/1.1\r\n" + H + b"Content-Length: 999999999\r\n\r\n{"
    ],
    "chunked-body-too-large": [_chunked(b"/api/contacts", b"x" * 70000, b"y" * 70000)],
    "unread-body-kept-alive": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello"
        b"GET /healthz HTTP/1.1\r\n" + H + CLOSE + b"\r\n"
    ],
    "malformed-json": [_post(b"/api/contacts", b"{nope", CLOSE)],
    "garbage": [b"GARBAGE\r\n\r\n"],
    "no-host": [b"GET /healthz HTTP/1.1\r\n\r\n"],
    "bad-header": [b"GET /healthz HTTP/1.1\r\n" + H + b"bad header\r\n\r\n"],
    "length-and-chunked": [
        b"POST /api/contacts HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ],
    "bad-chunk": [
        b"POST /api/contacts HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"
    ],
    "later-garbage": [b"GET /healthz HTTP/1.1\r\n" + H + b"\r\nGARBAGE\r\n\r\n"],
    "later-head-too-large": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"
        b"GET /healthz HTTP/1.1\r\n" + H + b"x-pad: " + b"p" * (20 << 10) + b"\r\n\r\n"
    ],
    "later-head-at-the-limit": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"
        b"GET /healthz HTTP/1.1\r\n" + H + CLOSE + b"x-pad: " + b"p" * (15 << 10) + b"\r\n\r\n"
    ],
    "absolute-target": [b"GET http://x/healthz HTTP/1.1\r\n" + H + CLOSE + b"\r\n"],
    "options-star": [b"OPTIONS * HTTP/1.1\r\n" + H + CLOSE + b"\r\n"],
    "lower-case-method": [b"get /healthz HTTP/1.1\r\n" + H + CLOSE + b"\r\n"],
    "later-gossip-upgrade": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"
        b"GET /gossip HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ],
    "h2c-upgrade": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    ],
    "h2c-upgrade-with-body": [
        _post(b"/api/contacts", VALUES, b"Connection: Upgrade, close\r\n", b"Upgrade: h2c\r\n")
    ],
    "later-connect": [
        b"GET /healthz HTTP/1.1\r\n" + H + b"\r\nCONNECT x:443 HTTP/1.1\r\n" + H + b"\r\n"
    ],
}


WAIT = {"one-by-one", "expect-100-continue"}
"""Cases whose every chunk but the last is answered before the next is sent."""


async def _exchange(port: int, chunks: list[bytes], wait: bool = False) -> bytes:
    """Send the chunks in turn on one connection (``wait``: each after the answer to the
    previous has begun); everything answered until the server closes."""
    answer = b""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        with anyio.fail_after(20):
            for i, chunk in enumerate(chunks):
                await stream.send(chunk)
                if wait and i < len(chunks) - 1:
                    answer += await stream.receive()
            try:
                while True:
                    answer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                pass
    return answer


def _dated(answer: bytes) -> bytes:
    """``answer`` without what differs between two calls: the date, a write's stamp."""
    answer = re.sub(rb"date: [^\r]*\r\n", b"date: D\r\n", answer)
    return re.sub(rb'"stamp":\[[0-9]+,', b'"stamp":[S,', answer)


@asynccontextmanager
async def _both() -> AsyncIterator[tuple[int, int]]:
    """(in-node port, hop port) of one node served twice."""
    settings = attrs.evolve(FAST, max_frame_bytes=100_000)  # a body of 140,000 is too large
    async with node("n", flat(3), settings=settings) as (net, served):
        hop = NodeServer(net, "127.0.0.1", 0)
        hop._in_node_http = False
        async with hop:
            assert served.url is not None and hop.url is not None
            yield served.url.port, hop.url.port


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_node_answers_as_hypercorn_behind_the_hop_did(case: str) -> None:
    chunks = CASES[case]
    async with _both() as (port, hop_port):
        if b"POST /api/contacts " in b"".join(chunks):
            # each side writes the same values to the same node: the hop first, so both
            # answers see them already written by the other
            await _exchange(hop_port, chunks, case in WAIT)
        ours = await _exchange(port, chunks, case in WAIT)
        theirs = await _exchange(hop_port, chunks, case in WAIT)
        assert ours.startswith(b"HTTP/1.1 ")
        if case == "h2c-upgrade":  # then HTTP/2 frames, Hypercorn's on both sides
            ours, theirs = ours.partition(b"\r\n\r\n")[0], theirs.partition(b"\r\n\r\n")[0]
        assert _dated(ours) == _dated(theirs)
        # and the node serves on
        after = await _exchange(port, [b"GET /healthz HTTP/1.1\r\n" + H + CLOSE + b"\r\n"])
        assert after.startswith(b"HTTP/1.1 200 ")


def lifespan_too(http: Any) -> Any:
    """An ASGI app answering HTTP with ``http`` and taking part in the lifespan (on trio,
    Hypercorn fails at shutdown with an app that returns at once from it)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await http(scope, receive, send)

    return app


async def _fails_early(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise RuntimeError("broken app")


async def _fails_late(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"part", "more_body": True})
    raise RuntimeError("broken late")


@pytest.mark.parametrize("broken", [_fails_early, _fails_late])
async def test_a_failing_app_is_answered_as_hypercorn_did(
    broken: Any, caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    """A 500 and a close when the app fails before answering; the answer cut off (the
    connection closed) when it fails after it began; logged either way. (Compared on
    asyncio only: on trio Hypercorn's own server can fail here, BusyResourceError or
    ClosedResourceError, taking the NodeServer down.)"""
    request = [b"GET /x HTTP/1.1\r\n" + H + b"\r\nGET /x HTTP/1.1\r\n" + H + b"\r\n"]
    answers = []
    async with node("n", flat(1)) as (net, _):
        for in_node in (True, False) if anyio_backend == "asyncio" else (True,):
            server = NodeServer(net, "127.0.0.1", 0, app=lifespan_too(broken))
            server._in_node_http = in_node
            async with server:
                assert server.url is not None
                answers.append(_dated(await _exchange(server.url.port, request)))
    assert answers[0] == answers[-1]
    if broken is _fails_early:
        assert answers[0].startswith(b"HTTP/1.1 500 ")
        assert answers[0].count(b"HTTP/1.1") == 1  # and the connection closed
    else:
        assert answers[0].startswith(b"HTTP/1.1 200 ") and answers[0].endswith(b"part\r\n")
    failures = [r for r in caplog.records if r.getMessage() == "Error in ASGI Framework"]
    assert len(failures) == len(answers) and {r.name for r in failures} == {"bassline.net.http"}


async def test_the_thousandth_request_on_a_connection_says_close() -> None:
    """Hypercorn's keep_alive_max_requests: the 1,000th response closes the connection."""
    async with node("n", flat(1)) as (_, server):
        assert server.url is not None
        many = (b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n") * 1001
        answer = await _exchange(server.url.port, [many])
    assert answer.count(b"HTTP/1.1 200 ") == 1000
    heads = re.findall(rb"HTTP/1.1 200 \r\n(.*?)\r\n\r\n", answer, re.S)
    assert [i for i, head in enumerate(heads) if b"connection: close" in head] == [999]
