"""Calling a node's HTTP API from Python: :class:`NodeClient` and :class:`AsyncNodeClient`.

Both offer the same calls, one per route of the API (:mod:`bassline.net.routes`), and
return the typed values of :mod:`bassline.net.replies`; :class:`NodeClient` blocks (the
``bassline`` CLI uses it), :class:`AsyncNodeClient` awaits (on asyncio or trio). Every
failure is a :class:`~bassline.net.client_errors.NodeClientError` saying what was asked,
of which node, and why: unreachable, timed out, refused by the node (with its message),
a wrong or missing secret, or a reply that is not a Bassline node's. Everything but the
I/O lives once, in :mod:`bassline.net.client_core`.

::

    with NodeClient("http://127.0.0.1:8455", secret=key) as node:
        node.write("input-a", 5)
        print(node.contact("result").value)
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import httpx

from bassline.content import Content
from bassline.engine.explanation import Explanation
from bassline.net.client_core import (
    Ask,
    Calls,
    aread_body,
    ask_contact,
    ask_contents,
    ask_explain,
    ask_health,
    ask_spec,
    ask_status,
    ask_write,
    ask_write_many,
    read_body,
)
from bassline.net.replies import (
    ContactReading,
    EventReader,
    HealthReply,
    NodeContents,
    NodeEvent,
    WriteResult,
)
from bassline.net.urls import NodeURL

__all__ = ["DEFAULT_MAX_REPLY_BYTES", "DEFAULT_TIMEOUT", "AsyncNodeClient", "NodeClient"]

T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

DEFAULT_TIMEOUT = 10.0
"""Seconds to connect, and to wait for each part of an answer."""
DEFAULT_MAX_REPLY_BYTES = 64 << 20
"""The largest reply read (64 MiB), and the largest event of a change stream."""


class _Client(Generic[H]):
    """The address, the options and the HTTP client (``H``) both front ends hold."""

    def __init__(
        self,
        url: str | NodeURL,
        *,
        secret: bytes | str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self._calls = Calls(url, secret, timeout, max_reply_bytes)
        self._http: H = self._open(ssl_context or True, timeout)

    def _open(self, verify: ssl.SSLContext | bool, timeout: float) -> H:
        raise NotImplementedError

    @property
    def url(self) -> NodeURL:
        """The node's address."""
        return self._calls.base


class NodeClient(_Client[httpx.Client]):
    """A blocking client for one node's HTTP API (what the ``bassline`` CLI uses).

    ``url`` is the node's address in any form a peer takes (``http://``, ``https://``,
    ``ws://``, ``wss://``, with the path it is mounted under); a bad one is a
    :class:`ValueError` at once. ``secret`` is the cluster secret of a node that has one
    (the API token is derived from it), bytes or text; one shorter than 16 bytes, which no
    node accepts, is a :class:`ValueError` at once, worded as the node's. ``ssl_context`` decides which certificates an
    ``https`` node may present (default: the system's). ``timeout`` is in seconds, for
    connecting and for each part of an answer (a change stream waits for events as long as
    it takes). A reply larger than ``max_reply_bytes`` is refused unread.

    Use it in a ``with`` block, or call :meth:`close` when done.
    """

    def _open(self, verify: ssl.SSLContext | bool, timeout: float) -> httpx.Client:
        return httpx.Client(verify=verify, timeout=timeout)

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections."""
        self._http.close()

    def _call(self, ask: Ask[T]) -> T:
        calls = self._calls
        try:
            with self._http.stream(
                ask.method,
                calls.base.http + ask.path,
                headers=calls.headers("application/json", ask.body is not None),
                content=ask.body,
            ) as response:
                data = read_body(calls, ask.request, response)
        except httpx.HTTPError as exc:
            raise calls.failed(ask.request, exc) from None
        return calls.answer(ask, response, data)

    def contact(self, contact: str) -> ContactReading:
        """Read one contact: its content, stamp and any contradiction or gadget failure."""
        return self._call(ask_contact(contact))

    def explain(self, contact: str, depth: int | None = None) -> Explanation:
        """Why the contact holds its value on the node, back to the writes it rests on,
        ``depth`` contacts deep (None: no limit): the :class:`~bassline.engine.Explanation`
        the node's ``explain`` gives, rebuilt from its JSON form."""
        return self._call(ask_explain(contact, depth))

    def write(self, contact: str, content: Content, *, via: str | None = None) -> WriteResult:
        """Write one contact's content (it replicates to every node); what the run did.

        The node records the write as come in ``via="http"``, or ``"cli"`` when ``via``
        says so (the ``bassline`` CLI does)."""
        return self._call(ask_write(contact, content, via))

    def write_many(self, values: Mapping[str, Content], *, via: str | None = None) -> WriteResult:
        """Write several contacts in one run on the node (``via`` as for :meth:`write`)."""
        return self._call(ask_write_many(values, via))

    def contents(self) -> NodeContents:
        """Every contact that has content, with its stamp, and the node's digest."""
        return self._call(ask_contents())

    def spec(self) -> dict[str, Any]:
        """The Bassline the node runs: ``{"hash": ..., "spec": <native format>}``."""
        return self._call(ask_spec())

    def status(self) -> dict[str, Any]:
        """The node's status (peers, digest, storage, breaker, ...), as ``/api/status``."""
        return self._call(ask_status())

    def health(self) -> HealthReply:
        """The node's health; a degraded node (HTTP 503) is an answer, not an error."""
        return self._call(ask_health())

    @contextlib.contextmanager
    def changes(self, contacts: Iterable[str] = ()) -> Iterator[Iterator[NodeEvent]]:
        """A stream of the node's changes to ``contacts`` (none: every contact)::

            with node.changes(["result"]) as events:
                for event in events:
                    ...

        The first event is the ``snapshot``; the iterator ends when the node closes the
        stream (it shut down). A node that cuts the stream off raises
        :class:`~bassline.net.client_errors.WatchOverflow`. The stream is open (the node
        sends every change from then on) once the block is entered.
        """
        calls = self._calls
        request, url, headers, timeout = calls.stream(contacts)
        try:
            with self._http.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    calls.reply(request, response, read_body(calls, request, response))

                def events() -> Iterator[NodeEvent]:
                    reader = EventReader(calls.limit)
                    try:
                        for chunk in response.iter_bytes():
                            yield from calls.events(request, reader, chunk)
                    except httpx.HTTPError as exc:
                        raise calls.failed(request, exc) from None

                yield events()
        except httpx.HTTPError as exc:
            raise calls.failed(request, exc) from None


class AsyncNodeClient(_Client[httpx.AsyncClient]):
    """An async client for one node's HTTP API, on asyncio or trio: :class:`NodeClient`'s
    calls, awaited, with the same arguments. Use it in an ``async with`` block, or await
    :meth:`aclose` when done.
    """

    def _open(self, verify: ssl.SSLContext | bool, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=verify, timeout=timeout)

    async def __aenter__(self) -> AsyncNodeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._http.aclose()

    async def _call(self, ask: Ask[T]) -> T:
        calls = self._calls
        try:
            async with self._http.stream(
                ask.method,
                calls.base.http + ask.path,
                headers=calls.headers("application/json", ask.body is not None),
                content=ask.body,
            ) as response:
                data = await aread_body(calls, ask.request, response)
        except httpx.HTTPError as exc:
            raise calls.failed(ask.request, exc) from None
        return calls.answer(ask, response, data)

    async def contact(self, contact: str) -> ContactReading:
        """:meth:`NodeClient.contact`, awaited."""
        return await self._call(ask_contact(contact))

    async def explain(self, contact: str, depth: int | None = None) -> Explanation:
        """:meth:`NodeClient.explain`, awaited."""
        return await self._call(ask_explain(contact, depth))

    async def write(self, contact: str, content: Content, *, via: str | None = None) -> WriteResult:
        """:meth:`NodeClient.write`, awaited."""
        return await self._call(ask_write(contact, content, via))

    async def write_many(
        self, values: Mapping[str, Content], *, via: str | None = None
    ) -> WriteResult:
        """:meth:`NodeClient.write_many`, awaited."""
        return await self._call(ask_write_many(values, via))

    async def contents(self) -> NodeContents:
        """:meth:`NodeClient.contents`, awaited."""
        return await self._call(ask_contents())

    async def spec(self) -> dict[str, Any]:
        """:meth:`NodeClient.spec`, awaited."""
        return await self._call(ask_spec())

    async def status(self) -> dict[str, Any]:
        """:meth:`NodeClient.status`, awaited."""
        return await self._call(ask_status())

    async def health(self) -> HealthReply:
        """:meth:`NodeClient.health`, awaited."""
        return await self._call(ask_health())

    @contextlib.asynccontextmanager
    async def changes(
        self, contacts: Iterable[str] = ()
    ) -> AsyncIterator[AsyncIterator[NodeEvent]]:
        """:meth:`NodeClient.changes`, awaited::

        async with node.changes(["result"]) as events:
            async for event in events:
                ...
        """
        calls = self._calls
        request, url, headers, timeout = calls.stream(contacts)
        try:
            async with self._http.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    calls.reply(request, response, await aread_body(calls, request, response))

                async def events() -> AsyncIterator[NodeEvent]:
                    reader = EventReader(calls.limit)
                    try:
                        async for chunk in response.aiter_bytes():
                            for event in calls.events(request, reader, chunk):
                                yield event
                    except httpx.HTTPError as exc:
                        raise calls.failed(request, exc) from None

                yield events()
        except httpx.HTTPError as exc:
            raise calls.failed(request, exc) from None
