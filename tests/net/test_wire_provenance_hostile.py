"""A peer's justifications are checked before anything of its delta is applied (gossip
protocol v2): a garbage, oversized or lying ``whys`` entry refuses the frame with
``bad-justification`` and a message naming the problem, counted, and changes nothing. A
v1 peer is refused ``version``. One real node, attacked over real sockets."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from bassline.net import BasslineNetwork, NodeServer
from bassline.net.protocol import dump
from bassline.net.urls import NodeURL

from .conftest import SECRET
from .test_hostile import SETTINGS, Harness
from .test_wire_provenance import chain

SPEC = chain()


@asynccontextmanager
async def _serve() -> AsyncIterator[tuple[BasslineNetwork, NodeURL, BasslineNetwork]]:
    async with BasslineNetwork("target", SPEC, secret=SECRET, settings=SETTINGS) as target:
        await target.update_many({"manual": "precious", "net": 1})
        async with NodeServer(target, "127.0.0.1", 0) as server:
            assert server.url is not None
            async with BasslineNetwork(
                "attacker", SPEC, [], secret=SECRET, settings=SETTINGS
            ) as attacker:
                yield target, server.url, attacker


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with start_blocking_portal(request.param) as portal:
        with portal.wrap_async_context_manager(_serve()) as (target, url, attacker):
            h = Harness(portal, target, url)
            h.attacker = attacker
            yield h


def _delta(items: list[list[Any]], **extra: Any) -> bytes:
    """A delta stamped now (so it would replace what the target holds), from mallory."""
    return dump(
        {
            "t": "delta",
            "epoch": secrets.token_hex(8),
            "from": 0,
            "to": len(items),
            "base": time.time_ns() // 1_000_000 << 16,
            "nodes": ["mallory"],
            "items": items,
            **extra,
        }
    )


MANUAL = ["manual", "overwritten", 0, 0, 0]
SUM = ["total.sum", 999, 0, 0, 0]
ATTACKS = [
    ([MANUAL], {"a": 1}, "delta.whys must be a list with at most one entry per item"),
    ([MANUAL], [["w", "http"], ["w", "cli"]], "at most one entry per item"),
    ([["manual", "x", 0, 0, 1]], [["w", "http"]], "delta.items[0][4] must index delta.whys"),
    ([["manual", "x", 0, 0, -1]], [["w", "http"]], "delta.items[0][4] must index delta.whys"),
    ([["manual", "x", 0, 0, 0]], None, "name justifications but the delta has no whys"),
    ([MANUAL], [["w", "v" * 5000]], "a write's via must be 1-200 characters"),
    ([MANUAL], [["w", "a\nb"]], "no control characters"),
    ([MANUAL], [["w"]], "delta.whys[0] must have 2 elements, or 4 with a kept stamp"),
    ([MANUAL], [["w", "http", 0]], "delta.whys[0] must have 2 elements, or 4 with a kept stamp"),
    ([MANUAL], [["z", 1]], 'delta.whys[0] must be a list starting with "w", "c" or "g"'),
    ([MANUAL], [["w", "http", 10**6, 0]], "no newer than the content's"),
    ([MANUAL], [["w", "http", 0, 7]], "a stamp's node index must index delta.nodes"),
    ([MANUAL], [["w", "http", -(2**63), 0]], "a stamp's clock offset must put it in"),
    ([MANUAL], [["c", 0]], "contact 'manual' has 0 contact(s) wired into it"),
    ([["gross", 1, 0, 0, 0]], [["c", 1]], "contact 'gross' has 1 contact(s) wired into it"),
    ([MANUAL], [["c", -1]], "a wire's index must be a whole number"),
    ([MANUAL], [["g", []]], "contact 'manual' is no output of a gadget group"),
    ([SUM], [["g", [1]]], "gadget group 'total' has 2 input(s); a justification lists 1"),
    ([SUM], [["g", [0, 0, 0]]], "gadget group 'total' has 2 input(s); a justification lists 3"),
    ([SUM], [["g", [[10**6, 0], 0]]], "input 'a' must carry a stamp no newer"),
    ([SUM], [["g", [1, 0]]], "given as in this delta, which carries no content for it"),
    ([SUM], [["g", [0] * 300]], "inputs must be a list of at most 256"),
    ([SUM], [["g", [[0], 0]]], "delta.whys[0][1][0] must be 0, 1, [offset, node]"),
    ([SUM], [["g", [2, 0]]], "delta.whys[0][1][0] must be 0, 1, [offset, node]"),
    ([SUM], [["g", [True, 0]]], "delta.whys[0][1][0] must be 0, 1, [offset, node]"),
    ([SUM], [["g", [[0, 0, {"$type": "nope"}], 0]]], "delta.whys[0][1][0][2]"),
    ([SUM], [["g", {"a": 1}]], "a gadget's inputs must be a list"),
]


@pytest.mark.parametrize(("items", "whys", "message"), ATTACKS)
def test_a_bad_justification_refuses_the_frame_and_changes_nothing(
    harness: Harness, items: list[list[Any]], whys: Any, message: str
) -> None:
    target = harness.target
    m = target.metrics
    before = m.rejected["bad-justification"]
    held = target.contact("manual"), target.contact("total.sum"), target.contact("gross")
    frame = _delta(items) if whys is None else _delta(items, whys=whys)
    replies = harness.run([frame], authenticated=True)
    assert replies[-1]["t"] == "refuse" and replies[-1]["code"] == "bad-justification"
    assert message in replies[-1]["reason"], replies[-1]["reason"]
    assert m.rejected["bad-justification"] == before + 1
    assert (target.contact("manual"), target.contact("total.sum"), target.contact("gross")) == held


def test_a_sound_justification_from_the_same_peer_is_applied_and_explained(
    harness: Harness,
) -> None:
    """The control: the frame the attacks garble, with a sound entry, is applied."""
    harness.run(
        [_delta([MANUAL], whys=[["w", "cli"]]), dump({"t": "bye", "reason": "done"})],
        authenticated=True,
    )
    why = harness.target.explain("manual")
    assert why.value == "overwritten"
    assert [(p.via, p.local, p.stamp.node) for p in why.premises()] == [("cli", False, "mallory")]


def test_a_gadget_entry_first_in_its_delta_reads_its_inputs_from_the_delta(
    harness: Harness,
) -> None:
    """The gadget's output comes before its inputs, and no wire entry comes before it:
    the inputs it names "as in this delta" are found there all the same (the receiver
    builds its table of the delta's contents for the first gadget entry, whatever came
    before it)."""
    items = [["total.sum", 12, 0, 0, 0], ["total.a", 5, 0, 0, 1], ["total.b", 7, 0, 0, 1]]
    replies = harness.run(
        [
            _delta(items, whys=[["g", [1, 1]], ["w", "cli"]]),
            dump({"t": "bye", "reason": "done"}),
        ],
        authenticated=True,
    )
    assert all(r["t"] != "refuse" for r in replies), replies
    run = harness.target.explain("total.sum").justification
    assert run is not None and run.group == "total"
    assert [(i.port, i.value) for i in run.inputs] == [("a", 5), ("b", 7)]


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_an_older_peer_is_refused_with_a_message_naming_both_versions(
    harness: Harness, version: int
) -> None:
    # version 2 has no prune, graft or announced changes (protocol v3), version 3 no
    # links frame and no graft without contacts (v4), version 4 no quiet prune (v5):
    # no mixed links
    hello = {
        "t": "hello",
        "v": version,
        "node": "old-node",
        "bassline": SPEC.hash,
        "nonce": secrets.token_hex(16),
        "epoch": "1" * 16,
        "auth": "hmac-sha256",
        "url": None,
        "groups": [],
    }
    replies = harness.run([dump(hello)], authenticated=False)
    assert replies[-1]["code"] == "version"
    expected = f"speaks gossip protocol v{version}; this node speaks v5"
    assert expected in replies[-1]["reason"]
