"""The node's own HTTP/1.1 server: the scope, TLS, disconnects, streams, keep-alive limits,
shutdown, and the requests it hands on to Hypercorn (real sockets, both backends)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.responses import StreamingResponse

from bassline.net import BasslineNetwork, NodeServer, http11

from .test_http11 import CLOSE, H, lifespan_too

pytestmark = pytest.mark.anyio

App = Any


@asynccontextmanager
async def serving(app: App, **kwargs: Any) -> AsyncIterator[NodeServer]:
    async with BasslineNetwork("n") as net, NodeServer(net, "127.0.0.1", 0, app=app, **kwargs) as s:
        assert s.url is not None
        yield s


async def _until_closed(stream: anyio.abc.ByteStream) -> bytes:
    answer = b""
    try:
        while True:
            answer += await stream.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
        return answer


async def _respond(send: Any, body: bytes = b"ok", status: int = 200) -> None:
    headers = [(b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def test_the_scope_is_hypercorns_with_the_lifespans_state() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                scope["state"]["token"] = "from startup"
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        seen.append({**scope, "state": dict(scope["state"])})
        scope["state"]["token"] = "changed by a request"  # a copy: the next sees startup's
        await _respond(send)

    async with serving(app) as server:
        assert server.url is not None
        async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
            with anyio.fail_after(10):
                await stream.send(
                    b"GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\n" + H + b"X-Thing: Two\r\n\r\n"
                    b"POST /d HTTP/1.0\r\nContent-Length: 0\r\n\r\n"
                )
                await _until_closed(stream)
            mine = stream.extra(anyio.abc.SocketAttribute.local_address)
    first, second = seen
    assert {k: v for k, v in first.items() if k != "headers"} == {
        "type": "http",
        "asgi": {"spec_version": "2.1", "version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/a b/c",
        "raw_path": b"/a%20b/c",
        "query_string": b"x=1&y=%20",
        "root_path": "",
        "client": mine,
        "server": ("127.0.0.1", server.url.port),
        "state": {"token": "from startup"},
        "extensions": {},
    }
    assert first["headers"] == [(b"host", b"x"), (b"x-thing", b"Two")]
    assert (second["http_version"], second["method"], second["path"]) == ("1.0", "POST", "/d")
    assert second["state"] == {"token": "from startup"}


async def test_under_tls_the_scheme_is_https(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: ASYNC221 - a one-off certificate before any node starts
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    schemes: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        schemes.append(scope["scheme"])
        await _respond(send, b"secret")

    trust = ssl.create_default_context(cafile=str(cert))
    async with serving(lifespan_too(app), certfile=str(cert), keyfile=str(key)) as server:
        assert server.url is not None
        async with httpx.AsyncClient(verify=trust) as client:
            replies = [await client.get(f"https://127.0.0.1:{server.url.port}/x") for _ in "ab"]
    assert [r.text for r in replies] == ["secret", "secret"]
    assert schemes == ["https", "https"]


async def test_the_app_hears_http_disconnect_when_the_client_goes() -> None:
    heard = anyio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive())["type"] == "http.request" and not heard.is_set():
            pass  # the body, then whatever comes next
        heard.set()

    async with serving(lifespan_too(app)) as server:
        assert server.url is not None
        with anyio.fail_after(10):
            async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
                await stream.send(b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\nhi")
            await heard.wait()


async def test_a_stream_is_sent_as_it_comes_and_stops_when_the_client_goes() -> None:
    """The head before the first chunk; Starlette's StreamingResponse hears the client
    leave (``/api/changes`` is one) and its generator is closed."""
    first_sent, closed = anyio.Event(), anyio.Event()
    go_on = anyio.Event()

    async def events() -> AsyncIterator[bytes]:
        try:
            await go_on.wait()
            yield b"data: one\n\n"
            first_sent.set()
            await anyio.sleep_forever()
        finally:
            closed.set()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await StreamingResponse(events(), media_type="text/event-stream")(scope, receive, send)

    async with serving(lifespan_too(app)) as server:
        assert server.url is not None
        with anyio.fail_after(10):
            async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
                await stream.send(b"GET /changes HTTP/1.1\r\n" + H + b"\r\n")
                head = await stream.receive()
                assert head.startswith(b"HTTP/1.1 200 ") and b"chunked" in head
                go_on.set()
                chunk = b""
                while b"data: one" not in chunk:
                    chunk += await stream.receive()
            await closed.wait()


async def test_a_response_sent_whole_ends_a_wait_for_disconnect_and_the_next_is_served() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # the (empty) body
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)  # waits for http.disconnect
            await anyio.wait_all_tasks_blocked()  # (reading the connection meanwhile)
            await _respond(send, scope["path"].encode())

    async with serving(lifespan_too(app)) as server:
        assert server.url is not None
        async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
            with anyio.fail_after(10):
                await stream.send(
                    b"GET /1 HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + CLOSE + b"\r\n"
                )
                answer = await _until_closed(stream)
    assert answer.count(b"HTTP/1.1 200 ") == 2 and answer.endswith(b"/2")


@pytest.mark.parametrize(
    "last",
    [
        b"GET /x HTTP/1.1\r\n" + H + CLOSE + b"\r\n",
        b"GET /x HTTP/1.0\r\n\r\n",
        b"GET /x HTTP/1.1\r\n" + H + b"Content-Length: 9\r\n\r\nnot all",  # body unread
    ],
)
async def test_a_connection_that_cannot_be_kept_closes_at_once(
    last: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http11, "KEEP_ALIVE_TIMEOUT", 3600.0)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _respond(send)

    async with serving(lifespan_too(app)) as server:
        assert server.url is not None
        async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
            with anyio.fail_after(10):
                await stream.send(last)
                assert (await _until_closed(stream)).count(b"HTTP/1.1 200 ") == 1


@pytest.mark.parametrize("then", [b"", b"GET /x HTTP/1.1\r\nHo"])
async def test_a_kept_alive_connection_idle_past_the_timeout_is_closed(
    then: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle, or dribbling a head: the timer runs from the end of the last response."""
    monkeypatch.setattr(http11, "KEEP_ALIVE_TIMEOUT", 0.3)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _respond(send)

    async with serving(lifespan_too(app)) as server:
        assert server.url is not None
        async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
            with anyio.fail_after(10):
                await stream.send(b"GET /x HTTP/1.1\r\n" + H + b"\r\n")
                answer = await stream.receive()
                if then:
                    await stream.send(then)
                answer += await _until_closed(stream)
    assert answer.count(b"HTTP/1.1 200 ") == 1


async def test_shutdown_lets_a_request_finish_closes_idle_connections_and_cuts_late_ones() -> None:
    entered, release, cut = anyio.Event(), anyio.Event(), anyio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            entered.set()
            await release.wait()
        elif scope["path"] == "/never":
            try:
                await anyio.sleep_forever()
            finally:
                cut.set()
        await _respond(send, scope["path"].encode())

    async with BasslineNetwork("n") as net:
        for grace, path in ((30.0, b"/slow"), (0.2, b"/never")):
            entered = anyio.Event()
            server = NodeServer(net, "127.0.0.1", 0, app=lifespan_too(app), graceful_timeout=grace)

            async def release_once_stopping(server: NodeServer = server) -> None:
                while not server._http.terminated:
                    await anyio.wait_all_tasks_blocked()
                release.set()

            async with anyio.create_task_group() as tg, server:
                tg.start_soon(release_once_stopping)
                assert server.url is not None
                port = server.url.port
                idle = await anyio.connect_tcp("127.0.0.1", port)
                busy = await anyio.connect_tcp("127.0.0.1", port)
                await idle.send(b"GET /idle HTTP/1.1\r\n" + H + b"\r\n")
                assert (await idle.receive()).endswith(b"/idle")
                await busy.send(b"GET " + path + b" HTTP/1.1\r\n" + H + b"\r\n")
                if path == b"/slow":
                    with anyio.fail_after(10):
                        await entered.wait()
            # exited: the idle connection was closed at once, the slow request finished
            # (released below once the server began stopping), the other was cut
            with anyio.fail_after(10):
                assert await _until_closed(idle) == b""
                answer = await _until_closed(busy)
            if path == b"/slow":
                assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"/slow")
            else:
                assert answer == b"" and cut.is_set()
            await idle.aclose()
            await busy.aclose()


async def test_upgrades_go_to_hypercorn_first_or_later_on_a_connection() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})
        else:
            await _respond(send, b"plain")

    upgrade = (
        b"GET /ws HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    async with serving(lifespan_too(app)) as server:
        assert server.url is not None
        for before in (b"", b"GET /x HTTP/1.1\r\n" + H + b"\r\n"):
            async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
                with anyio.fail_after(10):
                    await stream.send(before + upgrade)
                    answer = await _until_closed(stream)
            assert answer.count(b"HTTP/1.1 101 ") == 1
            assert answer.count(b"plain") == (1 if before else 0)


async def test_a_request_waits_for_the_lifespans_startup() -> None:
    started = anyio.Event()
    go = anyio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    started.set()
                    await go.wait()
                    scope["state"]["ready"] = True
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await _respond(send, b"ready" if scope["state"].get("ready") else b"too soon")

    async with serving(app) as server:
        assert server.url is not None
        async with await anyio.connect_tcp("127.0.0.1", server.url.port) as stream:
            with anyio.fail_after(10):
                await started.wait()
                await stream.send(b"GET /x HTTP/1.1\r\n" + H + CLOSE + b"\r\n")
                await anyio.wait_all_tasks_blocked()  # the request read, and waiting
                go.set()
                assert (await _until_closed(stream)).endswith(b"ready")
