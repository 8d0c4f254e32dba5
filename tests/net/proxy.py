"""A TCP proxy on loopback that can cut, restore, freeze and thaw a link (real sockets)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import anyio
import anyio.abc
from anyio.abc import TaskGroup


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target>; a partition is ``cut()``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.accepting = True
        self.connections = 0
        self._scopes: set[anyio.CancelScope] = set()
        self._flowing = anyio.Event()
        self._flowing.set()
        self._tg: TaskGroup | None = None
        self._listener: anyio.abc.SocketListener | None = None

    async def __aenter__(self) -> Self:
        self._listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = self._listener.extra(anyio.abc.SocketAttribute.local_port)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._listener.serve, self._handle)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tg is not None and self._listener is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        await self._listener.aclose()

    @property
    def url(self) -> str:
        """The ws:// URL that reaches the target through the proxy."""
        return f"ws://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.accepting = False
        for scope in list(self._scopes):
            scope.cancel()

    def restore(self) -> None:
        """Accept connections again."""
        self.accepting = True

    def freeze(self) -> None:
        """Stop forwarding bytes (connections stay open): a stalled peer."""
        self._flowing = anyio.Event()

    def thaw(self) -> None:
        """Forward again."""
        self._flowing.set()

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        async with client:
            if not self.accepting:
                return
            try:
                upstream = await anyio.connect_tcp("127.0.0.1", self.target_port)
            except OSError:
                return
            self.connections += 1
            async with upstream:
                with anyio.CancelScope() as scope:
                    self._scopes.add(scope)
                    try:
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(self._pump, client, upstream, tg)
                            tg.start_soon(self._pump, upstream, client, tg)
                    finally:
                        self._scopes.discard(scope)

    async def _pump(
        self, src: anyio.abc.SocketStream, dst: anyio.abc.SocketStream, tg: TaskGroup
    ) -> None:
        try:
            while True:
                data = await src.receive(65536)
                await self._flowing.wait()
                await dst.send(data)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        finally:
            tg.cancel_scope.cancel()
