"""The node's ASGI app: WebSocket gossip, health, metrics and a small JSON API.

``create_app(network)`` returns a Starlette app; serve it with :class:`NodeServer` or
mount it in your own ASGI app (``Mount("/bassline", create_app(net))``; peers then
dial ``ws://host:port/bassline``).
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Match, Route, WebSocketRoute
from starlette.websockets import WebSocket

from bassline.codec import from_json, parse_json, to_json
from bassline.content import ABSENT
from bassline.engine.results import ContactState, PropagationResult
from bassline.errors import ContentError, PersistenceError, StorageUnavailable, UnknownContact
from bassline.net import routes
from bassline.net.auth import api_token
from bassline.net.node import BasslineNetwork
from bassline.net.openapi import openapi_document
from bassline.net.transport import ASGITransport
from bassline.net.watch import ChangeWatcher, EncodedEvents, change_events

__all__ = ["create_app"]


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(message)


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SORT_KEYS),
        status_code=status,
        media_type="application/json",
    )


def _contact_json(state: ContactState) -> dict[str, Any]:
    out: dict[str, Any] = {"id": state.id, "present": state.present}
    if state.present:
        out["value"] = to_json(state.value)
        out["stamp"] = state.stamp.to_json()
    c = state.contradiction
    out["contradiction"] = (
        None
        if c is None
        else {
            "reason": c.reason,
            # a contradiction can meet an empty contact (a wire or gadget offering a value
            # of the wrong kind): there is no current value to show then
            "current": None if c.current is ABSENT else to_json(c.current),
            "incoming": to_json(c.incoming),
            "source": c.source,
        }
    )
    f = state.failure
    out["failure"] = None if f is None else f.describe()
    return out


def _out(value: Any) -> Any:
    """``to_json(value)``; an ASCII string, the usual content, is its own JSON."""
    return value if type(value) is str and value.isascii() else to_json(value)


def _content(data: Any) -> Any:
    """``from_json(data)``; a scalar, the usual content, is its own content."""
    return from_json(data) if type(data) is dict or type(data) is list else data


def _result_json(result: PropagationResult) -> dict[str, Any]:
    return {
        "changed": {c.contact: _out(c.value) for c in result.changes},
        "contradictions": [
            {"contact": c.contact, "reason": c.reason, "rejected": to_json(c.incoming)}
            for c in result.contradictions
        ],
        "failures": [f.describe() for f in result.failures],
        "settled": result.settled,
    }


VIAS = frozenset({"http", "cli"})
"""What a write through the API may say it came in ``via`` (default ``"http"``)."""


def _via(data: dict[str, Any]) -> str:
    """How a write through the API came in: ``"http"``, or ``"cli"`` when the body says so."""
    via = data.get("via", "http")
    if via not in VIAS:
        raise _Refused(
            400,
            "bad-request",
            f'"via" must be one of {sorted(VIAS)} (how the write came in), not {via!r}',
        )
    return str(via)


def _names_explain(request: Request) -> bool:
    """Whether the path as sent ends in a literal ``/explain`` (not ``%2Fexplain``).

    The ASGI server gives the path decoded and, as sent, in ``raw_path`` (optional in
    ASGI; without it the decoded path decides).
    """
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.partition(b"?")[0].endswith(b"/explain")
    return True


_DEPTH_DIGITS = 18

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

_QUERY_PARAMETERS = {"explain": ("depth",), "changes": ("contact",)}
"""The query parameters each API route takes; any other is refused (400 ``bad-query``)."""


def _depth(given: list[str]) -> int | None:
    """The ``depth`` query parameter: None when absent, else a whole number >= 1. One of
    more than 18 digits limits nothing (no branch is that deep): None, as when absent."""
    if not given:
        return None
    text = given[-1]
    digits = text.lstrip("0")
    if len(given) > 1 or not text.isascii() or not text.isdigit() or not digits:
        shown = text if len(text) <= 40 else text[:40] + "..."
        why = "given more than once" if len(given) > 1 else f"not {shown!r}"
        raise _Refused(
            400,
            "bad-depth",
            "depth must be a whole number >= 1 (how many contacts deep to explain; leave it "
            f"out for no limit), {why}",
        )
    return None if len(digits) > _DEPTH_DIGITS else int(digits)


def create_app(network: BasslineNetwork) -> Starlette:
    """The ASGI app serving ``network`` (which must be entered and joined to serve API calls)."""
    limit = network.settings.max_frame_bytes
    token = api_token(network.secret).encode() if network.secret else None
    encoded = EncodedEvents()  # each change encoded once for every /api/changes reader

    def refuse(status: int, code: str, message: str) -> Response:
        network.metrics.api_rejected[code] += 1
        return _json({"error": message, "code": code}, status)

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        # compared as bytes: compare_digest refuses str with non-ASCII characters (a
        # TypeError, answered 500), and headers are decoded as latin-1
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        scheme, _, value = given.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token)

    async def body(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _Refused(413, "too-large", f"request body of {declared} bytes exceeds {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Refused(413, "too-large", f"request body exceeds {limit} bytes")
            chunks.append(chunk)
        try:
            return parse_json(b"".join(chunks))
        except orjson.JSONDecodeError as exc:
            raise _Refused(
                400, "malformed-json", f"request body is not valid JSON: {exc}"
            ) from None

    async def api(request: Request) -> Response:
        if not authorised(request):
            return refuse(
                401, "unauthorized", "missing or wrong API token (use the cluster's secret)"
            )
        route = request.scope["route_name"]
        if route == "other":  # no API route answers this path and method
            path = request.url.path[:200]
            matching = [r for r in api_routes if r.matches(request.scope)[0] is Match.PARTIAL]
            if not matching:
                return refuse(404, "unknown-path", f"no API path {path} (see /openapi.json)")
            methods = sorted(set().union(*(r.methods or () for r in matching)) - {"HEAD"})
            return refuse(
                405,
                "method-not-allowed",
                f"{request.method} is not served at {path} (it takes {', '.join(methods)})",
            )
        if network.runtime is None:
            return refuse(503, "not-ready", f"node {network.node_id!r} has not joined a network")
        method = "GET" if request.method == "HEAD" else request.method
        handler = _HANDLERS.get((route, method))
        if handler is None:  # a method the route lists that no handler answers
            return refuse(405, "method-not-allowed", f"{request.method} is not served here")
        allowed = _QUERY_PARAMETERS.get(route, ())
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:  # a misspelt ?contakt= watched every contact, unnoticed
            takes = f"it takes only {', '.join(allowed)}" if allowed else "it takes none"
            return refuse(
                400,
                "bad-query",
                f"unknown query parameter {unknown[0][:40]!r} for {request.method} "
                f"{request.url.path[:200]}: {takes}",
            )
        try:
            return await handler(request)
        except _Refused as refused:
            return refuse(refused.status, refused.code, str(refused))
        except UnknownContact as exc:
            return refuse(404, "unknown-contact", str(exc))
        except ContentError as exc:
            return refuse(422, "bad-content", str(exc))
        except StorageUnavailable as exc:
            return refuse(503, "storage-unavailable", str(exc))
        except PersistenceError as exc:
            return refuse(503, "not-stored", str(exc))

    async def read_contact(request: Request) -> Response:
        return _json(_contact_json(network.contact(request.path_params["contact"])))

    async def write_contact(request: Request) -> Response:
        contact = request.path_params["contact"]
        data = await body(request)
        if not isinstance(data, dict) or "value" not in data or not set(data) <= {"value", "via"}:
            raise _Refused(
                400, "bad-request", 'expected a JSON object {"value": <content>, "via"?: "cli"}'
            )
        via = _via(data)
        network.contact(contact)  # unknown contact -> 404 before anything else
        result = await network.update_contact(contact, from_json(data["value"]), via=via)
        out = _result_json(result)
        out["contact"] = _contact_json(network.contact(contact))
        return _json(out)

    async def write_many(request: Request) -> Response:
        data = await body(request)
        shaped = isinstance(data, dict) and "values" in data and set(data) <= {"values", "via"}
        values = data["values"] if shaped else None
        if not isinstance(values, dict):
            raise _Refused(
                400,
                "bad-request",
                'expected a JSON object {"values": {contact: content}, "via"?: "cli"}',
            )
        via = _via(data)
        if not network.spec.contact_by_id.keys() >= values.keys():
            for cid in values:  # the first unknown id, named as a read names it: 404
                network.contact(cid)
        items = {cid: _content(v) for cid, v in values.items()}
        return _json(_result_json(await network.update_many(items, via=via)))

    async def explain_contact(request: Request) -> Response:
        contact = request.path_params["contact"]
        if not _names_explain(request):
            # the last segment was an encoded "%2Fexplain": the contact's own id ends so
            request.scope["path_params"] = {"contact": f"{contact}/explain"}
            return await read_contact(request)
        depth = _depth(request.query_params.getlist("depth"))
        return _json(network.explain(contact, depth).to_json())

    async def list_contacts(request: Request) -> Response:
        runtime = network.runtime
        assert runtime is not None
        rows = [
            {"id": cid, "value": to_json(v), "stamp": s.to_json()} for cid, v, s in runtime.state()
        ]
        return _json({"contacts": rows, "digest": network.digest()})

    async def watch_changes(request: Request) -> Response:
        runtime = network.runtime
        assert runtime is not None
        wanted = set(request.query_params.getlist("contact"))
        for cid in wanted:
            network.contact(cid)  # unknown contact -> 404 before streaming starts
        watcher = ChangeWatcher(runtime, wanted, network.settings.watch_buffer_bytes, encoded)
        return StreamingResponse(
            change_events(runtime, watcher),
            media_type="text/event-stream",
            headers={"cache-control": "no-store"},
        )

    async def read_spec(request: Request) -> Response:
        spec = network.spec
        return _json({"hash": spec.hash, "spec": to_json(spec.to_dict())})

    async def status(request: Request) -> Response:
        data = network.status()
        data["processes"] = await network.processes()
        return _json(data)

    _HANDLERS = {
        ("contact", "GET"): read_contact,
        ("contact", "PUT"): write_contact,
        ("explain", "GET"): explain_contact,
        ("contacts", "GET"): list_contacts,
        ("contacts", "POST"): write_many,
        ("spec", "GET"): read_spec,
        ("changes", "GET"): watch_changes,
        ("status", "GET"): status,
    }

    def api_route(path: str, name: str, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            request.scope["route_name"] = name
            return await api(request)

        return Route(path, endpoint, methods=methods, name=name)

    async def healthz(request: Request) -> Response:
        health = network.health()
        return _json(
            {"status": health.status, "reasons": list(health.reasons), "node": network.node_id},
            200 if health.ok else 503,
        )

    async def metrics(request: Request) -> Response:
        return Response(network.prometheus(), media_type="text/plain; version=0.0.4")

    async def openapi(request: Request) -> Response:
        runtime = network.runtime
        title = runtime.spec.id if runtime is not None else "not joined"
        # mounted under a path (Mount("/bassline", ...)), the paths below are relative to it
        return _json(openapi_document(title, "1", request.scope.get("root_path") or "/"))

    async def gossip(websocket: WebSocket) -> None:
        await websocket.accept()
        await network.accept(ASGITransport(websocket, network.settings.max_frame_bytes))

    api_routes = [
        api_route(routes.SPEC, "spec", ["GET"]),
        api_route(routes.STATUS, "status", ["GET"]),
        api_route(routes.CONTACTS, "contacts", ["GET", "POST"]),
        api_route(routes.CHANGES, "changes", ["GET"]),
        # an id may hold "/": the path convertor takes the rest of the path. A GET
        # whose last segment is ".../explain" matches the explain route first (which
        # hands a path ending in an encoded "%2Fexplain" back to the contact's read)
        api_route(routes.EXPLAIN.replace("}", ":path}"), "explain", ["GET"]),
        api_route(routes.CONTACT.replace("}", ":path}"), "contact", ["GET", "PUT"]),
    ]
    return Starlette(
        routes=[
            WebSocketRoute(routes.GOSSIP, gossip),
            Route(routes.HEALTH, healthz),
            Route(routes.METRICS, metrics),
            Route(routes.OPENAPI, openapi),
            *api_routes,
            # what no route above answers under /api: a JSON 404 or 405, counted (last, so
            # that a method one route lacks still reaches another route of the path)
            api_route("/api/{rest:path}", "other", _ALL_METHODS),
        ]
    )
