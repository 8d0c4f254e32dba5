"""Eager and lazy push (protocol v3, decisions.md D56).

A node that receives a content it holds already asks the sender to stop sending the
values of that content's origin (``prune``); the sender then only announces that
origin's changes on the link (``have`` rows: contact and stamp). A node that lacks an
announced change, and does not get it over another link within ``graft_delay``, asks
the announcer for it (``graft``), which also makes the origin eager on that link again.

Fake peers on real links (they pass the handshake, then send hand-made frames) make the
order certain; real nodes behind TCP proxies check that links failing mid-stream, peers
restarting and partitions healing all still converge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import attrs
import orjson
import pytest

from bassline.clock import HybridLogicalClock, Stamp
from bassline.net import BasslineNetwork, GossipSettings
from bassline.net.handshake import handshake
from bassline.net.protocol import dump, encode_delta
from bassline.net.transport import Transport, dial
from bassline.spec import Bassline, parse_spec

from .conftest import FAST, ONE_SESSION, converged, flat, node, wait_until
from .proxy import TcpProxy

pytestmark = pytest.mark.anyio

SPEC = flat(120)


async def _frame(link: Transport, kind: str) -> dict[str, Any]:
    """The next frame of type ``kind`` the node sends on ``link`` (others are skipped)."""
    with anyio.fail_after(30):
        while True:
            frame = orjson.loads(await link.receive())
            if frame.get("t") == kind:
                return frame  # type: ignore[no-any-return]


async def _deltas_until(link: Transport, head: int) -> tuple[list[Any], list[Any]]:
    """The items and announced rows of the deltas the node sends until one reaches
    ``head`` of its log."""
    items: list[Any] = []
    have: list[Any] = []
    while True:
        delta = await _frame(link, "delta")
        items += delta["items"]
        have += delta.get("have", [])
        if delta["to"] >= head:
            return items, have


@asynccontextmanager
async def _hub_and_peer(
    settings: GossipSettings, spec: Bassline = SPEC
) -> AsyncIterator[tuple[BasslineNetwork, BasslineNetwork, Transport]]:
    """A node ``hub`` served, and a fake peer ``m``: its own network, a link dialled to
    the hub and the handshake passed (``m`` then sends hand-made frames on the link)."""
    async with node("hub", spec, settings=settings) as (hub, server):
        assert server.url is not None
        async with (
            BasslineNetwork("m", spec, settings=settings) as m,
            dial(server.url, max_bytes=1 << 22) as link,
        ):
            await handshake(m, link, dialer=True)
            yield hub, m, link


@asynccontextmanager
async def _hub_and_two_peers(
    spec: Bassline = SPEC,
) -> AsyncIterator[tuple[BasslineNetwork, BasslineNetwork, Transport, BasslineNetwork, Transport]]:
    """A node ``hub`` served, and two fake peers ``m1`` and ``m2``, each with its own
    network and a link dialled to the hub, the handshakes passed: (hub, m1, link1, m2,
    link2)."""
    async with node("hub", spec, settings=ONE_SESSION) as (hub, server):
        assert server.url is not None
        async with (
            BasslineNetwork("m1", spec, settings=ONE_SESSION) as m1,
            BasslineNetwork("m2", spec, settings=ONE_SESSION) as m2,
            dial(server.url, max_bytes=1 << 22) as link1,
            dial(server.url, max_bytes=1 << 22) as link2,
        ):
            await handshake(m1, link1, dialer=True)
            await handshake(m2, link2, dialer=True)
            yield hub, m1, link1, m2, link2


def _start(link_epoch: str) -> bytes:
    """A fake peer's first digest: it holds nothing of the node's log (the node's pusher
    starts sending)."""
    digest = {"t": "digest", "epoch": None, "seq": 0, "head_epoch": link_epoch, "head": 0}
    return dump(digest | {"rewind": False})


async def test_a_peer_that_sends_what_the_node_holds_is_asked_to_prune_its_origin() -> None:
    stamp = HybridLogicalClock("writer").tick()
    async with _hub_and_two_peers() as (hub, m1, link1, m2, link2):
        item = [("c0", "same", stamp)]
        await link1.send(dump(encode_delta(m1.log.epoch, 0, 1, item)))
        await wait_until(lambda: hub.value("c0") == "same", what="c0 applied")
        await link2.send(dump(encode_delta(m2.log.epoch, 0, 1, item)))  # a second copy
        assert await _frame(link2, "prune") == {"t": "prune", "origins": ["writer"]}
        assert hub.metrics.items_redundant == 1
        # m1's copy came first: it is not asked
        await wait_until(lambda: hub.metrics.messages_out["prune"] == 1, what="one prune")
        # the same origin again from m2: asked once per link, not per copy
        item2 = [("c1", "again", HybridLogicalClock("writer").tick())]
        await link1.send(dump(encode_delta(m1.log.epoch, 1, 2, item2)))
        await wait_until(lambda: hub.value("c1") == "again", what="c1 applied")
        await link2.send(dump(encode_delta(m2.log.epoch, 1, 2, item2)))
        await hub.update_contact("c2", "own")
        await link2.send(_start(m2.log.epoch))  # frames after the copy's: no prune
        kinds = []
        with anyio.fail_after(30):
            while not kinds or kinds[-1] != "delta":
                kinds.append(orjson.loads(await link2.receive())["t"])
        assert "prune" not in kinds and hub.metrics.items_redundant == 2
        assert hub.metrics.messages_out["prune"] == 1


async def test_a_copy_that_came_first_from_a_pruned_peer_prunes_no_other() -> None:
    # m2 was asked to prune the origin, but a value it sent before the prune reached it
    # arrives first; m1's copy of it is then redundant, yet m1 may be the only link the
    # origin's values still come over: it is not asked to prune
    clock = HybridLogicalClock("writer")
    first, second = clock.tick(), clock.tick()
    async with _hub_and_two_peers() as (hub, m1, link1, m2, link2):
        item = [("c0", "a", first)]
        await link1.send(dump(encode_delta(m1.log.epoch, 0, 1, item)))
        await wait_until(lambda: hub.value("c0") == "a", what="c0 applied")
        await link2.send(dump(encode_delta(m2.log.epoch, 0, 1, item)))
        assert await _frame(link2, "prune") == {"t": "prune", "origins": ["writer"]}
        late = [("c1", "b", second)]  # sent by m2 before it read the prune
        await link2.send(dump(encode_delta(m2.log.epoch, 1, 2, late)))
        await wait_until(lambda: hub.value("c1") == "b", what="c1 applied")
        await link1.send(dump(encode_delta(m1.log.epoch, 1, 2, late)))
        await wait_until(lambda: hub.metrics.items_redundant == 2, what="m1's copy")
        await hub.update_contact("c2", "own")
        await link1.send(_start(m1.log.epoch))  # frames after the copy's: no prune
        kinds = []
        with anyio.fail_after(30):
            while not kinds or kinds[-1] != "delta":
                kinds.append(orjson.loads(await link1.receive())["t"])
        assert "prune" not in kinds
        assert hub._membership.sessions["m1"].pruned == set()


async def test_a_pruned_origin_is_announced_until_a_graft_asks_for_it() -> None:
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        await link.send(dump({"t": "prune", "origins": ["hub"]}))
        await link.send(_start(m.log.epoch))
        await hub.update_contact("c0", "own")  # stamped by the hub: announced only
        theirs = Stamp(hub.contact("c0").stamp.hlc + 1, "other")
        await hub.apply([("c1", "theirs", theirs)])  # another origin: sent
        items, have = await _deltas_until(link, hub.log.head)
        own = hub.contact("c0").stamp
        assert [row[0] for row in items] == ["c1"] and [row[1] for row in items] == ["theirs"]
        assert [row[0] for row in have] == ["c0"]
        assert hub.metrics.items_announced_out == 1
        # the peer lacks c0: it grafts, and gets the value (its cursor does not move)
        await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": ["c0"]}))
        reply = await _frame(link, "delta")
        assert reply["from"] == reply["to"] == hub.log.head
        assert [row[:2] for row in reply["items"]] == [["c0", "own"]]
        assert reply["base"] + reply["items"][0][2] == own.hlc
        # and the hub's origin is eager on this link again
        await hub.update_contact("c2", "eager")
        items, have = await _deltas_until(link, hub.log.head)
        assert [row[:2] for row in items] == [["c2", "eager"]] and have == []


async def test_only_writes_are_announced_derived_values_and_merge_contacts_are_sent() -> None:
    # a wire's copy carries its source's stamp: two nodes may hold different values at one
    # stamp (and merge contacts equal values at different stamps), so for those a stamp
    # cannot say whether the peer holds the value
    spec = parse_spec(
        {
            "id": "wired",
            "contacts": [{"id": "a"}, {"id": "b"}, {"id": "s", "lattice": "grow-set"}],
            "wires": [{"from": "a", "to": "b", "type": "directed"}],
        }
    )
    async with _hub_and_peer(ONE_SESSION, spec) as (hub, m, link):
        await link.send(dump({"t": "prune", "origins": ["hub"]}))
        await link.send(_start(m.log.epoch))
        await hub.update_many({"a": "x", "s": ["y"]})
        assert hub.contact("b").stamp == hub.contact("a").stamp  # the wire's copy
        items, have = await _deltas_until(link, hub.log.head)
        assert sorted(row[0] for row in items) == ["b", "s"]
        assert [row[0] for row in have] == ["a"]


async def test_a_node_grafts_an_announced_change_it_lacks_and_not_one_it_holds() -> None:
    settings = attrs.evolve(ONE_SESSION, graft_delay=0.05)
    clock = HybridLogicalClock("writer")
    held, lacked = clock.tick(), clock.tick()
    async with _hub_and_peer(settings) as (hub, m, link):
        await hub.apply([("c0", "held", held)])
        announced = encode_delta(m.log.epoch, 0, 2, [], None, [("c0", held), ("c1", lacked)])
        await link.send(dump(announced))
        graft = await _frame(link, "graft")
        assert graft == {"t": "graft", "origins": ["writer"], "contacts": ["c1"]}
        assert hub.metrics.items_announced_in == 2 and hub.metrics.grafts == 1
        # the answer: a delta at the peer's position with the value
        await link.send(dump(encode_delta(m.log.epoch, 2, 2, [("c1", "lacked", lacked)])))
        await wait_until(lambda: hub.value("c1") == "lacked", what="the grafted value")
        # c0 was announced by m, which holds it: it is not sent back to m
        await hub.update_contact("c2", "own")
        await link.send(_start(m.log.epoch))
        items, _ = await _deltas_until(link, hub.log.head)
        assert "c0" not in [row[0] for row in items] and "c2" in [row[0] for row in items]


async def test_a_change_never_answered_is_asked_for_three_times_then_given_up() -> None:
    """The peer may have sent a value this node refused: a lacked change is grafted again
    each ``graft_delay``, ``GRAFT_TRIES`` (3) times in all, then forgotten."""
    settings = attrs.evolve(ONE_SESSION, graft_delay=0.02)
    lacked = HybridLogicalClock("writer").tick()
    async with _hub_and_peer(settings) as (hub, m, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        session = sessions["m"]
        await link.send(dump(encode_delta(m.log.epoch, 0, 1, [], None, [("c1", lacked)])))
        for _ in range(3):  # never answered
            graft = await _frame(link, "graft")
            assert graft == {"t": "graft", "origins": ["writer"], "contacts": ["c1"]}
        await wait_until(lambda: not session.wanted, what="the lacked change given up")
        assert hub.metrics.grafts == 3
        assert hub.value("c1", None) is None


async def test_a_newer_announcement_of_a_wanted_contact_is_the_one_grafted() -> None:
    """Announced twice before the graft (two changes of one contact): the newer stamp is
    wanted, so the older value alone does not end the wait."""
    settings = attrs.evolve(ONE_SESSION, graft_delay=0.02)
    clock = HybridLogicalClock("writer")
    older, newer = clock.tick(), clock.tick()
    async with _hub_and_peer(settings) as (hub, m, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        session = sessions["m"]
        epoch = m.log.epoch
        await link.send(dump(encode_delta(epoch, 0, 1, [], None, [("c1", older)])))
        await link.send(dump(encode_delta(epoch, 1, 2, [], None, [("c1", newer)])))
        await wait_until(lambda: session.wanted.get("c1", (None,))[0] == newer, what="newer")
        assert await _frame(link, "graft") == {
            "t": "graft",
            "origins": ["writer"],
            "contacts": ["c1"],
        }
        await link.send(dump(encode_delta(epoch, 2, 2, [("c1", "old", older)])))
        await wait_until(lambda: hub.value("c1", None) == "old", what="the older value")
        assert "c1" in session.wanted  # still lacking the newer change: asked again
        await _frame(link, "graft")
        await link.send(dump(encode_delta(epoch, 2, 2, [("c1", "new", newer)])))
        await wait_until(lambda: not session.wanted, what="the newer value ends the wait")
        assert hub.value("c1") == "new"


async def test_a_graft_naming_a_contact_this_network_lacks_ends_the_link_refused() -> None:
    """What a graft asks for is checked as a delta's contacts are (cut to 80 characters)."""
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        await link.send(_start(m.log.epoch))
        graft = {"t": "graft", "origins": ["m"], "contacts": ["c0", "n" * 200]}
        await link.send(dump(graft))
        refusal = await _frame(link, "refuse")
        assert refusal == {
            "t": "refuse",
            "code": "unknown-contact",
            "reason": f"graft names contact {'n' * 80!r}, which this Bassline does not have",
        }
        assert hub.metrics.rejected == {"unknown-contact": 1}


async def test_a_delta_announcing_a_contact_this_network_lacks_ends_the_link_refused() -> None:
    """Announced rows are checked as items are; every announced row is counted."""
    clock = HybridLogicalClock("writer")
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        epoch = m.log.epoch
        good = [("c1", clock.tick()), ("c2", clock.tick())]
        await link.send(dump(encode_delta(epoch, 0, 2, [], None, good)))
        bad = [("c3", clock.tick()), ("n" * 200, clock.tick())]
        await link.send(dump(encode_delta(epoch, 2, 4, [], None, bad)))
        refusal = await _frame(link, "refuse")
        assert refusal == {
            "t": "refuse",
            "code": "unknown-contact",
            "reason": f"delta announces contact {'n' * 80!r}, which this Bassline does not have",
        }
        assert hub.metrics.rejected == {"unknown-contact": 1}
        assert hub.metrics.items_announced_in == 4


async def test_a_delta_announcing_an_unknown_contact_applies_none_of_its_items() -> None:
    """protocol.md: a delta naming a contact the Bassline lacks is refused and nothing of
    it is applied; its items were applied before its announced rows were checked."""
    clock = HybridLogicalClock("writer")
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        item = [("c0", "applied?", clock.tick())]
        announced = [("n" * 200, clock.tick())]
        await link.send(dump(encode_delta(m.log.epoch, 0, 2, item, None, announced)))
        refusal = await _frame(link, "refuse")
        assert refusal["code"] == "unknown-contact"
        assert hub.metrics.rejected == {"unknown-contact": 1}
        assert hub.value("c0", None) is None
        assert hub.metrics.items_announced_in == 1


async def test_a_graft_reply_too_big_for_one_frame_is_split_and_carries_the_whys() -> None:
    """The answer to a graft is halved until it fits ``max_frame_bytes``, and the
    justifications go along."""
    settings = attrs.evolve(ONE_SESSION, max_frame_bytes=64 * 1024)
    wired = parse_spec(
        {
            "id": "wired",
            "contacts": [{"id": f"c{i}"} for i in range(8)] + [{"id": "copy"}],
            "wires": [{"from": "c0", "to": "copy", "type": "directed"}],
        }
    )
    async with node("hub", wired, settings=settings) as (hub, server):
        assert server.url is not None
        await hub.update_many({f"c{i}": "v" * 20_000 for i in range(1, 8)})
        await hub.update_contact("c0", "w")  # copied to "copy" by the wire: a why
        async with (
            BasslineNetwork("m", wired, settings=settings) as m,
            dial(server.url, max_bytes=1 << 22) as link,
        ):
            await handshake(m, link, dialer=True)
            await link.send(_start(m.log.epoch))  # the node pushes its log, too
            asked = ["copy", *(f"c{i}" for i in range(1, 8))]
            await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": asked}))
            got: list[Any] = []
            whys: list[Any] = []
            replies = 0
            while len(got) < len(asked):
                delta = await _frame(link, "delta")
                if delta["from"] != delta["to"]:
                    continue  # the log pushed; a reply sits at the peer's position
                replies += 1
                assert len(dump(delta)) <= settings.max_frame_bytes
                got += [row[0] for row in delta["items"]]
                whys += delta.get("whys", [])
        assert sorted(got) == sorted(asked)
        assert replies >= 3  # 8 contacts of ~20 KB in frames of 64 KiB: halved twice
        assert any(whys)  # the copy's wire went along


async def test_a_peer_may_prune_at_most_ten_thousand_origins_on_a_link() -> None:
    """A peer's prunes are kept per link; a peer naming ever more origins would grow that
    set without end, so a prune that would take it past 10,000 is ignored (the origins
    stay eager: more sent, nothing lost)."""
    async with _hub_and_peer(ONE_SESSION) as (hub, _, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        lazy = sessions["m"].lazy
        for k in range(10):  # 10 x 1,000 origins (the most one prune may name)
            origins = [f"o{k * 1000 + i:05d}" for i in range(1000)]
            await link.send(dump({"t": "prune", "origins": origins}))
        await wait_until(lambda: len(lazy) == 10_000, what="ten thousand pruned")
        await link.send(dump({"t": "prune", "origins": ["one-too-many"]}))
        await wait_until(lambda: hub.metrics.messages_in["prune"] == 11, what="the last prune read")
        assert len(lazy) == 10_000 and "one-too-many" not in lazy


async def test_an_announced_change_is_waited_for_while_its_origin_keeps_coming() -> None:
    # m announces a change of "w" and one of "z"; values of "w" keep coming over e (a live
    # link that carries them, the change likely behind them), none of "z": only the change
    # of "z" is grafted after graft_delay
    settings = attrs.evolve(ONE_SESSION, graft_delay=1.0)
    w, z = HybridLogicalClock("w"), HybridLogicalClock("z")
    announced = [("c1", w.tick()), ("c2", z.tick())]
    async with node("hub", SPEC, settings=settings) as (hub, server):
        assert server.url is not None
        async with (
            BasslineNetwork("m", SPEC, settings=settings) as m,
            BasslineNetwork("e", SPEC, settings=settings) as e,
            dial(server.url, max_bytes=1 << 22) as link,
            dial(server.url, max_bytes=1 << 22) as eager,
        ):
            await handshake(m, link, dialer=True)
            await handshake(e, eager, dialer=True)
            await link.send(dump(encode_delta(m.log.epoch, 0, 2, [], None, announced)))
            await wait_until(lambda: len(hub._membership.sessions["m"].wanted) == 2)
            later = [("c5", "w's", w.tick())]
            await eager.send(dump(encode_delta(e.log.epoch, 0, 1, later)))
            graft = await _frame(link, "graft")
            assert graft == {"t": "graft", "origins": ["z"], "contacts": ["c2"]}
            assert "c1" in hub._membership.sessions["m"].wanted


# ---------------------------------------------------------------- real nodes, faults


@attrs.define
class Diamond:
    """``n1`` and ``n2`` dial ``n0``; ``n3`` dials both through proxies. After
    :func:`_pruned`, ``eager`` is the proxy of the link ``n3`` gets ``n0``'s values over
    and ``lazy`` the proxy of the link it only gets announcements of them over."""

    nets: list[BasslineNetwork]
    proxies: dict[str, TcpProxy]
    n3_stack: AsyncExitStack
    """Closing it stops ``n3``."""
    eager: TcpProxy | None = None
    lazy: TcpProxy | None = None
    lazy_peer: str = ""


@asynccontextmanager
async def _diamond(settings: GossipSettings) -> AsyncIterator[Diamond]:
    async with AsyncExitStack() as stack:
        n0, s0 = await stack.enter_async_context(node("n0", SPEC, settings=settings))
        assert s0.url is not None
        nets, proxies = [n0], {}
        for name in ("n1", "n2"):
            net, server = await stack.enter_async_context(
                node(name, SPEC, peers=[s0.url.ws], settings=settings)
            )
            assert server.url is not None
            proxies[name] = await stack.enter_async_context(TcpProxy(server.url.port))
            nets.append(net)
        urls = [proxies["n1"].url, proxies["n2"].url]
        n3_stack = await stack.enter_async_context(AsyncExitStack())
        n3, _ = await n3_stack.enter_async_context(node("n3", SPEC, peers=urls, settings=settings))
        nets.append(n3)
        await wait_until(lambda: len(n3.peers()) == 2 and len(n0.peers()) == 2, what="links")
        yield Diamond(nets, proxies, n3_stack)


async def _pruned(d: Diamond) -> int:
    """Write ``n0``'s changes one by one until ``n3`` pruned one of its links for them and
    that peer knows it; returns how many were written."""
    n0, n3 = d.nets[0], d.nets[3]
    sessions = n3._membership.sessions
    for k in range(100):
        await n0.update_contact(f"c{k}", k)
        await wait_until(lambda k=k: n3.value(f"c{k}", None) == k, what=f"c{k} at n3")
        pruned = [p for p in ("n1", "n2") if p in sessions and "n0" in sessions[p].pruned]
        if len(pruned) == 1:
            (lazy,) = pruned
            (eager,) = {"n1", "n2"} - {lazy}
            peer = next(n for n in d.nets if n.node_id == lazy)

            def told(peer: BasslineNetwork = peer) -> bool:
                link = peer._membership.sessions.get("n3")
                return link is not None and "n0" in link.lazy

            await wait_until(told, what="the prune at the peer")
            d.eager, d.lazy, d.lazy_peer = d.proxies[eager], d.proxies[lazy], lazy
            return k + 1
    raise AssertionError("n3 never pruned a link")


async def test_a_node_whose_eager_link_fails_mid_stream_grafts_over_a_lazy_one() -> None:
    # reactive prunes only: a pre-prune is quiet, and its link-state view, not an
    # announcement, repairs it (test_quiet_prunes.py)
    settings = attrs.evolve(FAST, graft_delay=0.05, link_state=False)
    async with _diamond(settings) as d:
        start = await _pruned(d)
        assert d.eager is not None
        d.eager.cut()  # n0's values came over it; n3 keeps only the lazy link
        n0, n3 = d.nets[0], d.nets[3]
        for k in range(start, start + 60):  # the stream goes on: n3 hears only of it
            await n0.update_contact(f"c{k}", k)
        await wait_until(lambda: converged(d.nets), what="convergence")
        assert n3.metrics.grafts >= 1 and n3.metrics.items_announced_in >= 1
        assert all(n3.value(f"c{k}") == k for k in range(start + 60))


async def test_a_peer_that_restarts_behind_a_lazy_link_gets_every_value_at_once() -> None:
    # a long graft delay: nothing may wait for a graft, the new link is eager
    settings = attrs.evolve(FAST, graft_delay=60.0)
    async with _diamond(settings) as d:
        start = await _pruned(d)
        assert d.eager is not None and d.lazy is not None
        n0 = d.nets[0]
        d.eager.cut()
        await d.n3_stack.aclose()  # n3 stops; a new incarnation of it starts, empty
        for k in range(start, start + 30):
            await n0.update_contact(f"c{k}", k)
        async with BasslineNetwork(
            "n3", SPEC, peers=[d.lazy.url, d.eager.url], settings=settings
        ) as again:
            await wait_until(lambda: converged([*d.nets[:3], again]), what="convergence")
            assert again.metrics.grafts == 0 and again.metrics.items_announced_in == 0


async def test_a_healed_partition_converges_over_the_link_that_was_lazy() -> None:
    settings = attrs.evolve(FAST, graft_delay=60.0)
    async with _diamond(settings) as d:
        start = await _pruned(d)
        assert d.eager is not None and d.lazy is not None
        n0, n3 = d.nets[0], d.nets[3]
        d.eager.cut()
        d.lazy.cut()  # n3 is partitioned off; both sides go on writing
        await wait_until(lambda: not n3.peers(), what="the partition")
        for k in range(start, start + 30):
            await n0.update_contact(f"c{k}", k)
            await n3.update_contact(f"c{k + 40}", -k)
        grafts = n3.metrics.grafts
        d.lazy.restore()  # healed over the link that carried only announcements
        await wait_until(lambda: converged(d.nets), what="convergence")
        assert n3.metrics.grafts == grafts
        assert d.nets[1].value(f"c{start + 40}") == -start
