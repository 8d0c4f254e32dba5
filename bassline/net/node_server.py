"""Serving a node: its gossip WebSockets and HTTP/1.1 API itself, on asyncio or trio.

Every connection is accepted here and is *pending* (``admission.py``) until its first
request is read. A request for a path ending in ``/gossip`` is a gossip WebSocket: the
node upgrades it and reads its frames itself, so the frame limits hold while bytes
arrive (``max_handshake_frame_bytes`` until the peer has authenticated, then
``max_frame_bytes``) and no compression is negotiated. Plain HTTP/1.1 requests are
answered by the ASGI app in the node (``http11.py``). Anything else (another WebSocket,
``h2c``, HTTP/2) is passed on, bytes as they come, to Hypercorn serving the app on a
private Unix socket — Hypercorn reads whole WebSocket messages before checking their
size, and keeps buffering a message after refusing it, so it never sees a gossip frame (a
WebSocket request for a ``/gossip`` path that reaches it anyway, later on a kept-alive
connection, is refused).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import socket
import ssl
import stat
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.abc
import sniffio
from anyio.abc import SocketAttribute, TaskGroup
from anyio.streams.tls import TLSStream
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app
from starlette.types import ASGIApp
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.utilities import RemoteProtocolError

from bassline.net.admission import PendingLink
from bassline.net.asgi_app import create_app
from bassline.net.http11 import InNodeHTTP
from bassline.net.node import BasslineNetwork
from bassline.net.transport import ServerTransport
from bassline.net.urls import NodeURL, is_loopback

__all__ = [
    "MAX_REQUEST_HEAD",
    "MAX_TLS_FILE_BYTES",
    "InsecureListen",
    "NodeServer",
    "TLSFilesError",
    "tls_file_problem",
]

log = logging.getLogger("bassline.net")


class _HideBackendAddress(logging.Filter):
    """Hypercorn announces where it listens: the private socket, not the node's address."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Running on ")


logging.getLogger("bassline.net.http").addFilter(_HideBackendAddress())

MAX_REQUEST_HEAD = 16 << 10
"""The largest first request head (request line plus headers) a connection may send."""

_READ = 65536
_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,  # ssl.SSLError included
)


class InsecureListen(ValueError):
    """Refusing to listen beyond loopback without a cluster secret."""


class TLSFilesError(ValueError):
    """The certificate or key file given for TLS cannot be read or used."""


MAX_TLS_FILE_BYTES = 1 << 20
"""The largest certificate or key file a node takes (PEM files are a few KiB)."""

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def tls_file_problem(path: str | os.PathLike[str], limit: int = MAX_TLS_FILE_BYTES) -> str | None:
    """Why ``path`` is no PEM file to hand to :mod:`ssl`, or None: it cannot be looked at,
    is not a regular file (OpenSSL reads a device such as ``/dev/zero`` or a pipe with no
    end, or waits for a pipe's writer, for ever) or holds more than ``limit`` bytes.
    Nothing is opened, so a pipe is never waited on."""
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        return f"cannot read it: {exc.strerror if isinstance(exc, OSError) else exc}"
    if not stat.S_ISREG(info.st_mode):
        kind = next((what for test, what in _FILE_KINDS if test(info.st_mode)), "a special file")
        return f"not a regular file ({kind}): give a PEM file"
    if info.st_size > limit:
        return f"{info.st_size:,} bytes, more than the {limit:,} taken of a PEM file"
    return None


def _check_listen(host: object, port: object, graceful_timeout: object) -> None:
    """TypeError or ValueError, naming the argument, for a host, port or grace period no
    server can listen with (found here rather than as a socket error once serving)."""
    if not isinstance(host, str) or not host:
        raise TypeError(f"NodeServer host must be a non-empty string, got {host!r}")
    if type(port) is not int:
        raise TypeError(f"NodeServer port must be an int (0 picks a free one), got {port!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"NodeServer port must be in 0..65535 (0 picks a free one), got {port}")
    if type(graceful_timeout) not in (int, float):
        raise TypeError(f"graceful_timeout must be a number of seconds, got {graceful_timeout!r}")
    if not 0 <= graceful_timeout < math.inf:  # type: ignore[operator]  # NaN included
        raise ValueError(f"graceful_timeout must be 0 or more and finite, got {graceful_timeout}")


def is_gossip_path(path: str) -> bool:
    """Whether a request path is a node's gossip endpoint (``/gossip``, ``/mount/gossip``)."""
    return path == "/gossip" or path.endswith("/gossip")


class NodeServer:
    """Serve ``network`` (its gossip endpoint and API) on ``host:port`` (port 0: any free).

    ``certfile`` + ``keyfile`` turn on TLS (peers then dial ``wss://``): PEM files, each
    a regular file of at most :data:`MAX_TLS_FILE_BYTES`, else entering raises
    :class:`TLSFilesError` naming the file and why, before anything is read. Without a
    cluster secret only a loopback host is allowed. Once entered, :attr:`url` is the
    bound address, and the network advertises it to peers unless it has its own
    ``advertise_url``. Use as ``async with NodeServer(net, "127.0.0.1", 0) as server``.

    ``app`` replaces the node's own ASGI app (for instance one that mounts it); every
    WebSocket request for a path ending in ``/gossip`` is gossip for ``network`` and
    never reaches ``app``. ``graceful_timeout`` is how many seconds open HTTP requests
    get to finish at shutdown (0 or more, finite). A host that is not a non-empty
    string, a port outside 0..65535 or a bad grace period is a TypeError or ValueError
    naming it, raised here.
    """

    _in_node_http = True
    """Whether plain HTTP/1.1 is answered in the node (False: all of it through Hypercorn,
    as before; for benchmarks comparing the two)."""

    def __init__(
        self,
        network: BasslineNetwork,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        certfile: str | None = None,
        keyfile: str | None = None,
        app: ASGIApp | None = None,
        graceful_timeout: float = 2.0,
    ) -> None:
        _check_listen(host, port, graceful_timeout)
        if host.startswith("[") and host.endswith("]"):  # an IPv6 address as a URL writes it
            host = host[1:-1]
        if network.secret is None and not is_loopback(host):
            raise InsecureListen(
                f"refusing to listen on {host} without a cluster secret: anyone who can reach "
                "it could join the network; give a secret (--secret-file) or listen on 127.0.0.1"
            )
        if (certfile is None) != (keyfile is None):
            raise ValueError("TLS needs both a certificate file and a key file")
        self.network = network
        self.host = host
        self.port = port
        self.certfile = certfile
        self.keyfile = keyfile
        self.app = app if app is not None else create_app(network)
        self.graceful_timeout = graceful_timeout
        self.url: NodeURL | None = None
        self._ssl: ssl.SSLContext | None = None
        self._tg: TaskGroup | None = None
        self._accepting = anyio.CancelScope()
        self._shutdown = anyio.Event()
        self._stopped = anyio.Event()
        self._backend_dir: str | None = None
        self._backend: tuple[str, int] | str = ""
        self._http = InNodeHTTP(self.app)

    def _tls_context(self) -> ssl.SSLContext:
        for what, path in (("certificate", self.certfile), ("key", self.keyfile)):
            assert path is not None
            problem = tls_file_problem(path)
            if problem is not None:  # found before OpenSSL reads it
                raise TLSFilesError(f"cannot use TLS {what} file {path!r}: {problem}")
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.set_alpn_protocols(["http/1.1"])
            assert self.certfile is not None and self.keyfile is not None
            context.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise TLSFilesError(
                f"cannot use TLS certificate {self.certfile!r} with key {self.keyfile!r}: {reason}"
            ) from None
        return context

    async def __aenter__(self) -> Self:
        if self.certfile is not None:
            # loaded now, before this node listens or advertises a wss:// URL
            self._ssl = self._tls_context()
        public = Config()
        host = f"[{self.host}]" if ":" in self.host else self.host
        public.bind = [f"{host}:{self.port}"]
        try:
            created = public.create_sockets()
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        sockets = created.secure_sockets + created.insecure_sockets
        for sock in sockets:
            sock.listen(public.backlog)
        bound = sockets[0].getsockname()
        self.url = NodeURL(self._ssl is not None, _display_host(self.host), bound[1])
        backend = self._backend_socket()
        try:
            listeners = [await anyio.abc.SocketListener.from_socket(s) for s in sockets]
        except BaseException:
            for sock in [*sockets, backend]:
                sock.close()
            self._remove_backend_dir()
            raise
        if self.network.advertise_url is None:
            self.network.advertise_url = self.url.ws
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._serve_backend, backend)
        self._tg.start_soon(self._accept_all, listeners)
        log.info("node %s listening on %s", self.network.node_id, self.url.http)
        return self

    def _backend_socket(self) -> socket.socket:
        """Where Hypercorn listens: a Unix socket in a private directory (or, without
        Unix sockets, an ephemeral loopback port)."""
        if hasattr(socket, "AF_UNIX"):
            self._backend_dir = tempfile.mkdtemp(prefix="bassline-http-")  # mode 0700
            path = os.path.join(self._backend_dir, "http.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(path)
            self._backend = path
        else:  # pragma: no cover - platforms without AF_UNIX
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            self._backend = sock.getsockname()[:2]
        sock.listen(128)
        return sock

    def _remove_backend_dir(self) -> None:
        if self._backend_dir is not None:
            shutil.rmtree(self._backend_dir, ignore_errors=True)
            self._backend_dir = None

    async def _serve_backend(self, sock: socket.socket) -> None:
        config = Config()
        config.graceful_timeout = self.graceful_timeout
        config.websocket_max_message_size = self.network.settings.max_frame_bytes
        config.errorlog = logging.getLogger("bassline.net.http")
        config.accesslog = None
        sockets = Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])
        try:
            watched = self._http.watch(_without_gossip(self.app))
            app = wrap_app(watched, config.wsgi_max_body_size, "asgi")  # type: ignore[arg-type]
            if sniffio.current_async_library() == "trio":
                from hypercorn.trio.run import worker_serve as trio_serve

                await trio_serve(app, config, sockets=sockets, shutdown_trigger=self._shutdown.wait)
            else:
                from hypercorn.asyncio.run import worker_serve as asyncio_serve

                await asyncio_serve(
                    app, config, sockets=sockets, shutdown_trigger=self._shutdown.wait
                )
        finally:
            self._stopped.set()

    async def _accept_all(self, listeners: list[anyio.abc.SocketListener]) -> None:
        with self._accepting:
            async with anyio.create_task_group() as tg:
                for listener in listeners:
                    tg.start_soon(self._accept, listener)
        for listener in listeners:
            with contextlib.suppress(*_STREAM_ERRORS):
                await listener.aclose()

    async def _accept(self, listener: anyio.abc.SocketListener) -> None:
        assert self._tg is not None
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # out of file descriptors, ...: keep serving
                log.warning("cannot accept a connection: %s", exc)
                await anyio.sleep(0.1)
                continue
            self._tg.start_soon(self._connection, stream)

    async def _connection(self, stream: anyio.abc.ByteStream) -> None:
        remote = stream.extra(SocketAttribute.remote_address, None)
        local = stream.extra(SocketAttribute.local_address, None)
        host, port = (str(remote[0]), remote[1]) if isinstance(remote, tuple) else (None, None)
        pending = self.network.admit(host)
        try:
            head = b""
            with pending.stage(), anyio.move_on_after(self.network.settings.handshake_timeout):
                if self._ssl is not None:
                    stream = await TLSStream.wrap(
                        stream, server_side=True, ssl_context=self._ssl, standard_compatible=False
                    )
                head = await _read_head(stream)
            end = head.find(b"\r\n\r\n")
            if end < 0 or end > MAX_REQUEST_HEAD:
                if len(head) > MAX_REQUEST_HEAD:
                    await _respond(stream, 431, f"request head over {MAX_REQUEST_HEAD} bytes")
                return  # evicted, too slow, or gone
            first, _, _ = head.partition(b"\r\n")
            parts = first.split(b" ")
            target = parts[1] if len(parts) == 3 else b""
            path = target.partition(b"?")[0].decode("latin-1")
            if "://" in path:  # absolute form
                path = "/" + path.split("://", 1)[1].partition("/")[2]
            if is_gossip_path(path):
                await self._gossip(stream, head, pending, f"{host}:{port}", host)
            else:
                pending.release()
                if self._in_node_http:
                    client = (host, port) if isinstance(remote, tuple) else None
                    server = (str(local[0]), local[1]) if isinstance(local, tuple) else None
                    tls = self._ssl is not None
                    rest = await self._http.serve(stream, head, tls, client, server)  # type: ignore[arg-type]
                    if rest is None:
                        return
                    head = rest  # a request Hypercorn takes, from its first byte
                await self._proxy(stream, head)
        except _STREAM_ERRORS:
            pass
        finally:
            pending.release()
            with anyio.CancelScope(shield=True):
                await _close(stream)

    async def _gossip(
        self,
        stream: anyio.abc.ByteStream,
        received: bytes,
        pending: PendingLink,
        remote: str,
        host: str | None,
    ) -> None:
        end = received.index(b"\r\n\r\n") + 4
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.receive_data(received[:end])
            request = next(ws.events(), None)
        except RemoteProtocolError:
            request = None
        if not isinstance(request, Request):
            await _respond(
                stream, 400, "this is a Bassline gossip endpoint: it takes WebSocket upgrades only"
            )
            return
        await stream.send(ws.send(AcceptConnection()))  # no extensions: no compression
        if end < len(received):
            ws.receive_data(received[end:])  # frames sent along with the upgrade request
        limit = self.network.settings.handshake_frame_limit
        await self.network.accept(ServerTransport(stream, ws, limit, remote, host), pending)

    async def _proxy(self, client: anyio.abc.ByteStream, head: bytes) -> None:
        try:
            if isinstance(self._backend, str):
                backend: anyio.abc.SocketStream = await anyio.connect_unix(self._backend)
            else:  # pragma: no cover - platforms without AF_UNIX
                backend = await anyio.connect_tcp(*self._backend)
        except OSError:
            await _respond(client, 503, "the node's HTTP server is not running")
            return
        async with backend, anyio.create_task_group() as tg:

            async def upstream() -> None:
                with contextlib.suppress(*_STREAM_ERRORS):
                    while True:
                        await backend.send(await client.receive(_READ))
                with contextlib.suppress(*_STREAM_ERRORS):
                    await backend.send_eof()

            await backend.send(head)
            tg.start_soon(upstream)
            with contextlib.suppress(*_STREAM_ERRORS):
                while True:
                    await client.send(await backend.receive(_READ))
            tg.cancel_scope.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop accepting, let open requests finish (``graceful_timeout``), then return."""
        assert self._tg is not None
        try:
            self._accepting.cancel()
            await self.network.close_inbound("server stopping")
            self._shutdown.set()
            await self._http.stop(self.graceful_timeout)
            with anyio.move_on_after(self.graceful_timeout + 2) as scope:
                await self._stopped.wait()
            if scope.cancelled_caught:
                log.warning("HTTP server did not stop within its grace period; cancelling it")
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
        finally:
            self._remove_backend_dir()


async def _read_head(stream: anyio.abc.ByteStream) -> bytes:
    """Bytes up to the end of the first request head and any that came with them; stops
    once more than :data:`MAX_REQUEST_HEAD` have come without the head's end."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) <= MAX_REQUEST_HEAD:
        data += await stream.receive(_READ)
    return data


async def _respond(stream: anyio.abc.ByteStream, status: int, text: str) -> None:
    reasons = {400: "Bad Request", 431: "Request Header Fields Too Large", 503: "Unavailable"}
    body = (text + "\n").encode()
    with contextlib.suppress(*_STREAM_ERRORS):
        await stream.send(
            f"HTTP/1.1 {status} {reasons[status]}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )


async def _close(stream: anyio.abc.ByteStream) -> None:
    with contextlib.suppress(*_STREAM_ERRORS):
        await stream.aclose()


_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _without_gossip(app: ASGIApp) -> Callable[[_Scope, _Receive, _Send], Awaitable[None]]:
    """``app``, except that a gossip WebSocket reaching it (a kept-alive connection's later
    request) is refused: gossip is read by :class:`NodeServer` itself, never by Hypercorn."""

    async def guarded(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "websocket" and is_gossip_path(str(scope.get("path", ""))):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        await app(scope, receive, send)

    return guarded


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return host
