"""What :class:`~bassline.net.client.NodeClient` and its async twin share.

Everything but the I/O: the node's address and headers, the request each call makes
(:class:`Ask`), reading a bounded body, and turning a status and body into a typed
answer (:mod:`bassline.net.replies`) or a
:class:`~bassline.net.client_errors.NodeClientError`.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, NoReturn, TypeVar

import attrs
import httpx
import orjson

from bassline.codec import parse_json, to_json
from bassline.content import Content
from bassline.engine.explanation import Explanation
from bassline.net import routes
from bassline.net.auth import api_token, cluster_secret
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
from bassline.runtime.policy import positive_seconds

__all__ = [
    "Ask",
    "Calls",
    "aread_body",
    "ask_contact",
    "ask_contents",
    "ask_explain",
    "ask_health",
    "ask_spec",
    "ask_status",
    "ask_write",
    "ask_write_many",
    "read_body",
]

T = TypeVar("T")


@attrs.frozen
class Ask(Generic[T]):
    """One call of the node's API: the request, and how its answer is read."""

    read: Callable[[Any], T]
    method: str
    path: str
    body: bytes | None = None
    """The JSON body, encoded (None: no body)."""
    ok: tuple[int, ...] = (200,)
    """The statuses that are answers rather than errors."""

    @property
    def request(self) -> str:
        """``METHOD path``, as errors name it."""
        return _request(self.method, self.path)


def ask_contact(contact: str) -> Ask[ContactReading]:
    """Read one contact."""
    return Ask(read_contact, "GET", routes.contact_path(contact))


def ask_explain(contact: str, depth: int | None) -> Ask[Explanation]:
    """Why a contact holds its value; ValueError for a depth explain does not take."""
    return Ask(read_explanation, "GET", routes.explain_path(contact, _depth(depth)))


def ask_write(contact: str, content: Content, via: str | None) -> Ask[WriteResult]:
    """Write one contact's content."""
    body = _with_via({"value": to_json(content)}, via)
    return Ask(read_write, "PUT", routes.contact_path(contact), orjson.dumps(body))


def ask_write_many(values: Mapping[str, Content], via: str | None) -> Ask[WriteResult]:
    """Write several contacts in one run."""
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping {{contact: content}}, got {values!r:.100}")
    body = _with_via({"values": {cid: to_json(v) for cid, v in values.items()}}, via)
    return Ask(read_write, "POST", routes.CONTACTS, orjson.dumps(body))


def ask_contents() -> Ask[NodeContents]:
    """Every contact that has content."""
    return Ask(read_contents, "GET", routes.CONTACTS)


def ask_spec() -> Ask[dict[str, Any]]:
    """The Bassline the node runs."""
    return Ask(_json_object, "GET", routes.SPEC)


def ask_status() -> Ask[dict[str, Any]]:
    """The node's status."""
    return Ask(_json_object, "GET", routes.STATUS)


def ask_health() -> Ask[HealthReply]:
    """The node's health (a degraded node's 503 is an answer)."""
    return Ask(read_health, "GET", routes.HEALTH, ok=(200, 503))


class Calls:
    """What both clients share: the node's address, the headers, reading replies."""

    def __init__(
        self, url: str | NodeURL, secret: bytes | str | None, timeout: float, max_reply_bytes: int
    ) -> None:
        self.base = url if isinstance(url, NodeURL) else parse_node_url(url)
        positive_seconds("timeout", timeout)  # '5' and NaN refused: no comparison would end a wait
        if type(max_reply_bytes) is not int or max_reply_bytes < 1:
            raise ValueError(
                f"max_reply_bytes must be a whole number >= 1, got {max_reply_bytes!r}"
            )
        self.timeout = timeout
        self.limit = max_reply_bytes
        self.secret = cluster_secret(secret)  # what no node would accept, refused here too
        self.token = api_token(self.secret) if self.secret is not None else None

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

    def answer(self, ask: Ask[T], response: httpx.Response, body: bytes) -> T:
        """The typed answer to ``ask``, or the error its reply stands for."""
        data = self.reply(ask.request, response, body, ask.ok)
        return self.typed(ask.request, ask.read, data)

    def typed(self, request: str, read: Callable[[Any], T], data: Any) -> T:
        """``read(data)``, a BadReply if the data does not have the shape it reads."""
        try:
            return read(data)
        except ValueError as exc:
            raise self.bad(request, f"an unexpected reply: {exc}") from None

    def events(self, request: str, reader: EventReader, chunk: bytes) -> Iterator[NodeEvent]:
        """The events of the change stream that ``chunk`` completes, in order."""
        for kind, text in _feed(self, request, reader, chunk):
            yield self.event(request, kind, text)

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

    def stream(self, contacts: Iterable[str]) -> tuple[str, str, dict[str, str], httpx.Timeout]:
        """A change stream's request: its name, URL, headers and timeout (no read limit)."""
        path = routes.changes_path(contacts)
        return (
            _request("GET", path),
            self.base.http + path,
            self.headers("text/event-stream", False),
            httpx.Timeout(self.timeout, read=None),
        )


def _why(exc: httpx.HTTPError) -> str:
    """Why a connection failed: the operating system's reason when one lies under httpx's."""
    seen: list[BaseException] = [exc]
    for cause in seen:  # breadth-first through causes, contexts and exception groups
        if isinstance(cause, ssl.SSLError):
            reason = getattr(cause, "verify_message", None) or cause.reason or cause
            return f"TLS failed: {reason}"
        if isinstance(cause, socket.gaierror):  # its errno is the resolver's, not errno's
            return f"unknown host ({(cause.strerror or str(cause)).lower()})"
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


def read_body(calls: Calls, request: str, response: httpx.Response) -> bytes:
    """The whole body of ``response``, refused once it is larger than the client's limit."""
    calls.declared_size(request, response)
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > calls.limit:
            raise calls.too_large(request)
    return bytes(data)


async def aread_body(calls: Calls, request: str, response: httpx.Response) -> bytes:
    """:func:`read_body`, awaited."""
    calls.declared_size(request, response)
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > calls.limit:
            raise calls.too_large(request)
    return bytes(data)


def _feed(calls: Calls, request: str, reader: EventReader, chunk: bytes) -> list[tuple[str, str]]:
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


def _json_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    return data
