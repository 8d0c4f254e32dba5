"""NodeServer's front door: gossip WebSockets are read by the node itself, everything
else reaches the ASGI app (on Hypercorn) unchanged, and gossip never reaches Hypercorn."""

from __future__ import annotations

import base64
import os

import anyio
import httpx
import pytest

from bassline.net import MAX_REQUEST_HEAD, NodeServer

from .conftest import flat, node

pytestmark = pytest.mark.anyio


def _upgrade(port: int, extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /gossip HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    ).encode()


async def _exchange(port: int, *requests: bytes) -> bytes:
    """Send the requests on one connection; everything the server answers until it closes
    (or for at most 10 s)."""
    answer = b""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        for request in requests:
            await stream.send(request)
        with anyio.move_on_after(10):
            try:
                while True:
                    answer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                pass
    return answer


async def test_the_api_and_gossip_share_the_port() -> None:
    async with node("n", flat(1)) as (net, server):
        assert server.url is not None
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"{server.url.http}/healthz")
        assert reply.status_code == 200 and reply.json()["node"] == "n"
        deflate = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        answer = await _exchange(server.url.port, _upgrade(server.url.port, deflate))
        assert answer.startswith(b"HTTP/1.1 101 ")
        assert b"sec-websocket-extensions" not in answer.lower()  # never compression
        assert b"handshake-timeout" in answer  # it said nothing: refused after the timeout
        assert net.metrics.refused["handshake-timeout"] == 1


async def test_a_gossip_request_that_is_not_a_websocket_is_answered_400() -> None:
    async with node("n", flat(1)) as (_, server):
        assert server.url is not None
        answer = await _exchange(
            server.url.port, b"GET /gossip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"takes WebSocket upgrades only" in answer


async def test_gossip_asked_for_later_on_a_kept_alive_connection_is_refused() -> None:
    """The first request decides where a connection goes; a WebSocket upgrade to a gossip
    path that comes after it reaches the HTTP server, which refuses it (403)."""
    async with node("n", flat(1)) as (net, server):
        assert server.url is not None
        port = server.url.port
        answer = await _exchange(
            port,
            f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(),
            _upgrade(port),
        )
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert b"HTTP/1.1 403 " in answer and b"101 " not in answer
        assert net.pending_handshakes == 0 and not net.peers()


async def test_a_request_head_over_the_limit_is_answered_431() -> None:
    async with node("n", flat(1)) as (_, server):
        assert server.url is not None
        padding = b"x-pad: " + b"p" * MAX_REQUEST_HEAD + b"\r\n"
        answer = await _exchange(
            server.url.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + padding + b"\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 431 ")


async def test_an_ipv6_host_written_in_brackets_gives_a_url_peers_can_dial() -> None:
    """``NodeServer(net, "[::1]")`` once printed ``http://[[::1]]:PORT``, which no client
    parses."""
    async with node("n", flat(1)) as (net, _):
        async with NodeServer(net, "[::1]", 0) as server:
            assert server.url is not None
            assert str(server.url) == f"http://[::1]:{server.url.port}"
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"{server.url.http}/healthz")
            assert reply.status_code == 200 and reply.json()["node"] == "n"
