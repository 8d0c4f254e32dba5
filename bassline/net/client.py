"""Calling a node's HTTP API from Python: :class:`NodeClient` and :class:`AsyncNodeClient`.

Both offer the same calls, one per route of the API (:mod:`bassline.net.routes`), and
return the typed values of :mod:`bassline.net.replies`; :class:`NodeClient` blocks (the
``bassline`` CLI uses it), :class:`AsyncNodeClient` awaits (on asyncio or trio). Every
failure is a :class:`~bassline.net.client_errors.NodeClientError` saying what was asked,
of which node, and why: unreachable, timed out, refused by the node (with its message),
a wrong or missing secret, or a reply that is not a Bassline node's.

::

    with NodeClient("http://127.0.0.1:8455", secret=key) as node:
        node.write("input-a", 5)
        print(node.contact("result").value)
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn, TypeVar

import httpx
import orjson

from bassline.codec import parse_json, to_json
from bassline.content import Content
from bassline.engine.explanation import Explanation
from bassline.net import routes
from bassline.net.auth import api_token
from bassline.net.client_errors import (
    BadReply,
    NodeAuthError,
    NodeClientError,
    NodeRefused,
    NodeTimeout,
    NodeUnreachable,
    WatchOverflow,
)
from bassline.net.explain_reply import read_explanation
from bassline.net.replies import (
    ContactReading,
    EventReader,
    HealthReply,
    NodeContents,
    NodeEvent,
    WriteResult,
    read_contact,
    read_contents,
    read_event,
    read_health,
    read_write,
)
from bassline.net.urls import NodeURL, parse_node_url

__all__ = ["DEFAULT_MAX_REPLY_BYTES", "DEFAULT_TIMEOUT", "AsyncNodeClient", "NodeClient"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
"""Seconds to connect, and to wait for each part of an answer."""
DEFAULT_MAX_REPLY_BYTES = 64 << 20
"""The largest reply read (64 MiB), and the largest event of a change stream."""


class _Calls:
    """What both clients share: the node's address, the headers, reading replies."""

    def __init__(
        self, url: str | NodeURL, secret: bytes | None, timeout: float, max_reply_bytes: int
    ) -> None:
        self.base = url if isinstance(url, NodeURL) else parse_node_url(url)
        if timeout <= 0 or max_reply_bytes <= 0:
            raise ValueError("timeout and max_reply_bytes must be positive")
        self.timeout = timeout
        self.limit = max_reply_bytes
        self.secret = secret
        self.token = api_token(secret) if secret is not None else None

    def headers(self, accept: str, body: bool) -> dict[str, str]:
        headers = {"accept": accept}
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token}"
        if body:
            headers["content-type"] = "application/json"
        return headers

    def failed(self, request: str, exc: httpx.HTTPError) -> NodeClientError:
        """The error for a call that got no (whole) answer."""
        node = self.base.http
        if isinstance(exc, httpx.TimeoutException):
            return NodeTimeout(
                f"node at {node} did not answer {request} within {self.timeout}s",
                node=node,
                request=request,
            )
        return NodeUnreachable(
            f"cannot reach node at {node} ({request}): {_why(exc)}", node=node, request=request
        )

    def too_large(self, request: str) -> BadReply:
        return self.bad(
            request,
            f"a reply of more than {self.limit} bytes (max_reply_bytes), not read",
        )

    def bad(self, request: str, why: str) -> BadReply:
        node = self.base.http
        return BadReply(f"node at {node} answered {request} with {why}", node=node, request=request)

    def declared_size(self, request: str, response: httpx.Response) -> None:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            raise self.too_large(request)

    def reply(
        self, request: str, response: httpx.Response, body: bytes, ok: tuple[int, ...] = (200,)
    ) -> Any:
        """The JSON of an answer, or the error it stands for."""
        status = response.status_code
        try:
            data = parse_json(body)
        except ValueError:
            data = None
            if status in ok:
                kind = response.headers.get("content-type") or "no content type"
                raise self.bad(
                    request, f"HTTP {status} but not JSON ({kind}): is it a Bassline node?"
                ) from None
        if status in ok:
            return data
        self.refused(request, status, data)

    def refused(self, request: str, status: int, data: Any) -> NoReturn:
        node = self.base.http
        reason = data.get("error") if isinstance(data, dict) else None
        code = data.get("code") if isinstance(data, dict) else None
        reason = reason if isinstance(reason, str) else None
        code = code if isinstance(code, str) else None
        said = (
            f"{reason} (HTTP {status}{' ' + code if code else ''})"
            if reason
            else (f"HTTP {status}, without a Bassline error message: is it a Bassline node?")
        )
        if status == 401:
            hint = (
                "the client's secret is not the node's"
                if self.secret is not None
                else "the node has a cluster secret and the client gave none"
            )
            raise NodeAuthError(
                f"node at {node} refused {request}: {hint}: {said}",
                node=node,
                request=request,
                status=status,
                code=code,
                reason=reason,
            )
        raise NodeRefused(
            f"node at {node} refused {request}: {said}",
            node=node,
            request=request,
            status=status,
            code=code,
            reason=reason,
        )

    def typed(self, request: str, read: Callable[[Any], T], data: Any) -> T:
        """``read(data)``, a BadReply if the data does not have the shape it reads."""
        try:
            return read(data)
        except ValueError as exc:
            raise self.bad(request, f"an unexpected reply: {exc}") from None

    def event(self, request: str, kind: str, text: str) -> NodeEvent:
        """An event of the change stream; WatchOverflow for ``overflow``."""
        event = self.typed(request, lambda t: read_event(kind, t), text)
        if event.kind == "overflow":
            node = self.base.http
            limit = event.data.get("limit")
            raise WatchOverflow(
                f"node at {node} cut {request} off: {event.data['error']}",
                node=node,
                request=request,
                reason=str(event.data["error"]),
                limit=limit if isinstance(limit, int) else None,
            )
        return event

    def body(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _why(exc: httpx.HTTPError) -> str:
    """Why a connection failed: the operating system's reason when one lies under httpx's."""
    seen: list[BaseException] = [exc]
    for cause in seen:  # breadth-first through causes, contexts and exception groups
        if isinstance(cause, ssl.SSLError):
            reason = getattr(cause, "verify_message", None) or cause.reason or cause
            return f"TLS failed: {reason}"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        seen += [c for c in (cause.__cause__, cause.__context__) if c is not None]
        if isinstance(cause, BaseExceptionGroup):
            seen += cause.exceptions
        if len(seen) > 50:
            break
    return str(exc) or type(exc).__name__


def _request(method: str, path: str) -> str:
    return f"{method} {path}"


class NodeClient:
    """A blocking client for one node's HTTP API (what the ``bassline`` CLI uses).

    ``url`` is the node's address in any form a peer takes (``http://``, ``https://``,
    ``ws://``, ``wss://``, with the path it is mounted under); a bad one is a
    :class:`ValueError` at once. ``secret`` is the cluster secret of a node that has one
    (the API token is derived from it). ``ssl_context`` decides which certificates an
    ``https`` node may present (default: the system's). ``timeout`` is in seconds, for
    connecting and for each part of an answer (a change stream waits for events as long as
    it takes). A reply larger than ``max_reply_bytes`` is refused unread.

    Use it in a ``with`` block, or call :meth:`close` when done.
    """

    def __init__(
        self,
        url: str | NodeURL,
        *,
        secret: bytes | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self._calls = _Calls(url, secret, timeout, max_reply_bytes)
        self._http = httpx.Client(verify=ssl_context or True, timeout=timeout)

    @property
    def url(self) -> NodeURL:
        """The node's address."""
        return self._calls.base

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections."""
        self._http.close()

    def _call(
        self,
        read: Callable[[Any], T],
        method: str,
        path: str,
        body: Any = None,
        ok: tuple[int, ...] = (200,),
    ) -> T:
        calls = self._calls
        request = _request(method, path)
        content = None if body is None else calls.body(body)
        try:
            with self._http.stream(
                method,
                calls.base.http + path,
                headers=calls.headers("application/json", content is not None),
                content=content,
            ) as response:
                data = _read(calls, request, response)
        except httpx.HTTPError as exc:
            raise calls.failed(request, exc) from None
        return calls.typed(request, read, calls.reply(request, response, data, ok))

    def contact(self, contact: str) -> ContactReading:
        """Read one contact: its content, stamp and any contradiction or gadget failure."""
        return self._call(read_contact, "GET", routes.contact_path(contact))

    def explain(self, contact: str, depth: int | None = None) -> Explanation:
        """Why the contact holds its value on the node, back to the writes it rests on,
        ``depth`` contacts deep (None: no limit): the :class:`~bassline.engine.Explanation`
        the node's ``explain`` gives, rebuilt from its JSON form."""
        path = routes.explain_path(contact, _depth(depth))
        return self._call(read_explanation, "GET", path)

    def write(self, contact: str, content: Content, *, via: str | None = None) -> WriteResult:
        """Write one contact's content (it replicates to every node); what the run did.

        The node records the write as come in ``via="http"``, or ``"cli"`` when ``via``
        says so (the ``bassline`` CLI does)."""
        body = _with_via({"value": to_json(content)}, via)
        return self._call(read_write, "PUT", routes.contact_path(contact), body)

    def write_many(self, values: Mapping[str, Content], *, via: str | None = None) -> WriteResult:
        """Write several contacts in one run on the node (``via`` as for :meth:`write`)."""
        body = _with_via({"values": {cid: to_json(v) for cid, v in values.items()}}, via)
        return self._call(read_write, "POST", routes.CONTACTS, body)

    def contents(self) -> NodeContents:
        """Every contact that has content, with its stamp, and the node's digest."""
        return self._call(read_contents, "GET", routes.CONTACTS)

    def spec(self) -> dict[str, Any]:
        """The Bassline the node runs: ``{"hash": ..., "spec": <native format>}``."""
        return self._call(_object, "GET", routes.SPEC)

    def status(self) -> dict[str, Any]:
        """The node's status (peers, digest, storage, breaker, ...), as ``/api/status``."""
        return self._call(_object, "GET", routes.STATUS)

    def health(self) -> HealthReply:
        """The node's health; a degraded node (HTTP 503) is an answer, not an error."""
        return self._call(read_health, "GET", routes.HEALTH, ok=(200, 503))

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
        path = routes.changes_path(contacts)
        request = _request("GET", path)
        try:
            with self._http.stream(
                "GET",
                calls.base.http + path,
                headers=calls.headers("text/event-stream", False),
                timeout=httpx.Timeout(calls.timeout, read=None),
            ) as response:
                if response.status_code != 200:
                    calls.reply(request, response, _read(calls, request, response))

                def events() -> Iterator[NodeEvent]:
                    reader = EventReader(calls.limit)
                    try:
                        for chunk in response.iter_bytes():
                            for kind, text in _feed(calls, request, reader, chunk):
                                yield calls.event(request, kind, text)
                    except httpx.HTTPError as exc:
                        raise calls.failed(request, exc) from None

                yield events()
        except httpx.HTTPError as exc:
            raise calls.failed(request, exc) from None


class AsyncNodeClient:
    """An async client for one node's HTTP API, on asyncio or trio: :class:`NodeClient`'s
    calls, awaited. Use it in an ``async with`` block, or await :meth:`aclose` when done.
    """

    def __init__(
        self,
        url: str | NodeURL,
        *,
        secret: bytes | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self._calls = _Calls(url, secret, timeout, max_reply_bytes)
        self._http = httpx.AsyncClient(verify=ssl_context or True, timeout=timeout)

    @property
    def url(self) -> NodeURL:
        """The node's address."""
        return self._calls.base

    async def __aenter__(self) -> AsyncNodeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._http.aclose()

    async def _call(
        self,
        read: Callable[[Any], T],
        method: str,
        path: str,
        body: Any = None,
        ok: tuple[int, ...] = (200,),
    ) -> T:
        calls = self._calls
        request = _request(method, path)
        content = None if body is None else calls.body(body)
        try:
            async with self._http.stream(
                method,
                calls.base.http + path,
                headers=calls.headers("application/json", content is not None),
                content=content,
            ) as response:
                data = await _aread(calls, request, response)
        except httpx.HTTPError as exc:
            raise calls.failed(request, exc) from None
        return calls.typed(request, read, calls.reply(request, response, data, ok))

    async def contact(self, contact: str) -> ContactReading:
        """Read one contact: its content, stamp and any contradiction or gadget failure."""
        return await self._call(read_contact, "GET", routes.contact_path(contact))

    async def explain(self, contact: str, depth: int | None = None) -> Explanation:
        """Why the contact holds its value on the node (see :meth:`NodeClient.explain`)."""
        path = routes.explain_path(contact, _depth(depth))
        return await self._call(read_explanation, "GET", path)

    async def write(self, contact: str, content: Content, *, via: str | None = None) -> WriteResult:
        """Write one contact's content (it replicates to every node); what the run did
        (``via`` as for :meth:`NodeClient.write`)."""
        body = _with_via({"value": to_json(content)}, via)
        return await self._call(read_write, "PUT", routes.contact_path(contact), body)

    async def write_many(
        self, values: Mapping[str, Content], *, via: str | None = None
    ) -> WriteResult:
        """Write several contacts in one run on the node (``via`` as for
        :meth:`NodeClient.write`)."""
        body = _with_via({"values": {cid: to_json(v) for cid, v in values.items()}}, via)
        return await self._call(read_write, "POST", routes.CONTACTS, body)

    async def contents(self) -> NodeContents:
        """Every contact that has content, with its stamp, and the node's digest."""
        return await self._call(read_contents, "GET", routes.CONTACTS)

    async def spec(self) -> dict[str, Any]:
        """The Bassline the node runs: ``{"hash": ..., "spec": <native format>}``."""
        return await self._call(_object, "GET", routes.SPEC)

    async def status(self) -> dict[str, Any]:
        """The node's status (peers, digest, storage, breaker, ...), as ``/api/status``."""
        return await self._call(_object, "GET", routes.STATUS)

    async def health(self) -> HealthReply:
        """The node's health; a degraded node (HTTP 503) is an answer, not an error."""
        return await self._call(read_health, "GET", routes.HEALTH, ok=(200, 503))

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
        path = routes.changes_path(contacts)
        request = _request("GET", path)
        try:
            async with self._http.stream(
                "GET",
                calls.base.http + path,
                headers=calls.headers("text/event-stream", False),
                timeout=httpx.Timeout(calls.timeout, read=None),
            ) as response:
                if response.status_code != 200:
                    calls.reply(request, response, await _aread(calls, request, response))

                async def events() -> AsyncIterator[NodeEvent]:
                    reader = EventReader(calls.limit)
                    try:
                        async for chunk in response.aiter_bytes():
                            for kind, text in _feed(calls, request, reader, chunk):
                                yield calls.event(request, kind, text)
                    except httpx.HTTPError as exc:
                        raise calls.failed(request, exc) from None

                yield events()
        except httpx.HTTPError as exc:
            raise calls.failed(request, exc) from None


def _read(calls: _Calls, request: str, response: httpx.Response) -> bytes:
    """The whole body of ``response``, refused once it is larger than the client's limit."""
    calls.declared_size(request, response)
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > calls.limit:
            raise calls.too_large(request)
    return bytes(data)


async def _aread(calls: _Calls, request: str, response: httpx.Response) -> bytes:
    """:func:`_read`, awaited."""
    calls.declared_size(request, response)
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > calls.limit:
            raise calls.too_large(request)
    return bytes(data)


def _feed(calls: _Calls, request: str, reader: EventReader, chunk: bytes) -> list[tuple[str, str]]:
    try:
        return reader.feed(chunk)
    except ValueError:
        raise calls.too_large(request) from None


def _depth(depth: int | None) -> int | None:
    """``depth`` as explain takes it: None (no limit) or a whole number >= 1."""
    if depth is None or (type(depth) is int and depth >= 1):
        return depth
    raise ValueError(f"depth must be a whole number >= 1 or None (no limit), not {depth!r}")


def _with_via(body: dict[str, Any], via: str | None) -> dict[str, Any]:
    """A write's body, saying how the write came in when ``via`` is given."""
    if via is not None:
        body["via"] = via
    return body


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    return data
