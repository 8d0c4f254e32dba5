"""Provenance crosses nodes (issue 16, gossip protocol v2): a value's justification
travels with it, so a node explains a gadget output another node computed down to the
writes it rests on, through its own contacts. Real nodes on real sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from bassline.engine import Explanation, Kind
from bassline.net import AsyncNodeClient
from bassline.spec import Bassline, parse_spec
from bassline.storage import open_storage

from .conftest import ONE_SESSION, node, wait_until

pytestmark = pytest.mark.anyio


def _port(group: str, name: str, boundary: str) -> dict[str, Any]:
    return {"id": f"{group}.{name}", "group": group, "name": name, "boundary": boundary}


def chain() -> Bassline:
    """net + tax -> total -> gross; gross + extra -> bonus -> final; gross and manual
    both feed quote, a ``defined`` contact (two different values contradict)."""
    return parse_spec(
        {
            "id": "shop",
            "groups": [{"id": "total", "gadget": "add"}, {"id": "bonus", "gadget": "add"}],
            "contacts": [
                {"id": "net"},
                {"id": "tax", "content": 2},
                {"id": "gross"},
                {"id": "extra", "content": 100},
                {"id": "final"},
                {"id": "manual"},
                {"id": "quote", "lattice": "defined"},
                _port("total", "a", "input"),
                _port("total", "b", "input"),
                _port("total", "sum", "output"),
                _port("bonus", "a", "input"),
                _port("bonus", "b", "input"),
                _port("bonus", "sum", "output"),
            ],
            "wires": [
                {"from": "net", "to": "total.a", "type": "directed"},
                {"from": "tax", "to": "total.b", "type": "directed"},
                {"from": "total.sum", "to": "gross", "type": "directed"},
                {"from": "gross", "to": "bonus.a", "type": "directed"},
                {"from": "extra", "to": "bonus.b", "type": "directed"},
                {"from": "bonus.sum", "to": "final", "type": "directed"},
                {"from": "gross", "to": "quote", "type": "directed"},
                {"from": "manual", "to": "quote", "type": "directed"},
            ],
        }
    )


def step(why: Explanation, contact: str) -> Explanation:
    return next(s for s in why.walk() if s.contact == contact)


def gadget_inputs(why: Explanation, contact: str) -> list[tuple[Any, ...]]:
    """(port, value, stamp, holds) of each input of the gadget run behind ``contact``."""
    justification = step(why, contact).justification
    assert justification is not None and justification.kind is Kind.GADGET, justification
    return [(i.port, i.value, i.stamp, i.holds) for i in justification.inputs]


def origins(why: Explanation) -> set[tuple[Any, ...]]:
    return {(p.contact, p.value, p.via, p.local, p.stamp) for p in why.premises()}


async def test_nodes_that_run_no_gadget_explain_one_computed_elsewhere_to_its_writes() -> None:
    """a runs both gadgets; b and c run none, and c is linked to b only: each explains
    a's gadget chain through its own contacts, down to the writes, with their origin
    nodes and stamps (a's write came by gossip, b's write was local on b)."""
    spec = chain()
    async with node("a", spec, ["total", "bonus"]) as (a, server_a):
        assert server_a.url is not None
        async with node("b", spec, [], peers=[server_a.url.ws]) as (b, server_b):
            assert server_b.url is not None
            async with node("c", spec, [], peers=[server_b.url.ws]) as (c, _):
                await wait_until(lambda: len(b.peers()) == 2, what="the links")
                await a.update_contact("net", 10, via="http")
                await b.update_contact("tax", 3, via="cli")
                await wait_until(lambda: c.value("final", None) == 113, what="the chain on c")
                net, tax = a.contact("net").stamp, b.contact("tax").stamp
                assert (net.node, tax.node) == ("a", "b")
                gross = a.contact("total.sum").stamp
                for here, tax_local in ((b, True), (c, False)):
                    await wait_until(
                        lambda here=here: here.value("final", None) == 113, what="the chain"
                    )
                    why = here.explain("final")
                    assert why.value == 113 and why.complete, why.gaps()
                    assert origins(why) == {
                        ("net", 10, "http", False, net),
                        ("tax", 3, "cli", tax_local, tax),
                        ("extra", 100, "spec", True, spec_stamp(why, "extra")),
                    }
                    # the gadget runs were a's; their inputs are this node's contacts
                    assert gadget_inputs(why, "total.sum") == [
                        ("a", 10, net, True),
                        ("b", 3, tax, True),
                    ]
                    assert gadget_inputs(why, "bonus.sum") == [
                        ("a", 13, gross, True),
                        ("b", 100, spec_stamp(why, "extra"), True),
                    ]
                    assert step(why, "total.sum").justification.group == "total"  # type: ignore[union-attr]
                # over HTTP, as `bassline explain` asks
                async with AsyncNodeClient(server_b.url) as on_b:
                    answer = await on_b.explain("final")
                assert answer.to_json() == b.explain("final").to_json()


def spec_stamp(why: Explanation, contact: str) -> Any:
    return step(why, contact).stamp


async def test_a_contradiction_across_nodes_explains_both_sides_on_both_nodes() -> None:
    """quote takes gross (computed on a from a's write) and manual (written on b): each
    node explains the value it kept and the one it refused back to the other node's
    writes."""
    spec = chain()
    async with node("a", spec, ["total", "bonus"]) as (a, server_a):
        assert server_a.url is not None
        async with node("b", spec, [], peers=[server_a.url.ws]) as (b, _):
            await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
            await a.update_contact("net", 10, via="http")
            await wait_until(lambda: b.value("quote", None) == 12, what="quote on b")
            await b.update_contact("manual", 13, via="cli")
            await wait_until(
                lambda: a.contact("quote").contradiction is not None, what="the contradiction on a"
            )
            net, manual = a.contact("net").stamp, b.contact("manual").stamp
            for here, net_local, manual_local in ((a, True, False), (b, False, True)):
                why = here.explain("quote")
                assert why.value == 12
                assert {(p.contact, p.value, p.via, p.local, p.stamp) for p in why.premises()} == {
                    ("net", 10, "http", net_local, net),
                    ("tax", 2, "spec", True, step(why, "tax").stamp),
                }
                assert gadget_inputs(why, "total.sum")[0][:2] == ("a", 10)
                refused = why.contradiction
                assert refused is not None and refused.value == 13
                assert [(p.contact, p.via, p.local, p.stamp) for p in refused.premises()] == [
                    ("manual", "cli", manual_local, manual)
                ]


async def test_a_gadget_output_from_another_node_is_explained_after_a_restart(
    tmp_path: Path,
) -> None:
    """b stores the justification that came with a's gadget output (a gadget group b
    does not run) and explains through it after restarting on its own."""
    spec = chain()
    url = f"file://{tmp_path / 'b'}"
    async with node("a", spec, ["total", "bonus"]) as (a, server_a):
        assert server_a.url is not None
        async with (
            open_storage(url, create=True) as storage,
            node("b", spec, [], peers=[server_a.url.ws], storage=storage) as (b, _),
        ):
            await a.update_contact("net", 10, via="http")
            await wait_until(lambda: b.value("final", None) == 112, what="the chain on b")
            before = b.explain("final")
            assert before.complete
            net = a.contact("net").stamp
    async with open_storage(url) as storage, node("b", spec, [], storage=storage) as (b, _):
        after = b.explain("final")
        assert after.value == 112 and after.complete, after.gaps()
        assert ("net", 10, "http", False, net) in origins(after)
        assert gadget_inputs(after, "total.sum") == gadget_inputs(before, "total.sum")


async def test_justifications_stay_with_their_values_when_a_delta_is_split() -> None:
    """Four 3,000-byte writes do not fit one 8 KiB frame: the delta is halved, and each
    half still carries the writes' origin."""
    spec = parse_spec({"id": "big", "contacts": [{"id": f"c{i}"} for i in range(4)]})
    settings = attrs.evolve(ONE_SESSION, max_frame_bytes=8192)
    async with node("a", spec, settings=settings) as (a, server):
        assert server.url is not None
        async with node("b", spec, peers=[server.url.ws], settings=settings) as (b, _):
            await a.update_many({f"c{i}": str(i) * 3000 for i in range(4)}, via="bulk")
            await wait_until(lambda: len(b.values()) == 4, what="the four writes")
            assert a.metrics.deltas_out >= 2  # split
            for i in range(4):
                [(contact, _, via, local, _)] = origins(b.explain(f"c{i}"))
                assert (contact, via, local) == (f"c{i}", "bulk", False)
