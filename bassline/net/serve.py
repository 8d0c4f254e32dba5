"""Serving a node's ASGI app on Hypercorn, from asyncio or trio alike."""

from __future__ import annotations

import logging
import socket
from types import TracebackType
from typing import Self

import anyio
import sniffio
from anyio.abc import TaskGroup
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app
from starlette.types import ASGIApp

from bassline.net.node import BasslineNetwork
from bassline.net.server import create_app
from bassline.net.urls import NodeURL, is_loopback

__all__ = ["InsecureListen", "NodeServer", "TLSFilesError"]

log = logging.getLogger("bassline.net")


class InsecureListen(ValueError):
    """Refusing to listen beyond loopback without a cluster secret."""


class TLSFilesError(ValueError):
    """The certificate or key file given for TLS cannot be read or used."""


class NodeServer:
    """Serve ``network`` (its gossip endpoint and API) on ``host:port`` (port 0: any free).

    ``certfile`` + ``keyfile`` turn on TLS (peers then dial ``wss://``). Without a
    cluster secret only a loopback host is allowed. Once entered, :attr:`url` is the
    bound address, and the network advertises it to peers unless it has its own
    ``advertise_url``. Use as ``async with NodeServer(net, "127.0.0.1", 0) as server``.
    """

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
        self.app = app if app is not None else create_app(network)
        self.config = Config()
        self.config.certfile = certfile
        self.config.keyfile = keyfile
        self.config.graceful_timeout = graceful_timeout
        self.config.websocket_max_message_size = 4 * network.settings.max_frame_bytes
        self.config.errorlog = logging.getLogger("bassline.net.http")
        self.config.accesslog = None
        self.url: NodeURL | None = None
        self._tg: TaskGroup | None = None
        self._shutdown = anyio.Event()
        self._stopped = anyio.Event()

    async def __aenter__(self) -> Self:
        if self.config.ssl_enabled:
            # load them now: Hypercorn would only do so once serving, after this node had
            # advertised its wss:// URL, and fail inside its task group
            try:
                self.config.create_ssl_context()
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise TLSFilesError(
                    f"cannot use TLS certificate {self.config.certfile!r} with key "
                    f"{self.config.keyfile!r}: {reason}"
                ) from None
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.config.bind = [f"{host}:{self.port}"]
        try:
            sockets = self.config.create_sockets()
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        for sock in sockets.secure_sockets + sockets.insecure_sockets:
            sock.listen(self.config.backlog)
        bound = (sockets.secure_sockets or sockets.insecure_sockets)[0].getsockname()
        self.url = NodeURL(self.config.ssl_enabled, _display_host(self.host), bound[1])
        if self.network.advertise_url is None:
            self.network.advertise_url = self.url.ws
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._serve, sockets)
        log.info("node %s listening on %s", self.network.node_id, self.url.http)
        return self

    async def _serve(self, sockets: Sockets) -> None:
        try:
            app = wrap_app(self.app, self.config.wsgi_max_body_size, "asgi")  # type: ignore[arg-type]
            if sniffio.current_async_library() == "trio":
                from hypercorn.trio.run import worker_serve as trio_serve

                await trio_serve(
                    app,
                    self.config,
                    sockets=sockets,
                    shutdown_trigger=self._shutdown.wait,
                )
            else:
                from hypercorn.asyncio.run import worker_serve as asyncio_serve

                await asyncio_serve(
                    app,
                    self.config,
                    sockets=sockets,
                    shutdown_trigger=self._shutdown.wait,
                )
        finally:
            self._stopped.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop accepting, let open requests finish (``graceful_timeout``), then return."""
        await self.network.close_inbound("server stopping")
        self._shutdown.set()
        assert self._tg is not None
        with anyio.move_on_after(self.config.graceful_timeout + 2) as scope:
            await self._stopped.wait()
        if scope.cancelled_caught:
            log.warning("HTTP server did not stop within its grace period; cancelling it")
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return host
