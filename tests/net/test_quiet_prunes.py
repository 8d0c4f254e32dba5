"""Quiet pre-prunes and the rewinds that stand in for their announcements (protocol v5,
decisions.md D66).

A pre-prune from the link-state table is quiet: the peer leaves that origin's changes out
of its deltas altogether. When the link must carry the origin again (its peer became the
origin's parent, or the origin is reachable no more), the node rewinds its cursor on the
peer's log to where it stood when it first pruned the origin there, and asks the peer to
resend from that position. Fake peers on real links make the order of frames certain;
real nodes behind TCP proxies show nothing lost when a parent goes away with values in
flight.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import attrs
import pytest

from bassline.net.protocol import ProtocolViolation, Prune, dump, parse_frame
from bassline.net.quiet_prunes import MAX_DEPARTED, QuietPrunes

from .conftest import ONE_SESSION, converged, node, wait_until
from .proxy import TcpProxy
from .test_lazy_push import SPEC, _deltas_until, _hub_and_peer, _start
from .test_link_state import _settled, _square

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------------- the bookkeeping


def test_a_rewind_goes_back_to_the_first_quiet_prune_of_any_of_the_origins() -> None:
    cursors = {"p": ("e1", 10)}
    quiet = QuietPrunes(cursors)
    quiet.note("p", {"a"})
    cursors["p"] = ("e1", 25)
    quiet.note("p", {"a", "b"})  # a keeps its earlier position
    cursors["p"] = ("e1", 40)
    assert quiet.rewind("p", {"b"}) and cursors["p"] == ("e1", 25)
    cursors["p"] = ("e1", 40)
    assert quiet.rewind("p", {"a", "c"}) and cursors["p"] == ("e1", 10)
    assert list(quiet.origins("p")) == []
    assert not quiet.rewind("p", {"a"})  # taken: nothing to resend
    assert cursors["p"] == ("e1", 10)


def test_a_quiet_prune_from_another_incarnation_of_the_peer_rewinds_to_its_log_start() -> None:
    cursors = {"p": ("old", 10)}
    quiet = QuietPrunes(cursors)
    quiet.note("p", {"a"})
    cursors["p"] = ("new", 7)  # the peer restarted: a new log
    assert quiet.rewind("p", {"a"}) and cursors["p"] == ("new", 0)


def test_a_quiet_prune_before_any_delta_rewinds_without_making_up_a_cursor() -> None:
    cursors: dict[str, tuple[str, int]] = {}
    quiet = QuietPrunes(cursors)
    quiet.note("p", {"a"})
    quiet.note("p", set())  # nothing pruned: nothing noted
    assert quiet.rewind("p", {"a"})  # the peer is asked to resend all the same
    assert cursors == {}
    assert not quiet.rewind("q", {"a"})


def test_the_notes_of_departed_peers_are_bounded_first_gone_first_dropped() -> None:
    """Notes of peers that went away were kept for ever (a node seeing peers come and go
    grew without bound): beyond MAX_DEPARTED peers without a live link, the notes of the
    peer that left first go, with the cursor on its log, so that its redial starts from
    the beginning of its log (a rewind without notes would leave its changes out)."""
    cursors = {f"p{k}": ("e", 10 + k) for k in range(MAX_DEPARTED + 2)}
    cursors["live"] = ("e", 5)
    peers = list(cursors)
    quiet = QuietPrunes(cursors)
    for peer in peers:
        quiet.note(peer, {"a"})
    quiet.linked(peers)  # all linked: nothing departed
    quiet.linked(["live", "p0", "p1"])  # MAX_DEPARTED departed: all kept
    assert all(list(quiet.origins(peer)) == ["a"] for peer in peers)
    quiet.linked(["live"])  # p0 and p1 leave after the others: two of those go
    kept = {peer for peer in peers if list(quiet.origins(peer))}
    dropped = set(peers) - kept
    assert len(dropped) == 2 and dropped.isdisjoint({"live", "p0", "p1"})
    assert all(peer not in cursors for peer in dropped)  # a redial starts afresh
    assert all(cursors[peer] == ("e", 10 + int(peer[1:])) for peer in kept - {"live"})
    # a departed peer that comes back is live again: never dropped while linked
    quiet.linked(["live", "p0"])
    for k in range(MAX_DEPARTED + 1):
        quiet.note(f"new{k}", {"b"})
    quiet.linked(["live", "p0"])
    assert list(quiet.origins("p0")) == ["a"] and cursors["p0"] == ("e", 10)
    assert list(quiet.origins("live")) == ["a"] and cursors["live"] == ("e", 5)


def test_a_departed_peer_whose_notes_a_rewind_took_is_not_dropped_later() -> None:
    cursors = {"gone": ("e", 3)} | {f"p{k}": ("e", 1) for k in range(MAX_DEPARTED)}
    quiet = QuietPrunes(cursors)
    quiet.note("gone", {"a"})
    quiet.linked([])
    assert quiet.rewind("gone", {"a"}) and cursors["gone"] == ("e", 3)
    for k in range(MAX_DEPARTED):
        quiet.note(f"p{k}", {"a"})
    quiet.linked([])  # MAX_DEPARTED with notes: "gone" has none, and keeps its cursor
    assert cursors["gone"] == ("e", 3)
    assert all(list(quiet.origins(f"p{k}")) == ["a"] for k in range(MAX_DEPARTED))


# ---------------------------------------------------------------- the frame


def test_a_prune_may_be_quiet_and_says_so_with_a_boolean() -> None:
    limit = ONE_SESSION.max_frame_bytes
    assert parse_frame(dump({"t": "prune", "origins": ["a"]}), limit) == Prune(("a",))
    quiet = parse_frame(dump({"t": "prune", "origins": ["a"], "quiet": True}), limit)
    assert quiet == Prune(("a",), quiet=True)
    for bad in (1, "yes", None):
        with pytest.raises(ProtocolViolation, match=r"prune\.quiet must be true or false"):
            parse_frame(dump({"t": "prune", "origins": ["a"], "quiet": bad}), limit)


# ---------------------------------------------------------------- the sender


async def test_changes_of_an_origin_pruned_quietly_are_left_out_and_resent_after_a_rewind() -> None:
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        await link.send(dump({"t": "prune", "origins": ["hub"], "quiet": True}))
        await link.send(_start(m.log.epoch))
        await hub.update_contact("c0", "left out")
        await hub.update_contact("c1", "left out too")
        sessions = hub._membership.sessions
        await wait_until(lambda: sessions["m"].scan >= hub.log.head, what="the log read")
        await wait_until(lambda: hub.metrics.items_left_out == 2, what="both left out")
        assert hub.metrics.items_announced_out == 0
        # the fake peer grafts the origin back and rewinds to the start of the log
        await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": []}))
        digest = {"t": "digest", "epoch": hub.log.epoch, "seq": 0, "head_epoch": m.log.epoch}
        await link.send(dump(digest | {"head": 0, "rewind": True}))
        items, have = await _deltas_until(link, hub.log.head)
        assert sorted(row[:2] for row in items) == [["c0", "left out"], ["c1", "left out too"]]
        assert have == []


async def test_a_reactive_prune_after_a_quiet_one_announces_again() -> None:
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        await link.send(dump({"t": "prune", "origins": ["hub"], "quiet": True}))
        await link.send(dump({"t": "prune", "origins": ["hub"]}))
        await link.send(_start(m.log.epoch))
        await hub.update_contact("c0", "announced")
        items, have = await _deltas_until(link, hub.log.head)
        assert items == [] and [row[0] for row in have] == ["c0"]


# ---------------------------------------------------------------- real nodes


async def test_values_left_out_while_the_parent_link_stalled_are_resent_when_it_fails() -> None:
    """n2 takes n0's values from n1 (through a proxy) and pruned n0 quietly on n3. The
    proxy stalls, n0 writes (n3 leaves those values out for n2; n1's copies sit in the
    stalled proxy), then the proxy fails: n3 becomes n0's parent for n2, which grafts n0
    there and rewinds, and n3 resends what it left out. No announcement exists for a
    graft to ask for, and none is waited for (``graft_delay`` 60 s)."""
    settings = attrs.evolve(ONE_SESSION, graft_delay=60.0)
    async with _square(settings) as (nets, proxy):
        n0, n2, n3 = nets[0], nets[2], nets[3]
        proxy.freeze()
        for k in range(20):
            await n0.update_contact(f"c{k}", k)
        n3_side = n3._membership.sessions["n2"]
        await wait_until(
            lambda: n3.value("c19", None) == 19 and n3_side.scan >= n3.log.head,
            what="n3 holding n0's values and done reading its log for n2",
        )
        assert n3.metrics.items_left_out >= 20 and n2.value("c19", None) is None
        proxy.cut()
        await wait_until(lambda: converged(nets), what="convergence")
        assert all(n2.value(f"c{k}") == k for k in range(20))
        assert n2.metrics.quiet_rewinds >= 1 and n2.metrics.grafts == 0
        assert n2.metrics.items_announced_in == 0


@pytest.mark.parametrize("max_departed", [MAX_DEPARTED, 0])
async def test_a_rewind_reaches_back_past_a_redial_of_the_quiet_link(
    max_departed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but n2's link to n3 (pruned quietly for n0) also goes through a proxy,
    and is cut and redialled between two bursts of n0's values, both left out by n3 for
    n2 while n2's parent link stalls: when that link fails, the rewind on n3 reaches back
    to the first quiet prune, before the redial, and both bursts arrive. With no notes
    kept for departed peers (``max_departed`` 0), n2 drops its notes on n3 and its cursor
    on n3's log when the link is cut: the redial starts from the start of n3's log, and
    both bursts arrive all the same."""
    monkeypatch.setattr("bassline.net.quiet_prunes.MAX_DEPARTED", max_departed)
    settings = attrs.evolve(ONE_SESSION, graft_delay=60.0)
    async with AsyncExitStack() as stack:
        n0, s0 = await stack.enter_async_context(node("n0", SPEC, settings=settings))
        assert s0.url is not None
        n1, s1 = await stack.enter_async_context(
            node("n1", SPEC, peers=[s0.url.ws], settings=settings)
        )
        assert s1.url is not None
        to_n1 = await stack.enter_async_context(TcpProxy(s1.url.port))
        n2, s2 = await stack.enter_async_context(
            node("n2", SPEC, peers=[to_n1.url], settings=settings)
        )
        assert s2.url is not None
        to_n2 = await stack.enter_async_context(TcpProxy(s2.url.port))
        n3, _ = await stack.enter_async_context(
            node("n3", SPEC, peers=[to_n2.url, s0.url.ws], settings=settings)
        )
        nets = [n0, n1, n2, n3]
        await wait_until(lambda: all(len(n.peers()) == 2 for n in nets), what="the square")
        await wait_until(lambda: _settled(nets), what="the tables and the pre-prunes")
        assert "n0" in n2._membership.sessions["n3"].prepruned
        to_n1.freeze()  # n2's parent link for n0 stalls

        async def burst(first: int) -> None:
            for k in range(first, first + 10):
                await n0.update_contact(f"c{k}", k)

            def left_out() -> bool:
                link = n3._membership.sessions.get("n2")
                return (
                    n3.value(f"c{first + 9}", None) == first + 9
                    and link is not None
                    and "n0" in link.quiet
                    and link.scan >= n3.log.head
                    # and n2's cursor on n3's log past it (an empty delta moves it)
                    and n2._replicator.cursor("n3")[1] >= n3.log.head
                )

            await wait_until(left_out, what="n3 holding the burst, n2's cursor past it")

        await burst(0)
        to_n2.cut()
        await wait_until(lambda: "n3" not in n2._membership.sessions, what="the quiet link cut")
        noted = list(n2._replicator.quiet.origins("n3"))
        if max_departed:
            assert "n0" in noted
        else:  # forgotten with the cursor: nothing left to rewind to, all to be resent
            assert noted == [] and n2._replicator.cursor("n3") == (None, 0)
        to_n2.restore()  # n3 redials; n2, its parent link only stalled, prunes n0 again
        await wait_until(lambda: "n3" in n2._membership.sessions, what="the redial")
        await burst(10)
        assert n2.value("c19", None) is None
        if max_departed:  # (else n3 may have resent the first burst before the prune)
            assert n2.value("c0", None) is None
        to_n1.cut()
        await wait_until(lambda: converged(nets), what="convergence")
        assert all(n2.value(f"c{k}") == k for k in range(20))
        assert n2.metrics.grafts == 0 and n2.metrics.items_announced_in == 0
