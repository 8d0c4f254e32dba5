"""Constraint networks and gadget failures on real nodes (loopback sockets, ephemeral ports)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from prometheus_client.parser import text_string_to_metric_families

from bassline import Network
from bassline.lattices import Interval
from bassline.spec import parse_spec
from tests.constraint_support import building_spec, constraint_networks, holds

from .conftest import converged, node, wait_until

pytestmark = pytest.mark.anyio


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """Server-sent events as ``(event, data)``."""
    kind, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif not line and kind:
            yield kind, orjson.loads(data)
            kind, data = "", ""


def doubler() -> Any:
    """x * 2 -> y through a ``multiply`` gadget group ``times``."""
    return parse_spec(
        {
            "id": "doubler",
            "groups": [{"id": "times", "gadget": "multiply"}],
            "contacts": [
                {"id": "x"},
                {"id": "y"},
                {"id": "times.a", "group": "times", "name": "a", "boundary": "input"},
                {"id": "times.b", "group": "times", "name": "b", "boundary": "input", "content": 2},
                {"id": "times.product", "group": "times", "name": "product", "boundary": "output"},
            ],
            "wires": [
                {"from": "x", "to": "times.a", "type": "directed"},
                {"from": "times.product", "to": "y", "type": "directed"},
            ],
        }
    )


async def test_a_gadget_failure_reaches_the_answer_the_contact_the_events_status_and_metrics() -> (
    None
):
    async with node("f", doubler()) as (net, server):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http, timeout=10) as http:
            async with http.stream("GET", "/api/changes") as stream:
                events = _events(stream)
                assert (await anext(events))[0] == "snapshot"  # subscribed
                r = await http.put("/api/contacts/x", json={"value": "seven"})
                assert r.status_code == 200, r.text
                (failure,) = r.json()["failures"]
                assert failure["gadget"] == "multiply" and failure["group"] == "times"
                assert (failure["port"], failure["kind"]) == ("a", "a string")
                assert "port 'a' got a string" in failure["error"]
                got = None
                with anyio.fail_after(10):
                    async for kind, data in events:
                        if kind == "failure":
                            got = data
                            break
                assert got == failure
            port = (await http.get("/api/contacts/times.product")).json()
            assert port["failure"]["port"] == "a" and port["failure"]["kind"] == "a string"
            assert (await http.get("/api/status")).json()["gadget_failures"] == {"multiply": 1}
            text = (await http.get("/metrics")).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        counter = families["bassline_gadget_failures"]
        assert counter.type == "counter"
        assert {s.labels["gadget"]: s.value for s in counter.samples} == {"multiply": 1}
        assert net.value("y", None) is None  # nothing was computed from the string


async def test_two_nodes_each_running_half_of_a_constraint_cycle_reach_the_same_intervals() -> None:
    spec = building_spec()
    writes = {
        "fall-time": Interval(2.95, 3.05),
        "shadow": Interval(14.4, 14.8),
        "pole-shadow": Interval(0.62, 0.64),
    }
    reference = Network(spec)
    reference.update_many(writes)
    async with node("stone", spec, groups=["squaring", "falling"]) as (a, sa):
        assert sa.url is not None
        async with node("shadows", spec, groups=["pole", "shadows"], peers=[sa.url.ws]) as (b, _):
            await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
            await a.update_contact("fall-time", writes["fall-time"])  # each measures its own
            await b.update_many({k: writes[k] for k in ("shadow", "pole-shadow")})
            await wait_until(lambda: converged([a, b]), what="the same intervals on both")
            await wait_until(
                lambda: a.value("height", None) == reference.value("height"),
                what="the single-node fixpoint",
            )
            for n in (a, b):
                assert n.values() == reference.values()
    assert reference.value("fall-time").lo > 3.02  # the shadows narrowed the stone's input


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=constraint_networks(max_constraints=4))
async def test_generated_constraint_networks_split_over_two_nodes_reach_the_one_node_fixpoint(
    case: Any,
) -> None:
    spec, solution, writes = case
    reference = Network(spec)
    settled = True
    for contact, value in writes:
        settled &= reference.update_contact(contact, value).settled
    groups = sorted(g.id for g in spec.groups if g.gadget)
    half = len(groups) // 2
    async with node("left", spec, groups=groups[:half]) as (a, sa):
        assert sa.url is not None
        async with node("right", spec, groups=groups[half:], peers=[sa.url.ws]) as (b, _):
            await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
            for i, (contact, value) in enumerate(writes):
                await (a if i % 2 else b).update_contact(contact, value)
            await wait_until(lambda: converged([a, b]), what="the same intervals on both")
            if settled:
                await wait_until(lambda: a.values() == reference.values(), what="the fixpoint")
            for n in (a, b):
                for contact, value in n.values().items():
                    if contact in solution:
                        assert holds(value, solution[contact])
