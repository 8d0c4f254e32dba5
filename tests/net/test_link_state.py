"""Link state and pre-prunes (protocol v4, decisions.md D65).

Every node floods its live links (``links`` frames); from the table, it asks each peer
that is not an origin's parent (the neighbour nearest the origin, ties to the smallest
id) to only announce that origin's changes, before any copy arrives twice; when a
pre-pruned link becomes an origin's parent, an origins-only ``graft`` makes it eager
again. Fake peers on real links make the order of frames certain; real nodes on
loopback (and behind TCP proxies) show the redundant copies gone and failures repaired.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import attrs
import pytest

from bassline.net import BasslineNetwork, GossipSettings
from bassline.net.handshake import handshake
from bassline.net.protocol import dump
from bassline.net.transport import dial

from .conftest import ONE_SESSION, converged, cursors_at_heads, flat, node, wait_until
from .proxy import TcpProxy
from .test_lazy_push import SPEC, _deltas_until, _frame, _hub_and_peer, _start

pytestmark = pytest.mark.anyio


def _rows(frame: dict[str, Any]) -> dict[str, list[str]]:
    return {node: peers for node, _, peers in frame["rows"]}


async def test_the_table_goes_first_to_a_new_link_and_newer_rows_on_to_the_others() -> None:
    async with node("hub", SPEC, settings=ONE_SESSION) as (hub, server):
        assert server.url is not None
        async with (
            BasslineNetwork("m", SPEC, settings=ONE_SESSION) as m,
            BasslineNetwork("m2", SPEC, settings=ONE_SESSION) as m2,
            dial(server.url, max_bytes=1 << 22) as link,
            dial(server.url, max_bytes=1 << 22) as link2,
        ):
            await handshake(m, link, dialer=True)
            first = await _frame(link, "links")
            assert _rows(first) == {"hub": ["m"]}
            # m lists the hub and x: the hub takes both rows, and its view has x behind m
            await link.send(dump({"t": "links", "rows": [["m", 5, ["hub", "x"]], ["x", 3, ["m"]]]}))
            await wait_until(lambda: "x" in hub._membership.topology.rows, what="m's rows")
            await handshake(m2, link2, dialer=True)
            assert _rows(await _frame(link2, "links")) == {
                "hub": ["m", "m2"],
                "m": ["hub", "x"],
                "x": ["m"],
            }
            # m hears of the hub's new link (its row, a new version), not of its own rows;
            # and m2's values, which m2 brings itself, are pruned on m
            assert _rows(await _frame(link, "links")) == {"hub": ["m", "m2"]}
            assert await _frame(link, "prune") == {"t": "prune", "origins": ["m2"], "quiet": True}
            # m2 lists the hub: the link is confirmed, and the origins m brings (m, x) are
            # pre-pruned on it
            await link2.send(dump({"t": "links", "rows": [["m2", 1, ["hub"]]]}))
            assert await _frame(link2, "prune") == {
                "t": "prune",
                "origins": ["m", "x"],
                "quiet": True,
            }
            assert _rows(await _frame(link, "links")) == {"m2": ["hub"]}  # passed on to m
            # m drops x: x is out of reach, and made eager again where it was pre-pruned
            await link.send(dump({"t": "links", "rows": [["m", 6, ["hub"]]]}))
            graft = await _frame(link2, "graft")
            assert graft == {"t": "graft", "origins": ["x"], "contacts": []}
            # x turns up behind m2: it is pruned on m now (m is no longer its parent)
            await link2.send(
                dump({"t": "links", "rows": [["m2", 2, ["hub", "x"]], ["x", 4, ["m2"]]]})
            )
            assert await _frame(link, "prune") == {"t": "prune", "origins": ["x"], "quiet": True}
            session = hub._membership.sessions
            assert session["m"].prepruned == {"m2", "x"} and session["m2"].prepruned == {"m"}


async def test_a_row_newer_than_a_nodes_own_gets_its_row_a_version_above_it() -> None:
    # a row about the hub from an earlier incarnation with a clock ahead of this one's
    async with _hub_and_peer(ONE_SESSION) as (_, _m, link):
        first = await _frame(link, "links")
        (version,) = [v for n, v, _ in first["rows"] if n == "hub"]
        await link.send(dump({"t": "links", "rows": [["hub", version + 10**12, ["gone"]]]}))
        again = await _frame(link, "links")  # sent back to the sender, too
        assert again["rows"] == [["hub", version + 10**12 + 1, ["m"]]]


async def test_a_bad_links_frame_ends_the_link_refused() -> None:
    async with _hub_and_peer(ONE_SESSION) as (hub, _, link):
        await link.send(dump({"t": "links", "rows": [["m", 1, ["hub", "hub"]]]}))
        refusal = await _frame(link, "refuse")
        assert refusal == {
            "t": "refuse",
            "code": "invalid-message",
            "reason": "links.rows[0][2] must name distinct nodes other than 'm'",
        }
        assert hub.metrics.rejected == {"invalid-message": 1}


async def test_a_graft_without_contacts_makes_the_origin_eager_again() -> None:
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        await link.send(dump({"t": "prune", "origins": ["hub"]}))
        await link.send(_start(m.log.epoch))
        await hub.update_contact("c0", "announced")
        items, have = await _deltas_until(link, hub.log.head)
        assert items == [] and [row[0] for row in have] == ["c0"]
        await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": []}))
        sessions = hub._membership.sessions
        await wait_until(lambda: "hub" not in sessions["m"].lazy, what="the graft taken")
        await hub.update_contact("c1", "sent")
        items, have = await _deltas_until(link, hub.log.head)
        assert [row[:2] for row in items] == [["c1", "sent"]] and have == []


# ---------------------------------------------------------------- real nodes


@asynccontextmanager
async def _cluster(
    dials: Sequence[Sequence[int]], settings: GossipSettings, spec: Any = SPEC
) -> AsyncIterator[list[BasslineNetwork]]:
    """Node ``i`` dials the nodes ``dials[i]`` (all before it); waits for every link."""
    async with AsyncExitStack() as stack:
        nets: list[BasslineNetwork] = []
        urls: list[str] = []
        for i, targets in enumerate(dials):
            net, server = await stack.enter_async_context(
                node(f"n{i}", spec, peers=[urls[j] for j in targets], settings=settings)
            )
            assert server.url is not None
            nets.append(net)
            urls.append(server.url.ws)
        links = 2 * sum(len(t) for t in dials)
        await wait_until(lambda: sum(len(n.peers()) for n in nets) == links, what="every link")
        yield nets


def _settled(nets: list[BasslineNetwork]) -> bool:
    """Every table holds every node's live links, and every peer took every pre-prune."""
    links = {n.node_id: {p.node for p in n.peers()} for n in nets}
    for net in nets:
        membership = net._membership
        rows = membership.topology.rows
        if any(rows.get(k, (0, None))[1] != v for k, v in links.items()):
            return False
        for peer, session in membership.sessions.items():
            other = next(n for n in nets if n.node_id == peer)._membership.sessions.get(net.node_id)
            if other is None or other.lazy != session.pruned or session.owes:
                return False
    return True


K4 = [[], [0], [0, 1], [0, 1, 2]]
BENCH_SHAPE = [[], [0], [1], [2, 1], [3, 2], [4, 2], [5, 3]]
"""Node i dials i-1 and i//2 (bench_network.py's shape): a line plus a tree."""


async def _redundant_after_bursts(
    dials: Sequence[Sequence[int]], writers: int, link_state: bool
) -> tuple[int, int, list[BasslineNetwork]]:
    """(copies received twice, items announced, the nodes), counted before the nodes
    close: a node that leaves makes its neighbours plan again, and what that resends is
    not the bursts' traffic."""
    # no graft within the test: a loaded machine cannot put an origin back on a second
    # link, and values that only the tree carries must arrive over it
    settings = attrs.evolve(ONE_SESSION, link_state=link_state, graft_delay=60.0)
    async with _cluster(dials, settings, flat(200)) as nets:
        await wait_until(lambda: _settled(nets), what="the tables and the pre-prunes")
        for w in range(writers):  # one burst per writer: one delta of 20 values
            await nets[w].update_many({f"c{20 * w + k}": f"n{w}-{k}" for k in range(20)})
        await wait_until(lambda: converged(nets), what="convergence")
        assert all(n.value(f"c{20 * w + 19}") == f"n{w}-19" for n in nets for w in range(writers))
        # every delta sent applied (the copies that came second arrive after convergence)
        await wait_until(lambda: cursors_at_heads(nets), what="every cursor at its head")
        announced = sum(n.metrics.items_announced_in for n in nets)
        return sum(n.metrics.items_redundant for n in nets), announced, nets


async def test_pre_prunes_leave_no_copy_twice_where_the_first_wave_crossed_every_link() -> None:
    """Four nodes all linked, one burst from one of them: without link state the burst
    crosses every link before a copy received twice prunes anything; with it, every node
    takes n0's values only over its link to n0."""
    off, _, _ = await _redundant_after_bursts(K4, 1, link_state=False)
    on, _, nets = await _redundant_after_bursts(K4, 1, link_state=True)
    assert off >= 40 and on == 0, (off, on)
    assert all(n.metrics.messages_in["links"] >= 1 for n in nets)
    assert sum(n.metrics.grafts for n in nets) == 0


async def test_pre_prunes_leave_no_copy_twice_on_a_line_plus_a_tree_all_written() -> None:
    """The benchmark's shape on seven nodes, a burst from every node at once: each node
    takes each origin's values from its parent only."""
    off, _, _ = await _redundant_after_bursts(BENCH_SHAPE, 7, link_state=False)
    on, announced, nets = await _redundant_after_bursts(BENCH_SHAPE, 7, link_state=True)
    assert off >= 100 and on == 0, (off, on)
    # pre-prunes are quiet (protocol v5): the links off the trees carry nothing at all
    assert announced == 0
    assert sum(n.metrics.items_left_out for n in nets) > 0


@asynccontextmanager
async def _square(
    settings: GossipSettings,
) -> AsyncIterator[tuple[list[BasslineNetwork], TcpProxy]]:
    """n0 - n1 - n2 - n3 - n0; n2 dials n1 through a proxy (returned). For n2, n0 is two
    hops away both ways: its parent is n1 (the smaller id), and n0 is pre-pruned on n3."""
    async with AsyncExitStack() as stack:
        n0, s0 = await stack.enter_async_context(node("n0", SPEC, settings=settings))
        assert s0.url is not None
        n1, s1 = await stack.enter_async_context(
            node("n1", SPEC, peers=[s0.url.ws], settings=settings)
        )
        assert s1.url is not None
        proxy = await stack.enter_async_context(TcpProxy(s1.url.port))
        n2, s2 = await stack.enter_async_context(
            node("n2", SPEC, peers=[proxy.url], settings=settings)
        )
        assert s2.url is not None
        n3, _ = await stack.enter_async_context(
            node("n3", SPEC, peers=[s2.url.ws, s0.url.ws], settings=settings)
        )
        nets = [n0, n1, n2, n3]
        await wait_until(lambda: all(len(n.peers()) == 2 for n in nets), what="the square")
        await wait_until(lambda: _settled(nets), what="the tables and the pre-prunes")
        assert n2._membership.sessions["n3"].prepruned == {"n0", "n1"}
        yield nets, proxy


async def test_a_link_failing_mid_stream_hands_the_origin_to_the_surviving_path() -> None:
    settings = attrs.evolve(ONE_SESSION, graft_delay=0.05)
    async with _square(settings) as (nets, proxy):
        n0, n2 = nets[0], nets[2]
        for k in range(60):
            if k == 20:
                proxy.cut()  # n2's parent for n0 is gone: n3 becomes it
            await n0.update_contact(f"c{k}", k)
        await wait_until(lambda: converged(nets), what="convergence")
        assert all(n2.value(f"c{k}") == k for k in range(60))
        n3_side = nets[3]._membership.sessions["n2"]
        assert "n0" not in n3_side.lazy  # grafted
        assert n2._membership.sessions["n3"].prepruned == set()


async def test_a_parent_that_goes_away_is_replaced_by_a_graft_at_once() -> None:
    """No graft for a lacked change within the test (``graft_delay`` 60 s): only the
    origins-only graft sent when n3 became n0's parent gets n2 n0's values."""
    settings = attrs.evolve(ONE_SESSION, graft_delay=60.0)
    async with _square(settings) as (nets, proxy):
        n0, n2 = nets[0], nets[2]
        proxy.cut()
        await wait_until(lambda: "n1" not in n2._membership.sessions, what="the cut link gone")
        for k in range(30):
            await n0.update_contact(f"c{k}", k)
        await wait_until(lambda: converged(nets), what="convergence")
        assert n2.metrics.grafts == 0 and n2.metrics.messages_out["graft"] >= 1
