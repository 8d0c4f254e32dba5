"""One gossip link as a message transport: the dialling client, the node server's side,
and the side of a node mounted in another ASGI app."""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Protocol

import anyio
import anyio.abc
from starlette.websockets import WebSocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from bassline.errors import PeerError
from bassline.net.gossip_metrics import frame_overhead
from bassline.net.protocol import ProtocolViolation
from bassline.net.urls import NodeURL

__all__ = [
    "ASGITransport",
    "ClientTransport",
    "ConnectionClosed",
    "DialError",
    "ServerTransport",
    "Transport",
    "dial",
]


class ConnectionClosed(PeerError):
    """The link closed; ``code`` is the WebSocket close code when there was one."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"connection closed (code {code}{': ' + reason if reason else ''})")


class DialError(PeerError):
    """A peer could not be reached or did not accept the WebSocket upgrade."""


class Transport(Protocol):
    """What a peer session needs from a link."""

    remote: str
    """Where the other end is (for logs)."""
    address: str | None
    """The other end's network address (host), for per-address limits; None if unknown."""
    max_bytes: int
    """The largest message :meth:`receive` accepts; the handshake lowers it until the peer
    is authenticated. A larger one raises ProtocolViolation ``oversized``."""

    async def send(self, data: bytes) -> int:
        """Send one message; returns the bytes it took on the wire."""

    async def receive(self) -> bytes | str:
        """The next whole message; ConnectionClosed when the link ends."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the link (idempotent, never raises)."""


def _oversized(limit: int) -> ProtocolViolation:
    return ProtocolViolation("oversized", f"message of more than {limit} bytes")


class ASGITransport:
    """The accepting side when the node is mounted in an ASGI app: a Starlette WebSocket.

    The ASGI server has read a whole message before the app sees any of it, so
    :attr:`max_bytes` is checked only then; how much the server buffers first is the
    server's setting (Hypercorn: ``websocket_max_message_size``). :class:`NodeServer`
    does not use this: it reads gossip itself (:class:`ServerTransport`).
    """

    def __init__(self, websocket: WebSocket, max_bytes: int = 1 << 20) -> None:
        self.websocket = websocket
        client = websocket.client
        self.remote = f"{client.host}:{client.port}" if client else "unknown"
        self.address = client.host if client else None
        self.max_bytes = max_bytes
        self._lock = anyio.Lock()
        self._closed = False

    async def send(self, data: bytes) -> int:
        """Send a binary message."""
        if self._closed:
            raise ConnectionClosed(None, "closed locally")
        async with self._lock:
            try:
                await self.websocket.send_bytes(data)
            except (RuntimeError, OSError) as exc:
                raise ConnectionClosed(None, str(exc)) from None
        return len(data) + frame_overhead(len(data), masked=False)

    async def receive(self) -> bytes | str:
        """The next message (binary or text)."""
        try:
            message = await self.websocket.receive()
        except RuntimeError as exc:
            raise ConnectionClosed(None, str(exc)) from None
        if message["type"] == "websocket.disconnect":
            self._closed = True
            raise ConnectionClosed(message.get("code"), message.get("reason") or "")
        data = message.get("bytes")
        if data is not None:
            if len(data) > self.max_bytes:
                raise _oversized(self.max_bytes)
            return bytes(data)
        text = str(message.get("text") or "")
        if (
            len(text) > self.max_bytes
            or len(text.encode("utf-8", "surrogatepass")) > self.max_bytes
        ):
            raise _oversized(self.max_bytes)
        return text

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            try:
                async with self._lock:
                    await self.websocket.close(code, reason[:120])
            except (RuntimeError, OSError):
                pass


_READ = 65536
"""Bytes read from the socket at a time: what a link holds beyond its message limit."""


class _WSProtoTransport:
    """A WebSocket over an anyio byte stream, with wsproto.

    Message size is enforced while a message arrives, across its fragments: wsproto
    hands over each read's share of a frame as it comes, and once the message passes
    :attr:`max_bytes` it is refused (ProtocolViolation ``oversized``). So a link never
    holds more than ``max_bytes`` of a message plus one read, whatever the peer sends.
    No extension (compression) is ever negotiated.
    """

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        ws: WSConnection,
        max_bytes: int,
        remote: str,
        address: str | None = None,
        *,
        masked: bool,
    ) -> None:
        self.stream = stream
        self.ws = ws
        self.max_bytes = max_bytes
        self.remote = remote
        self.address = address
        self._masked = masked
        # no extra turn of the loop to take it: the socket's send yields once anyway
        self._lock = anyio.Lock(fast_acquire=True)
        self._ready: deque[bytes | str] = deque()
        self._reading = False
        self._read: anyio.Event | None = None
        """Set when the reader leaves :meth:`receive` (a sender waits for it, below)."""
        self._parts: list[bytes | str] = []
        self._size = 0
        self._closed = False
        self._close_info: tuple[int | None, str] = (None, "closed")

    async def _write(self, data: bytes) -> None:
        async with self._lock:
            try:
                await self.stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                self._closed = True
                raise ConnectionClosed(None, f"send failed: {exc!r}") from None

    async def send(self, data: bytes) -> int:
        """Send a binary message."""
        if self._closed:
            if self._reading and self._ready:  # the reader is answering the peer's close:
                self._read = self._read or anyio.Event()  # what the peer said before it
                await self._read.wait()  # (a goodbye) is read before a sender fails
            raise ConnectionClosed(None, "closed locally")
        try:
            frame = self.ws.send(BytesMessage(data=data))
        except LocalProtocolError:  # the WebSocket closed (the peer's close was answered)
            self._closed = True
            raise ConnectionClosed(*self._close_info) from None
        await self._write(frame)
        return len(data) + frame_overhead(len(data), masked=self._masked)

    async def receive(self) -> bytes | str:
        """The next whole message."""
        self._reading = True
        try:
            return await self._receive()
        finally:
            self._reading = False
            if self._read is not None:
                self._read.set()

    async def _receive(self) -> bytes | str:
        await self._drain_events()  # what arrived with the upgrade, or after the last one
        while not self._ready:
            if self._closed:
                raise ConnectionClosed(*self._close_info)
            try:
                data = await self.stream.receive(_READ)
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError) as exc:
                self._closed = True
                raise ConnectionClosed(None, f"stream ended: {exc!r}") from None
            except anyio.ClosedResourceError:
                self._closed = True
                raise ConnectionClosed(None, "closed locally") from None
            try:
                self.ws.receive_data(data)
            except LocalProtocolError:  # data after the close: nothing more is read
                self._closed = True
                raise ConnectionClosed(*self._close_info) from None
            await self._drain_events()
        return self._ready.popleft()

    async def _drain_events(self) -> None:
        if self._closed:
            return
        for event in self.ws.events():
            if isinstance(event, BytesMessage | TextMessage):
                part = event.data
                size = (
                    len(part)
                    if isinstance(part, bytes | bytearray)
                    else len(part.encode("utf-8", "surrogatepass"))
                )
                self._size += size
                if self._size > self.max_bytes:
                    self._parts = []  # let it go now: the link is refused
                    raise _oversized(self.max_bytes)
                self._parts.append(bytes(part) if isinstance(part, bytearray) else part)
                if event.message_finished:
                    if isinstance(event, BytesMessage):
                        whole: bytes | str = b"".join(
                            p for p in self._parts if isinstance(p, bytes)
                        )
                    else:
                        whole = "".join(p for p in self._parts if isinstance(p, str))
                    self._ready.append(whole)
                    self._parts = []
                    self._size = 0
            elif isinstance(event, Ping):
                await self._write(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                # closed before the reply is written: a sender must not use the socket
                # while this task waits to write the reply
                self._closed = True
                self._close_info = (event.code, event.reason or "")
                with suppress(ConnectionClosed):
                    await self._write(self.ws.send(event.response()))
                return  # messages that arrived before the close are still delivered

    _linger = 0.0

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and close the stream."""
        self._parts = []
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            if not self._closed:
                self._closed = True
                with suppress(Exception):  # the link may be gone already; closing must not fail
                    await self._write(self.ws.send(CloseConnection(code, reason[:120])))
                    await self._drain_until_closed()
            await _close_quietly(self.stream)

    async def _drain_until_closed(self) -> None:
        """A lingering close: read and drop what the peer still sends, for up to
        :attr:`_linger` seconds or until it closes, so a peer still writing (a frame
        being refused) reads the refusal instead of a reset connection."""
        if not self._linger:
            return
        with suppress(NotImplementedError):  # TLS cannot half-close
            await self.stream.send_eof()
        with anyio.move_on_after(self._linger):
            while True:
                await self.stream.receive(_READ)  # dropped: never more than one read


class ClientTransport(_WSProtoTransport):
    """The dialling side: WebSocket over an anyio stream, with wsproto (frames masked).

    Message size is enforced while a message arrives, so a hostile server cannot make
    the dialler buffer more than ``max_bytes``.
    """

    def __init__(
        self, stream: anyio.abc.ByteStream, ws: WSConnection, max_bytes: int, remote: str
    ) -> None:
        super().__init__(stream, ws, max_bytes, remote, masked=True)


class ServerTransport(_WSProtoTransport):
    """The accepting side under :class:`~bassline.net.node_server.NodeServer`: a WebSocket the
    server upgraded itself, so the size limit applies while a message arrives.

    Closing lingers for up to a second, dropping what the peer still sends, so that a
    peer in the middle of a refused frame reads the refusal.
    """

    _linger = 1.0

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        ws: WSConnection,
        max_bytes: int,
        remote: str,
        address: str | None,
    ) -> None:
        super().__init__(stream, ws, max_bytes, remote, address, masked=False)


@asynccontextmanager
async def dial(
    url: NodeURL, *, max_bytes: int, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[ClientTransport]:
    """Open a WebSocket to ``url``'s gossip endpoint; DialError if that fails."""
    try:
        if url.secure:
            stream: anyio.abc.ByteStream = await anyio.connect_tcp(
                url.host,
                url.port,
                tls=True,
                ssl_context=ssl_context or ssl.create_default_context(),
                tls_hostname=url.host,
            )
        else:
            stream = await anyio.connect_tcp(url.host, url.port)
    except (OSError, ssl.SSLError) as exc:
        raise DialError(f"cannot connect to {url.ws}: {exc}") from None
    try:
        ws = WSConnection(ConnectionType.CLIENT)
        transport = ClientTransport(stream, ws, max_bytes, url.ws)
        await transport._write(
            ws.send(Request(host=f"{url.host}:{url.port}", target=url.gossip_path))
        )
        status = await _await_upgrade(transport)
        if status is not None:
            raise DialError(f"{url.ws} refused the WebSocket upgrade with HTTP {status}")
    except (ConnectionClosed, ssl.SSLError) as exc:
        await _close_quietly(stream)
        raise DialError(f"cannot open a gossip link to {url.ws}: {exc}") from None
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _close_quietly(stream)
        raise
    try:
        yield transport
    finally:
        await transport.close()


async def _close_quietly(stream: anyio.abc.ByteStream) -> None:
    """Close a stream; a TLS shutdown that fails (the peer is gone) is not an error."""
    with suppress(ssl.SSLError, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await stream.aclose()


async def _await_upgrade(transport: ClientTransport) -> int | None:
    """Read until the server accepts (None) or rejects (its HTTP status)."""
    while True:
        try:
            data = await transport.stream.receive(65536)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError) as exc:
            raise ConnectionClosed(None, f"closed during the upgrade: {exc!r}") from None
        transport.ws.receive_data(data)
        for event in transport.ws.events():
            if isinstance(event, AcceptConnection):
                return None
            if isinstance(event, RejectConnection):
                return event.status_code
            if isinstance(event, RejectData):
                continue
            raise ConnectionClosed(None, f"unexpected {type(event).__name__} during the upgrade")
