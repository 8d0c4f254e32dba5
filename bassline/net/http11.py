"""Plain HTTP/1.1 requests served in the node: h11 on the accepted stream, calling the ASGI app.

:class:`~bassline.net.node_server.NodeServer` hands each connection whose first request is
not gossip to :meth:`InNodeHTTP.serve`, with the bytes it has read. Requests are parsed by
h11 with the limits Hypercorn gives them (16 KiB for an incomplete head, 5 s idle between
requests on a kept-alive connection, ``connection: close`` after 1,000 requests) and
answered as Hypercorn answers them: the same scope, the same ``100 Continue``, ``date`` and
``server`` headers, no body for HEAD, a 500 when the app fails before answering, h11's
error status (400, 431) and a close for a malformed request, and ``http.disconnect`` to
the app once its response is sent or the client has gone. A request this server does not
take (any ``Upgrade`` header: WebSockets, ``h2c``; ``CONNECT``; HTTP/2's preface) is given
back, with every byte read since it began, for the node to pass on to Hypercorn.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote
from wsgiref.handlers import format_date_time

import anyio
import anyio.abc
import h11

__all__ = ["KEEP_ALIVE_MAX_REQUESTS", "KEEP_ALIVE_TIMEOUT", "MAX_INCOMPLETE", "InNodeHTTP"]

KEEP_ALIVE_TIMEOUT = 5.0
"""Seconds a kept-alive connection may stay idle between requests (Hypercorn's default)."""
KEEP_ALIVE_MAX_REQUESTS = 1000
"""Requests on one connection before a response says ``connection: close`` (Hypercorn's)."""
MAX_INCOMPLETE = 16 << 10
"""The most bytes h11 holds without a complete event: a later request head's limit."""

_READ = 65536
_PIPELINED = 4 * MAX_INCOMPLETE  # read no further ahead while a response is written
_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)
_SERVER = (b"server", b"hypercorn-h11")  # what clients have always been told
_DISCONNECT = {"type": "http.disconnect"}
_ASGI = {"spec_version": "2.1", "version": "3.0"}

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

log = logging.getLogger("bassline.net.http")  # where Hypercorn logs the app's errors

_date: tuple[int, bytes] = (0, b"")


def _date_header() -> tuple[bytes, bytes]:
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, format_date_time(now).encode("ascii"))
    return (b"date", _date[1])


def _handed_on(request: h11.Request) -> bool:
    """Whether Hypercorn, not this server, takes ``request`` (an upgrade, CONNECT, h2)."""
    if request.method == b"CONNECT":
        return True
    if request.method == b"PRI" and request.target == b"*" and request.http_version == b"2.0":
        return True
    return any(name == b"upgrade" for name, _ in request.headers)


class UnexpectedMessage(RuntimeError):
    """The app sent an ASGI message an HTTP/1.1 response cannot take at that point."""


class InNodeHTTP:
    """Serves HTTP/1.1 connections for one :class:`NodeServer` with ``app``.

    Hypercorn still runs the app's lifespan: :meth:`watch` wraps the app Hypercorn is given
    so that requests here wait for the lifespan's startup, see its ``state``, and its
    shutdown waits for the requests here to end (:meth:`stop`).
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.ready = anyio.Event()
        self.terminated = False
        self._open: set[anyio.CancelScope] = set()
        self._idle: set[anyio.CancelScope] = set()
        self._drained = anyio.Event()

    def watch(self, app: App) -> App:
        """``app`` for Hypercorn, its lifespan observed as the class docstring says."""

        async def watched(scope: _Scope, receive: _Receive, send: _Send) -> None:
            if scope["type"] != "lifespan":
                await app(scope, receive, send)
                return
            self.state = scope.get("state", self.state)  # Hypercorn's dict, filled at startup

            async def told(message: _Message) -> None:
                if message["type"] in ("lifespan.startup.complete", "lifespan.startup.failed"):
                    self.ready.set()
                await send(message)

            async def asked() -> _Message:
                message = await receive()
                if message["type"] == "lifespan.shutdown":
                    await self._drained.wait()
                return message

            try:
                await app(scope, asked, told)
            finally:  # an app without lifespan support raises: Hypercorn goes on without
                self.ready.set()

        return watched

    async def serve(
        self,
        stream: anyio.abc.ByteStream,
        received: bytes,
        tls: bool,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
    ) -> bytes | None:
        """Serve requests on ``stream`` (``received``: what was read of it) until it closes;
        or the bytes of a request it does not take, from its first byte, for Hypercorn."""
        with anyio.CancelScope() as scope:
            self._open.add(scope)
            try:
                if not self.ready.is_set():
                    await self.ready.wait()
                return await _Connection(self, stream, tls, client, server).run(received)
            finally:
                self._open.discard(scope)
                if self.terminated and not self._open:
                    self._drained.set()
        return None  # cancelled at the end of the grace period

    async def stop(self, grace: float) -> None:
        """Close idle connections, give open requests ``grace`` seconds, cancel the rest."""
        self.terminated = True
        for idle in list(self._idle):
            idle.cancel()
        if not self._open:
            self._drained.set()
        with anyio.move_on_after(grace):
            await self._drained.wait()
        for scope in list(self._open):
            scope.cancel()
        if not self._open:
            self._drained.set()
        await self._drained.wait()


class _Connection:
    """One connection: its h11 state and the request being answered."""

    def __init__(
        self,
        server: InNodeHTTP,
        stream: anyio.abc.ByteStream,
        tls: bool,
        client: tuple[str, int] | None,
        address: tuple[str, int] | None,
    ) -> None:
        self.server = server
        self.stream = stream
        self.scheme = "https" if tls else "http"
        self.client = client
        self.address = address
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_INCOMPLETE)
        self.requests = 0
        self.gone = False  # the client closed, or a write to it failed
        # the request being answered
        self.method = b""
        self.started = False
        self.finished = False
        self.body_done = False
        self.suppress = False
        self.head = b""  # a response head held back to go out with the body
        self.listening: anyio.CancelScope | None = None

    async def run(self, received: bytes) -> bytes | None:
        self.h11.receive_data(received)
        start = received
        while True:
            fed: list[bytes] = [start]
            request = await self._next_request(fed)
            if request is None:
                return None
            if _handed_on(request):
                return b"".join(fed)
            if not await self._answer(request):
                return None
            if not self._recycle():
                return None
            start = self.h11.trailing_data[0]

    async def _next_request(self, fed: list[bytes]) -> h11.Request | None:
        deadline = anyio.current_time() + KEEP_ALIVE_TIMEOUT if self.requests else math.inf
        idle = anyio.CancelScope(deadline=deadline)
        self.server._idle.add(idle)
        try:
            with idle:
                return await self._wait_request(fed)
        finally:
            self.server._idle.discard(idle)
        return None  # idle too long, or shutting down

    async def _wait_request(self, fed: list[bytes]) -> h11.Request | None:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as error:
                await self._refuse(error.error_status_hint)
                return None
            if isinstance(event, h11.Request):
                return event
            if event is not h11.NEED_DATA or self.server.terminated:
                return None  # ConnectionClosed, or shutting down between requests
            data = await self._read()
            if not data:
                return None
            fed.append(data)
            self.h11.receive_data(data)

    async def _read(self) -> bytes:
        try:
            return await self.stream.receive(_READ)
        except _STREAM_ERRORS:
            return b""

    async def _write(self, data: bytes) -> None:
        if self.gone:
            return
        try:
            await self.stream.send(data)
        except _STREAM_ERRORS:
            self._went()

    def _went(self) -> None:
        self.gone = True
        if self.listening is not None:
            self.listening.cancel()

    def _headers(self, given: Any) -> list[tuple[bytes, bytes]]:
        headers = []
        for name, value in given:
            if name[0] == 58:  # b":"
                raise ValueError("Pseudo headers are not valid")
            headers.append((bytes(name).strip(), bytes(value).strip()))
        headers += (_date_header(), _SERVER)
        return headers

    async def _refuse(self, status: int) -> None:
        """An empty response that closes the connection (Hypercorn's error response)."""
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        headers = [(b"content-length", b"0"), (b"connection", b"close"), _date_header(), _SERVER]
        try:
            data = self.h11.send(h11.Response(status_code=status, headers=headers)) or b""
            data += self.h11.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            return
        await self._write(data)

    async def _answer(self, request: h11.Request) -> bool:
        """Call the app for ``request``; whether its response was sent whole."""
        self.requests += 1
        self.method = request.method.upper()
        self.started = self.finished = self.body_done = False
        self.head = b""
        if self.h11.they_are_waiting_for_100_continue:
            headers = [_date_header(), _SERVER]
            data = self.h11.send(h11.InformationalResponse(status_code=100, headers=headers))
            await self._write(data or b"")
        target = request.target
        path, _, query = target.partition(b"?")
        scope = {
            "type": "http",
            "http_version": request.http_version.decode(),
            "asgi": _ASGI,
            "method": request.method.decode("ascii").upper(),
            "scheme": self.scheme,
            "path": unquote(path.decode("ascii")),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": list(request.headers),
            "client": self.client,
            "server": self.address,
            "state": self.server.state.copy(),
            "extensions": {},
        }
        try:
            await self.server.app(scope, self._receive, self._send)
        except Exception:
            log.exception("Error in ASGI Framework")
        if self.gone:
            return False
        if not self.started:
            await self._refuse(500)
            return False
        if self.head:  # a response head whose body never came
            await self._write(self.head)
        return self.finished

    def _recycle(self) -> bool:
        """Ready for the next request on this connection, or False to close it."""
        while self.h11.their_state is h11.SEND_BODY:  # a body the app did not read
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return False
        if self.gone or self.server.terminated:
            return False
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False
        self.h11.start_next_cycle()
        return True

    async def _receive(self) -> _Message:
        if self.body_done or self.gone:
            return await self._disconnect()
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as error:
                if not self.started:
                    await self._refuse(error.error_status_hint)
                self._went()
                return _DISCONNECT
            if isinstance(event, h11.Data):
                return {"type": "http.request", "body": bytes(event.data), "more_body": True}
            if isinstance(event, h11.EndOfMessage):
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            data = await self._read()  # NEED_DATA
            if not data:
                self._went()
                return _DISCONNECT
            self.h11.receive_data(data)

    async def _disconnect(self) -> _Message:
        """Wait for the response to be sent or the client to go (reading what it sends
        meanwhile, a next request, up to a limit), then say the client is gone."""
        with anyio.CancelScope() as self.listening:
            ahead = 0
            while not (self.finished or self.gone):
                if ahead > _PIPELINED:
                    await anyio.sleep_forever()
                data = await self._read()
                if not data:
                    self.gone = True
                    break
                ahead += len(data)
                self.h11.receive_data(data)
        self.listening = None
        return _DISCONNECT

    async def _send(self, message: _Message) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.started:
            status = int(message["status"])
            headers = self._headers(message.get("headers", []))
            if self.requests >= KEEP_ALIVE_MAX_REQUESTS:
                headers.append((b"connection", b"close"))
            self.started = True
            self.suppress = self.method == b"HEAD" or 100 <= status < 200 or status in (204, 304)
            if self.gone:
                return
            head = self.h11.send(h11.Response(status_code=status, headers=headers)) or b""
            if any(name == b"content-length" for name, _ in headers):
                self.head = head  # the body follows at once: one write for both
            else:  # a stream: the client sees its head before the first chunk
                await self._write(head)
        elif kind == "http.response.body" and self.started and not self.finished:
            more = message.get("more_body", False)
            if not more:
                self.finished = True
            if self.gone:
                return
            body = message.get("body", b"")
            data = self.head
            self.head = b""
            if body and not self.suppress:
                data += self.h11.send(h11.Data(data=bytes(body))) or b""
            if not more:
                data += self.h11.send(h11.EndOfMessage()) or b""
            if data:
                await self._write(data)
            if not more and self.listening is not None:
                self.listening.cancel()
        else:
            raise UnexpectedMessage(f"unexpected ASGI message {kind!r} here")
