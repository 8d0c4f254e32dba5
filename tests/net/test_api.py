"""The node's HTTP API on a real socket: contacts, spec, status, health, metrics, errors."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from bassline.lattices import GrowSet
from bassline.net import GossipSettings, api_token
from bassline.spec import parse_spec

from .conftest import FAST, SECRET, flat, node, wait_until

pytestmark = pytest.mark.anyio


async def test_read_write_and_list_contacts() -> None:
    async with node("api", flat(3, sets=1)) as (net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            r = await http.put("/api/contacts/c0", json={"value": {"x": [1, 2]}})
            assert r.status_code == 200, r.text
            assert r.json()["changed"] == {"c0": {"x": [1, 2]}}
            assert net.value("c0") == {"x": [1, 2]}
            r = await http.get("/api/contacts/c0")
            body = r.json()
            assert body["present"] and body["value"] == {"x": [1, 2]}
            assert body["stamp"][1] == "api"
            r = await http.post("/api/contacts", json={"values": {"c1": 1, "s0": ["a"]}})
            assert r.status_code == 200, r.text
            assert net.value("s0") == GrowSet(["a"])
            listing = (await http.get("/api/contacts")).json()
            assert {c["id"] for c in listing["contacts"]} == {"c0", "c1", "s0"}
            assert listing["digest"] == net.digest()
            empty = (await http.get("/api/contacts/c2")).json()
            assert empty == {
                "id": "c2",
                "present": False,
                "contradiction": None,
                "failure": None,
            }


async def test_spec_status_health_metrics_and_openapi() -> None:
    async with node("n", flat(2)) as (net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            spec = (await http.get("/api/spec")).json()
            assert spec["hash"] == net.spec_hash and spec["spec"]["id"] == "flat"
            status = (await http.get("/api/status")).json()
            assert status["node"] == "n" and status["digest"] == net.digest()
            assert status["storage"]["breaker"] == "closed"
            health = await http.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            metrics = (await http.get("/metrics")).text
            for name in (
                "bassline_net_peers_connected",
                "bassline_net_bytes_in_total",
                "bassline_net_bytes_out_total",
                "bassline_net_deltas_in_total",
                "bassline_net_anti_entropy_rounds_total",
                "bassline_net_refused_peers_total",
                "bassline_runtime_queue_depth",
            ):
                assert f"\n{name}" in metrics, name
            doc = (await http.get("/openapi.json")).json()
            assert doc["openapi"].startswith("3.1")
            assert "/api/contacts/{contact}" in doc["paths"]
            validate(doc)  # the reference validator, not our reading of the spec
            assert doc["servers"][0]["url"] == "/"


async def test_metrics_parse_with_the_reference_parser_and_latency_is_a_histogram() -> None:
    async with node("n", flat(2)) as (_net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            for i in range(3):
                assert (await http.put("/api/contacts/c0", json={"value": i})).status_code == 200
            await http.put("/api/contacts/nope", json={"value": 1})  # a labelled counter
            text = (await http.get("/metrics")).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
        assert len(families) == len(declared)  # every family parsed, none merged or lost
        assert "summary" not in {f.type for f in families.values()}
        latency = families["bassline_runtime_operation_seconds"]
        assert latency.type == "histogram"
        updates = [s for s in latency.samples if s.labels.get("operation") == "update"]
        count = next(s.value for s in updates if s.name.endswith("_count"))
        inf = next(s.value for s in updates if s.labels.get("le") == "+Inf")
        assert count == inf >= 3
        rejected = families["bassline_net_api_rejected"]
        assert rejected.type == "counter"
        assert {s.labels["reason"]: s.value for s in rejected.samples} == {"unknown-contact": 1}


async def test_a_mounted_node_describes_its_paths_under_the_mount() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bassline.net import BasslineNetwork, NodeServer, create_app

    async with BasslineNetwork("m", flat(2), settings=FAST) as net:
        outer = Starlette(routes=[Mount("/bassline", app=create_app(net))])
        async with NodeServer(net, "127.0.0.1", 0, app=outer) as server:
            assert server.url is not None
            async with httpx.AsyncClient(base_url=server.url.http) as http:
                doc = (await http.get("/bassline/openapi.json")).json()
                validate(doc)
                assert doc["servers"][0]["url"] == "/bassline"
                some_path = next(iter(doc["paths"]))
                answer = await http.get(doc["servers"][0]["url"] + "/healthz")
                assert answer.status_code == 200 and some_path.startswith("/")


async def test_bad_requests_are_refused_counted_and_change_nothing() -> None:
    async with node("strict", flat(2, sets=1), settings=_small()) as (net, server):
        assert server.url is not None
        before = net.digest()
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            cases = [
                (await http.put("/api/contacts/c9", json={"value": 1}), 404, "unknown-contact"),
                (await http.put("/api/contacts/c0", content=b"{not json"), 400, "malformed-json"),
                (await http.put("/api/contacts/c0", json={"v": 1}), 400, "bad-request"),
                (
                    await http.put(
                        "/api/contacts/c0", json={"value": {"$type": "nope", "value": 1}}
                    ),
                    422,
                    "bad-content",
                ),
                (
                    await http.put(
                        "/api/contacts/c0", content=b'{"value": "' + b"x" * 70000 + b'"}'
                    ),
                    413,
                    "too-large",
                ),
                (  # beyond 64 bits: refused by name, never stored as a rounded float
                    await http.put(
                        "/api/contacts/c0", content=b'{"value": 123456789012345678901234567890}'
                    ),
                    422,
                    "bad-content",
                ),
                (
                    await http.post("/api/contacts", json={"values": {"zz": 1}}),
                    404,
                    "unknown-contact",
                ),
                (  # an empty interval holds no number (a gadget would make one that does)
                    await http.post(
                        "/api/contacts",
                        json={"values": {"c0": {"$type": "interval", "value": [3, 1]}}},
                    ),
                    422,
                    "bad-content",
                ),
                (  # an unknown id is named before any content is looked at
                    await http.post(
                        "/api/contacts",
                        json={"values": {"c0": {"$type": "interval", "value": [3, 1]}, "zz": 1}},
                    ),
                    404,
                    "unknown-contact",
                ),
            ]
            for response, status, code in cases:
                assert response.status_code == status, response.text
                assert response.json()["code"] == code
            assert (
                "did you mean 'c0'" in cases[0][0].json()["error"]
                or "c9" in cases[0][0].json()["error"]
            )
            assert "does not fit in 64 bits" in cases[5][0].json()["error"]
            assert "the interval [3, 1] is empty (lo > hi)" in cases[7][0].json()["error"]
            metrics = (await http.get("/metrics")).text
        assert net.digest() == before
        assert net.metrics.api_rejected["unknown-contact"] == 3
        assert 'bassline_net_api_rejected_total{reason="malformed-json"} 1' in metrics


async def test_an_unknown_query_parameter_is_refused_not_ignored() -> None:
    """``/api/changes?contakt=c0`` (misspelt) watched every contact, and ``?dept=1`` on
    explain explained without a limit: a parameter a route does not take is a 400."""
    async with node("strict", flat(2, sets=1), settings=_small()) as (net, server):
        assert server.url is not None
        before = net.digest()
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            cases = [
                (
                    # (a regression streams: the read timeout ends it, failing)
                    await http.get("/api/changes?contakt=c0", timeout=10),
                    "unknown query parameter 'contakt' for GET /api/changes: it takes only contact",
                ),
                (
                    await http.get("/api/contacts/c0/explain?dept=1"),
                    "unknown query parameter 'dept' for GET /api/contacts/c0/explain: it "
                    "takes only depth",
                ),
                (
                    await http.put("/api/contacts/c0?via=cli", json={"value": 1}),
                    "unknown query parameter 'via' for PUT /api/contacts/c0: it takes none",
                ),
                (
                    await http.get("/api/contacts?b=1&a=2"),
                    "unknown query parameter 'a' for GET /api/contacts: it takes none",
                ),
            ]
            for response, message in cases:
                assert response.status_code == 400, response.text
                assert response.json() == {"code": "bad-query", "error": message}
            assert (await http.get("/api/contacts/c0/explain?depth=1")).status_code == 200
        assert net.digest() == before
        assert net.metrics.api_rejected["bad-query"] == 4


async def test_an_unknown_api_path_or_method_is_a_json_error_counted() -> None:
    """Starlette's plain-text "Not Found" and "Method Not Allowed" answered these, with no
    code and uncounted; a method one route of a path lacks still reaches another."""
    async with node("strict", flat(2, sets=1), settings=_small()) as (net, server):
        assert server.url is not None
        before = net.digest()
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            cases = [
                (await http.get("/api/nothing"), 404, "unknown-path", "no API path /api/nothing"),
                (
                    await http.patch("/api/contacts/c0", json={"value": 1}),
                    405,
                    "method-not-allowed",
                    "PATCH is not served at /api/contacts/c0 (it takes GET, PUT)",
                ),
                (
                    await http.delete("/api/contacts"),
                    405,
                    "method-not-allowed",
                    "DELETE is not served at /api/contacts (it takes GET, POST)",
                ),
            ]
            for response, status, code, message in cases:
                assert response.status_code == status, response.text
                assert response.json()["code"] == code
                assert response.json()["error"].startswith(message), response.json()
            # PUT on ".../explain" is still the write of a contact of that id (none here)
            put = await http.put("/api/contacts/c0/explain", json={"value": 1})
            assert (put.status_code, put.json()["code"]) == (404, "unknown-contact")
            assert (await http.head("/api/contacts/c0")).status_code == 200
        assert net.digest() == before
        assert net.metrics.api_rejected["unknown-path"] == 1
        assert net.metrics.api_rejected["method-not-allowed"] == 2


async def test_with_a_secret_the_api_needs_the_derived_token() -> None:
    async with node("locked", flat(1), secret=SECRET) as (net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            r = await http.put("/api/contacts/c0", json={"value": 1})
            assert r.status_code == 401
            r = await http.get("/api/contacts/c0", headers={"authorization": "Bearer wrong"})
            assert r.status_code == 401
            good = {"authorization": f"Bearer {api_token(SECRET)}"}
            r = await http.put("/api/contacts/c0", json={"value": 1}, headers=good)
            assert r.status_code == 200
            assert (await http.get("/healthz")).status_code == 200
        assert net.metrics.api_rejected["unauthorized"] == 2


async def test_health_is_degraded_while_no_configured_peer_is_reachable() -> None:
    async with node("alone", flat(1), peers=["ws://127.0.0.1:9"]) as (net, server):
        assert server.url is not None
        await wait_until(lambda: net.metrics.dial_failures >= 1, what="a failed dial")
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            r = await http.get("/healthz")
        assert r.status_code == 503
        assert "configured peers" in r.json()["reasons"][0]


def _small() -> GossipSettings:
    return GossipSettings(max_frame_bytes=65536, discover=False)


async def test_every_api_endpoint_needs_the_token_and_odd_headers_are_refused_not_crashed() -> None:
    async with node("guarded", flat(1), secret=SECRET) as (net, server):
        assert server.url is not None
        token = api_token(SECRET)
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            requests = [
                ("GET", "/api/contacts", None),
                ("POST", "/api/contacts", b'{"values": {"c0": 1}}'),
                ("GET", "/api/contacts/c0", None),
                ("PUT", "/api/contacts/c0", b'{"value": 1}'),
                ("GET", "/api/spec", None),
                ("GET", "/api/status", None),
                ("GET", "/api/changes", None),
            ]
            odd = [
                [],
                [("authorization", "Bearer")],
                [("authorization", f"Basic {token}")],
                [("authorization", b"Bearer \xff\xfe" + token.encode()[2:])],  # not ASCII
                [("authorization", b"Bearer " + token.encode() + b"\xe9")],
                [("authorization", b"\xff\xfe " + token.encode())],
            ]
            for method, path, content in requests:
                for headers in odd:
                    r = await http.request(method, path, content=content, headers=headers)
                    assert r.status_code == 401, (method, path, headers, r.text)
                    assert r.json()["code"] == "unauthorized"
                    assert token not in r.text
            metrics = (await http.get("/metrics")).text
            assert token not in metrics
            assert (await http.get("/openapi.json")).status_code == 200
        assert net.metrics.api_rejected["unauthorized"] == len(requests) * len(odd)
        assert net.value("c0", None) is None


async def test_a_value_of_the_wrong_kind_is_refused_and_every_read_still_answers() -> None:
    spec = parse_spec(
        {
            "id": "kinds",
            "contacts": [
                {"id": "mx", "lattice": "max"},
                {"id": "gs", "lattice": "grow-set"},
                {"id": "src"},
                {"id": "fed", "lattice": "max"},
            ],
            "wires": [{"from": "src", "to": "fed", "type": "directed"}],
        }
    )
    async with node("kinds", spec) as (net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            for filled in (False, True):
                if filled:
                    r = await http.post("/api/contacts", json={"values": {"mx": 3, "gs": [1]}})
                    assert r.status_code == 200, r.text
                before = {c: (await http.get(f"/api/contacts/{c}")).json() for c in ("mx", "gs")}
                for contact, value, kind, lattice in (
                    ("mx", "str", "string", "max"),
                    ("gs", 5, "number", "grow-set"),
                ):
                    for refused in (
                        await http.put(f"/api/contacts/{contact}", json={"value": value}),
                        await http.post("/api/contacts", json={"values": {contact: value}}),
                    ):
                        assert refused.status_code == 422, refused.text
                        assert refused.json()["code"] == "bad-content"
                        error = refused.json()["error"]
                        assert f"this {kind} is not a value of the {lattice} lattice" in error
                    read = await http.get(f"/api/contacts/{contact}")
                    assert read.status_code == 200 and read.json() == before[contact]
            # across a wire it is the network's own contradiction, and still readable
            assert (await http.put("/api/contacts/src", json={"value": "x"})).status_code == 200
            read = await http.get("/api/contacts/fed")
            assert read.status_code == 200, read.text
            assert read.json()["contradiction"]["current"] is None
            assert "not a value of the max lattice" in read.json()["contradiction"]["reason"]
            assert net.value("mx") == 3


async def test_a_compact_batch_naming_a_contact_twice_is_refused_as_before() -> None:
    """A body sent compact, as httpx and Bassline's client send it, is parsed by orjson
    alone only when orjson writes it back byte for byte: one naming a contact twice (which
    orjson would read as its last value) is still refused, naming the key and where."""
    async with node("twice", flat(2)) as (net, server):
        assert server.url is not None
        before = net.digest()
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            twice = await http.post("/api/contacts", content=b'{"values":{"c0":1,"c0":2}}')
            assert twice.status_code == 400, twice.text
            assert twice.json() == {
                "code": "malformed-json",
                "error": "request body is not valid JSON: the object at $.values has the key "
                "'c0' twice (say each key once)",
            }
            assert net.digest() == before
            ok = await http.post("/api/contacts", content=b'{"values":{"c0":1,"c1":[2]}}')
            assert ok.status_code == 200, ok.text
            assert ok.json()["changed"] == {"c0": 1, "c1": [2]}
        assert net.metrics.api_rejected["malformed-json"] == 1
