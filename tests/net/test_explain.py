"""Provenance on a node (issue 16): ``BasslineNetwork.explain``, ``GET
/api/contacts/{contact}/explain``, the clients' ``explain``, and how writes through each
door are labelled — on real sockets, with ephemeral ports."""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from bassline.engine import Explanation
from bassline.net import AsyncNodeClient, NodeClient, NodeRefused
from bassline.net import routes as r
from bassline.net.explain_reply import read_explanation
from bassline.spec import Bassline, parse_spec

from .conftest import FAST, SECRET, calculator, converged, node, wait_until

pytestmark = pytest.mark.anyio


def slashed() -> Bassline:
    """Contacts whose ids hold ``/``, one ending in ``/explain`` and one named ``explain``."""
    return parse_spec(
        {
            "id": "slashed",
            "contacts": [
                {"id": "a"},
                {"id": "a/explain"},
                {"id": "explain"},
                {"id": "x/y"},
                {"id": "peak", "lattice": "max"},
            ],
            "wires": [
                {"from": "a", "to": "a/explain", "type": "directed"},
                {"from": "a", "to": "peak", "type": "directed"},
                {"from": "x/y", "to": "peak", "type": "directed"},
            ],
        }
    )


def premises(why: Explanation | dict[str, Any]) -> set[tuple[str, Any, str]]:
    if isinstance(why, Explanation):
        return {(p.contact, p.value, p.via) for p in why.premises()}
    return {(p["contact"], p["value"], p["via"]) for p in why["premises"]}


def schema_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A JSON Schema validating one component of the OpenAPI document (refs resolved in it)."""
    return {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}


async def test_the_node_explains_and_labels_writes_by_the_door_they_came_through() -> None:
    async with node("n1", calculator()) as (net, server):
        assert server.url is not None
        await net.update_contact("input-a", 1)
        await net.update_contact("input-b", 2, via="cli")
        why = net.explain("result")
        assert why.value == 3 and why.complete
        assert premises(why) == {("input-a", 1, "python"), ("input-b", 2, "cli")}
        assert {p.stamp.node for p in why.premises()} == {"n1"}
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            put = await http.put(r.contact_path("input-a"), json={"value": 10})
            assert put.status_code == 200, put.text
            assert premises(net.explain("result")) == {
                ("input-a", 10, "http"),
                ("input-b", 2, "cli"),
            }
            put = await http.put(r.contact_path("input-b"), json={"value": 20, "via": "cli"})
            assert put.status_code == 200, put.text
            post = await http.post(r.CONTACTS, json={"values": {"input-a": 5}})
            assert post.status_code == 200, post.text
            assert premises(net.explain("result")) == {
                ("input-a", 5, "http"),
                ("input-b", 20, "cli"),
            }
            post = await http.post(r.CONTACTS, json={"values": {"input-a": 6}, "via": "cli"})
            assert post.status_code == 200, post.text
            answer = await http.get(r.explain_path("result"))
            assert answer.status_code == 200, answer.text
            data = answer.json()
            assert data == net.explain("result").to_json()
            assert data["steps"][0]["contact"] == "result" and data["steps"][0]["value"] == 26
            assert premises(data) == {("input-a", 6, "cli"), ("input-b", 20, "cli")}
            assert data["complete"] is True
            shallow = (await http.get(r.explain_path("result", depth=1))).json()
            assert shallow == net.explain("result", 1).to_json()
            assert shallow["complete"] is False and shallow["premises"] == []
            assert [s["contact"] for s in shallow["steps"]] == ["result"]
            doc = (await http.get(r.OPENAPI)).json()
            validate(doc)
            jsonschema.validate(data, schema_of(doc, "Explanation"))
            jsonschema.validate(shallow, schema_of(doc, "Explanation"))
            explain_get = doc["paths"][r.EXPLAIN]["get"]
            assert explain_get["responses"]["200"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Explanation"
            }


async def test_bad_explain_and_write_requests_get_clear_errors_and_change_nothing() -> None:
    async with node("strict", calculator()) as (net, server):
        assert server.url is not None
        before = net.digest()
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            unknown = await http.get(r.explain_path("resutl"))
            assert unknown.status_code == 404
            assert unknown.json()["code"] == "unknown-contact"
            assert "did you mean 'result'" in unknown.json()["error"]
            for query in (
                "depth=0",
                "depth=-1",
                "depth=x",
                "depth=1.5",
                "depth=",
                "depth=1&depth=2",
            ):
                bad = await http.get(f"{r.explain_path('result')}?{query}")
                assert bad.status_code == 400, query
                assert bad.json()["code"] == "bad-depth", query
                assert "depth must be a whole number >= 1" in bad.json()["error"], query
            whole = await http.get(r.explain_path("result"))
            assert whole.status_code == 200
            # a whole number of any length is a depth (refused when it had more than 18
            # digits, though NodeClient.explain sends any int); that many limits nothing
            for huge in ("9" * 19, "9" * 5000):
                deep = await http.get(f"{r.explain_path('result')}?depth={huge}")
                assert deep.status_code == 200 and deep.json() == whole.json(), huge
            one = await http.get(f"{r.explain_path('result')}?depth=1")
            padded = await http.get(f"{r.explain_path('result')}?depth={'0' * 30}1")
            assert padded.status_code == 200 and padded.json() == one.json()
            long_bad = await http.get(f"{r.explain_path('result')}?depth={'9' * 5000}x")
            assert long_bad.status_code == 400 and long_bad.json()["code"] == "bad-depth"
            assert len(long_bad.json()["error"]) < 300
            zeros = await http.get(f"{r.explain_path('result')}?depth={'0' * 30}")
            assert zeros.status_code == 400 and zeros.json()["code"] == "bad-depth"
            for body in ({"value": 1, "via": "spec"}, {"value": 1, "via": 5}, {"via": "cli"}):
                put = await http.put(r.contact_path("input-a"), json=body)
                assert put.status_code == 400, body
                assert put.json()["code"] == "bad-request"
            post = await http.post(r.CONTACTS, json={"values": {"input-a": 1}, "via": "python"})
            assert post.status_code == 400 and "via" in post.json()["error"]
            # a method the explain route does not answer reaches the contact's route: PUT
            # writes the contact whose id is the whole path (here: none such)
            put = await http.put("/api/contacts/input-a/explain", json={"value": 1})
            assert put.status_code == 404 and "input-a/explain" in put.json()["error"]
            head = await http.head(r.explain_path("result"))
            assert head.status_code == 200
        assert net.digest() == before


async def test_a_contact_with_no_value_explains_as_not_present() -> None:
    async with node("empty", slashed()) as (_net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            data = (await http.get(r.explain_path("a"))).json()
            assert data["steps"] == [
                {
                    "contact": "a",
                    "present": False,
                    "value": None,
                    "stamp": [0, ""],
                    "justification": None,
                }
            ]
            assert data["premises"] == [] and data["gaps"] == [] and data["complete"] is True


async def test_ids_with_slashes_and_ids_ending_in_explain_route_as_documented() -> None:
    """A GET whose last path segment is literally ``explain`` explains the contact before it;
    an id ending in ``/explain`` is read with its ``/`` encoded (``%2F``)."""
    async with node("slash", slashed()) as (net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            put = await http.put("/api/contacts/a", json={"value": 4})
            assert put.status_code == 200
            put = await http.put("/api/contacts/x%2Fy", json={"value": 9})
            assert put.status_code == 200
            put = await http.put("/api/contacts/explain", json={"value": "e"})
            assert put.status_code == 200
            # the contact "a/explain", read with its "/" encoded (as contact_path does)
            assert r.contact_path("a/explain") == "/api/contacts/a%2Fexplain"
            reading = (await http.get(r.contact_path("a/explain"))).json()
            assert reading["id"] == "a/explain" and reading["value"] == 4
            # explaining "a/explain"; explaining "a" (the literal last segment)
            own = (await http.get(r.explain_path("a/explain"))).json()
            assert r.explain_path("a/explain") == "/api/contacts/a%2Fexplain/explain"
            assert own["contact"] == "a/explain" and own == net.explain("a/explain").to_json()
            assert own["steps"][0]["justification"]["kind"] == "wire"
            of_a = (await http.get("/api/contacts/a/explain")).json()
            assert of_a["contact"] == "a" and of_a == net.explain("a").to_json()
            # ids with "/" unencoded still work on the plain route, and on the explain route
            assert (await http.get("/api/contacts/x/y")).json()["value"] == 9
            of_xy = (await http.get("/api/contacts/x/y/explain")).json()
            assert of_xy["contact"] == "x/y" and premises(of_xy) == {("x/y", 9, "http")}
            assert (await http.get(r.explain_path("x/y"))).json() == of_xy
            # a contact named "explain"
            assert (await http.get("/api/contacts/explain")).json()["value"] == "e"
            named = (await http.get(r.explain_path("explain"))).json()
            assert named["contact"] == "explain" and premises(named) == {("explain", "e", "http")}
            # a merge contact's contributions, both sides of the wires
            peak = (await http.get(r.explain_path("peak"))).json()
            assert peak["steps"][0]["value"] == 9
            assert ("x/y", 9, "http") in premises(peak)


async def test_a_mounted_node_serves_explain_under_its_mount() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bassline.net import BasslineNetwork, NodeServer, create_app

    async with BasslineNetwork("m", slashed(), settings=FAST) as net:
        outer = Starlette(routes=[Mount("/bassline", app=create_app(net))])
        async with NodeServer(net, "127.0.0.1", 0, app=outer) as server:
            assert server.url is not None
            await net.update_contact("a", 1)
            async with AsyncNodeClient(server.url.http + "/bassline") as client:
                assert (await client.explain("a/explain")).to_json() == net.explain(
                    "a/explain"
                ).to_json()
                assert (await client.contact("a/explain")).value == 1
                assert (await client.explain("a")).to_json() == net.explain("a").to_json()


async def test_the_clients_explain_as_the_node_does() -> None:
    spec = parse_spec(
        {
            "id": "sensors",
            "contacts": [{"id": "left"}, {"id": "right"}, {"id": "reading", "lattice": "defined"}],
            "wires": [
                {"from": "left", "to": "reading", "type": "directed"},
                {"from": "right", "to": "reading", "type": "directed"},
            ],
        }
    )
    async with node("s", spec, secret=SECRET) as (net, server):
        assert server.url is not None
        async with AsyncNodeClient(server.url, secret=SECRET) as client:
            await client.write("left", 20, via="cli")
            await client.write_many({"right": 21})
            why = await client.explain("reading")
            assert why == net.explain("reading")
            assert why.to_json() == net.explain("reading").to_json()
            assert premises(why) == {("left", 20, "cli")}
            assert why.contradiction is not None and why.contradiction.value == 21
            assert {(p.contact, p.via) for p in why.contradiction.premises()} == {("right", "http")}
            shallow = await client.explain("reading", depth=1)
            assert shallow.to_json() == net.explain("reading", depth=1).to_json()
            with pytest.raises(NodeRefused, match="did you mean 'reading'") as refused:
                await client.explain("readin")
            assert refused.value.status == 404
            for bad in (0, -3, True, 1.5):
                with pytest.raises(ValueError, match="depth must be a whole number"):
                    await client.explain("reading", depth=bad)  # type: ignore[arg-type]

        def blocking() -> None:
            assert server.url is not None
            with NodeClient(server.url, secret=SECRET) as sync:
                sync.write("left", 30, via="cli")
                sync.write_many({"right": 30}, via="cli")
                got = sync.explain("reading")
                assert got.to_json() == net.explain("reading").to_json()
                assert got.value == 20 and got.contradiction is not None

        import anyio.to_thread

        await anyio.to_thread.run_sync(blocking)


def test_an_explanation_reads_back_from_its_json_form_and_bad_shapes_are_refused() -> None:
    from bassline.engine import Network

    net = Network(slashed(), node_id="n")
    net.update_contact("a", 3)
    net.update_contact("x/y", 5, via="cli")
    for contact in ("a", "a/explain", "peak", "x/y", "explain"):
        for depth in (None, 1, 2):
            why = net.explain(contact, depth)
            back = read_explanation(why.to_json())
            assert back == why and back.to_json() == why.to_json()
            assert back.premises() == why.premises() and back.gaps() == why.gaps()
    data = net.explain("peak").to_json()
    looped = dict(data, steps=[dict(s) for s in data["steps"]])
    first = looped["steps"][0]["justification"]
    contributions = [dict(c) for c in first["contributions"]]
    wire = next(c for c in contributions if c["kind"] == "wire")
    wire["inputs"] = [dict(wire["inputs"][0], explained=0)]
    looped["steps"][0] = dict(
        looped["steps"][0], justification=dict(first, contributions=contributions)
    )
    with pytest.raises(ValueError, match="refers back"):
        read_explanation(looped)
    for bad in (
        {},
        {"contact": "a", "steps": []},
        {"contact": "a", "steps": [{"contact": "a"}]},
        {"contact": "b", "steps": data["steps"]},
        dict(data, steps=[dict(data["steps"][0], justification={"kind": "nope"})]),
        dict(data, steps=[dict(data["steps"][0], justification=[1])]),
    ):
        with pytest.raises(ValueError):
            read_explanation(bad)
    wrong_index = dict(data, steps=data["steps"][:1])
    with pytest.raises(ValueError, match="refers to step"):
        read_explanation(wrong_index)


def test_an_explanation_with_a_gadget_failure_reads_back_equal() -> None:
    """A step's failure was written without the run's inputs and read back with none, so
    the explanation a node sent was not ``==`` to the node's own (``to_json`` agreed)."""
    from bassline.engine import Network
    from bassline.lattices import Interval

    net = Network(calculator(), node_id="n")
    net.update_contact("input-a", "ten")
    net.update_contact("input-b", Interval(1, 2))
    why = net.explain("adder.sum")
    assert why.failure is not None
    assert why.failure.inputs == {"a": "ten", "b": Interval(1, 2)}
    data = json.loads(json.dumps(why.to_json()))  # as it crosses HTTP
    assert data["steps"][0]["failure"]["inputs"] == {
        "a": "ten",
        "b": {"$type": "interval", "value": [1, 2]},
    }
    back = read_explanation(data)
    assert back == why and back.failure == why.failure
    assert back.to_json() == why.to_json()
    older = json.loads(json.dumps(data))  # a node of an earlier version sent no inputs
    del older["steps"][0]["failure"]["inputs"]
    assert read_explanation(older).failure == attrs.evolve(why.failure, inputs={})
    bad = json.loads(json.dumps(data))
    bad["steps"][0]["failure"]["inputs"]["b"] = {"$type": "interval", "value": [2, 1]}
    with pytest.raises(ValueError, match=r"input 'b'.*no content"):
        read_explanation(bad)


def test_an_explanation_read_back_holds_only_content_and_writes_that_say_how() -> None:
    """What read_explanation accepts works as an explanation: premises() and to_json()."""
    from bassline.engine import Network

    net = Network(slashed(), node_id="n")
    net.update_contact("x/y", 5, via="cli")
    data = net.explain("x/y").to_json()
    step = data["steps"][0]
    assert step["justification"]["kind"] == "write"
    for drop in ("via", "local"):  # a write without them is no premise
        write = {k: v for k, v in step["justification"].items() if k != drop}
        with pytest.raises(ValueError, match=repr(drop)):
            read_explanation(dict(data, steps=[dict(step, justification=write)]))
    empty = {"$type": "interval", "value": [41, 0]}  # decodes, but is no content
    for bad in (
        dict(data, steps=[dict(step, value=empty)]),
        dict(data, steps=[dict(step, justification=dict(step["justification"], value=empty))]),
    ):
        with pytest.raises(ValueError, match="no content"):
            read_explanation(bad)
    back = read_explanation(data)
    assert back.to_json() == data and [p.via for p in back.premises()] == ["cli"]


async def test_node_b_explains_over_http_a_value_written_on_node_a() -> None:
    spec = calculator()
    async with node("a", spec, ["adder"]) as (a, server_a):
        assert server_a.url is not None
        async with node("b", spec, [], peers=[server_a.url.ws]) as (b, server_b):
            assert server_b.url is not None
            await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
            async with AsyncNodeClient(server_a.url) as on_a:
                await on_a.write("input-b", 20)
                await on_a.write("input-a", 40)
            written = a.contact("input-a").stamp
            await wait_until(lambda: b.value("result", None) == 60, what="the sum on b")
            await wait_until(lambda: converged([a, b]), what="convergence")
            async with AsyncNodeClient(server_b.url) as on_b:
                why = await on_b.explain("input-a")
                result = await on_b.explain("result")
            assert why.value == 40
            # node b names the origin node and stamp of what node a was written
            origin = [p for p in why.premises() if p.value == 40]
            assert [(p.contact, p.stamp, p.stamp.node) for p in origin] == [
                ("input-a", written, "a")
            ]
            assert result.value == 60
            assert result.premises() and all(p.stamp.node == "a" for p in result.premises())
            assert result.to_json() == b.explain("result").to_json()
