"""Eager and lazy push (protocol v3, decisions.md D56): frames, counts and bounds.

What goes into the frames: a delta that mixes values and announcements and is too big for
one frame is halved, each change sent or announced exactly once; a graft's reply is halved
to fit, leaves out contacts without content and a content too large for any frame, and is
counted as a delta; a prune names at most 1,000 origins. What a node notes: a stale copy
is neither redundant nor a sign the peer holds the newer change; values kept beside a
refused one and copies sent again stay the peer's; a reply at position 0 moves no cursor;
grafted values at the announced stamps end the wait, and a newer announcement does not
reset the tries; with lazy push off, or a full queue, no prune is noted. Fake peers on
real links (see ``test_lazy_push``) make the order certain. Written for the mutants that
survived the gossip sets' runs on protocol v3 (docs/testing.md).
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest

from bassline.clock import HybridLogicalClock
from bassline.net import BasslineNetwork
from bassline.net.handshake import handshake
from bassline.net.protocol import dump, encode_delta
from bassline.net.transport import dial

from .conftest import ONE_SESSION, flat, node, wait_until
from .test_lazy_push import _deltas_until, _frame, _hub_and_peer, _hub_and_two_peers, _start
from .test_reports import _concat

pytestmark = pytest.mark.anyio

SPEC_SMALL = flat(4)
BIG = 20_000
"""A value's size: three fit a frame of 64 KiB, four do not."""


async def _replies(link: Any, wanted: int) -> list[dict[str, Any]]:
    """The graft replies (deltas at the peer's position, ``from`` = ``to``) the node sends
    until they carry ``wanted`` items (the log's own deltas are skipped)."""
    replies: list[dict[str, Any]] = []
    while sum(len(r["items"]) for r in replies) < wanted:
        delta = await _frame(link, "delta")
        if delta["from"] == delta["to"]:
            replies.append(delta)
    return replies


async def test_a_delta_of_values_and_announcements_too_big_for_a_frame_is_halved_each_once() -> (
    None
):
    """Values of another origin (sent) and the node's own writes (announced: the peer
    pruned the node) alternate in the log; halved, each change is sent or announced exactly
    once, none twice and none left out."""
    settings = attrs.evolve(ONE_SESSION, max_frame_bytes=64 * 1024)
    other = HybridLogicalClock("other")
    sent: list[str] = []
    announced: list[str] = []
    async with _hub_and_peer(settings) as (hub, m, link):
        for k in range(4):  # the log: one value of "other", then three of the hub's own
            cid = f"c{4 * k}"
            await hub.apply([(cid, str(k) * BIG, other.tick())])
            sent.append(cid)
            for j in range(1, 4):
                await hub.update_contact(f"c{4 * k + j}", j)
                announced.append(f"c{4 * k + j}")
        await link.send(dump({"t": "prune", "origins": ["hub"]}))
        await link.send(_start(m.log.epoch))
        items: list[Any] = []
        have: list[Any] = []
        deltas = 0
        while True:
            delta = await _frame(link, "delta")
            assert len(dump(delta)) <= settings.max_frame_bytes
            deltas += 1
            items += delta["items"]
            have += delta.get("have", [])
            if delta["to"] >= hub.log.head:
                break
        assert deltas == 2  # sixteen changes, halved once: eight and eight

        def written() -> bool:  # once written, each counted as a delta, with its values
            out = hub.metrics
            return (out.messages_out["delta"], out.deltas_out, out.items_out) == (2, 2, 4)

        await wait_until(written, what="the two deltas counted")
        assert [row[0] for row in items] == sent
        assert [row[0] for row in have] == announced
        assert hub.metrics.items_announced_out == len(announced)


async def test_a_graft_reply_is_halved_to_the_most_that_fits() -> None:
    """Six values of 20 KB asked for in one graft, frames of 64 KiB: the reply is halved
    once, to two frames of three (docs/protocol.md: halved until it fits)."""
    settings = attrs.evolve(ONE_SESSION, max_frame_bytes=64 * 1024)
    asked = [f"c{i}" for i in range(1, 7)]
    async with _hub_and_peer(settings) as (hub, m, link):
        await hub.update_many({cid: cid * (BIG // 2) for cid in asked})
        await link.send(_start(m.log.epoch))
        await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": asked}))
        replies = await _replies(link, len(asked))
        assert [[row[0] for row in r["items"]] for r in replies] == [asked[:3], asked[3:]]
        assert all(len(dump(r)) <= settings.max_frame_bytes for r in replies)


async def test_a_graft_reply_leaves_out_contacts_without_content_and_sends_the_rest() -> None:
    """A graft may name a contact the node holds nothing for (its value was refused, or
    the peer asks again): no frame answers only such contacts, and one among others does
    not stop the others from being sent."""
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        session = sessions["m"]
        await hub.update_contact("c1", "own")
        await link.send(_start(m.log.epoch))
        await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": ["c5"]}))

        def answered() -> bool:  # read by the link, and taken by its pusher
            return hub.metrics.messages_in["graft"] == 1 and not session.requested

        await wait_until(answered, what="the first graft answered")
        graft = {"t": "graft", "origins": ["hub"], "contacts": ["c6", "c1", "c7"]}
        await link.send(dump(graft))
        replies = await _replies(link, 1)  # no empty reply before the one with c1
        assert [[row[:2] for row in r["items"]] for r in replies] == [[["c1", "own"]]]

        def written() -> bool:  # the log's delta and the reply, each counted as a delta
            out = hub.metrics
            return (out.messages_out["delta"], out.deltas_out, out.items_out) == (2, 2, 2)

        await wait_until(written, what="the log's delta and the reply counted")


async def test_a_stale_copy_is_not_redundant_and_the_newer_change_is_still_sent() -> None:
    """The peer sends a contact's value with an older stamp than the node's (an equal
    value written twice): it changes nothing, is not counted as redundant, and the peer
    is not taken as holding the node's newer change, which it is still sent."""
    writer = HybridLogicalClock("writer")
    older = writer.tick()
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        epoch = m.log.epoch
        copy = [("c0", "copy", writer.tick())]
        await hub.apply(copy)
        await link.send(dump(encode_delta(epoch, 0, 1, copy)))  # held already: redundant
        await wait_until(lambda: hub.metrics.items_redundant == 1, what="the redundant copy")
        await hub.update_contact("c1", "same")
        newer = hub.contact("c1").stamp
        assert older < newer
        stale = [("c2", "fresh", writer.tick()), ("c1", "same", older)]
        await link.send(dump(encode_delta(epoch, 1, 3, stale)))
        await wait_until(lambda: hub.value("c2", None) == "fresh", what="the fresh value")
        await link.send(_start(epoch))  # read after the stale delta was applied
        items, _ = await _deltas_until(link, hub.log.head)
        assert [row[:2] for row in items] == [["c1", "same"]]
        assert hub.metrics.items_redundant == 1
        assert hub.contact("c1").stamp == newer


async def test_grafted_values_at_exactly_the_announced_stamps_end_the_wait() -> None:
    """Two lacked changes are asked for in one graft frame; the reply carries the
    announced changes themselves: they are held, so they are not asked for again (a graft
    each ``graft_delay`` until ``GRAFT_TRIES`` would otherwise follow)."""
    settings = attrs.evolve(ONE_SESSION, graft_delay=1.0)
    clock = HybridLogicalClock("writer")
    lacked = [("c1", clock.tick()), ("c2", clock.tick())]
    async with _hub_and_peer(settings) as (hub, m, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        session = sessions["m"]
        epoch = m.log.epoch
        await link.send(dump(encode_delta(epoch, 0, 1, [], None, lacked)))
        assert await _frame(link, "graft") == {
            "t": "graft",
            "origins": ["writer"],
            "contacts": ["c1", "c2"],
        }
        # counted as a graft once written (after the peer may have read it)
        await wait_until(lambda: hub.metrics.messages_out["graft"] == 1, what="graft counted")
        reply = [(cid, f"lacked {cid}", stamp) for cid, stamp in lacked]
        await link.send(dump(encode_delta(epoch, 1, 1, reply)))
        await wait_until(lambda: not session.wanted, within=30, what="the wait ended")
        assert [(hub.value(cid), hub.contact(cid).stamp) for cid, _ in lacked] == [
            (value, stamp) for _, value, stamp in reply
        ]
        assert hub.metrics.grafts == 1


async def test_values_applied_beside_a_refused_one_are_not_sent_back_to_their_sender() -> None:
    """A delta with a value of the wrong kind for its contact: the engine refuses the whole
    run, the items are checked one by one and the rest applied, still as the peer's (not
    echoed back to it, and not counted as copies it held already)."""
    spec = flat(4, sets=1)
    writer = HybridLogicalClock("writer")
    async with _hub_and_peer(ONE_SESSION, spec) as (hub, m, link):
        sent = [("c0", "kept", writer.tick()), ("s0", "not a list", writer.tick())]
        await link.send(dump(encode_delta(m.log.epoch, 0, 2, sent)))
        await wait_until(lambda: hub.value("c0", None) == "kept", what="the kept value")
        assert hub.value("s0", None) is None
        assert hub.metrics.items_rejected["wrong-kind"] == 1
        await hub.update_contact("c1", "own")
        await link.send(_start(m.log.epoch))
        items, _ = await _deltas_until(link, hub.log.head)
        assert [row[:2] for row in items] == [["c1", "own"]]
        assert hub.metrics.items_redundant == 0  # applied as the peer's, not found held


async def test_a_prune_names_at_most_a_thousand_origins() -> None:
    """Copies of 1,001 origins' values, all held already, in one delta: the prune names
    1,000 of them (the most a peer accepts in one frame, ``MAX_ORIGINS``); the one left
    is asked for at its next copy."""
    spec = flat(1001)
    copies = [(f"c{i}", i, HybridLogicalClock(f"o{i:04d}").tick()) for i in range(1001)]
    async with node("hub", spec, settings=ONE_SESSION) as (hub, server):
        assert server.url is not None
        await hub.apply(copies)
        async with (
            BasslineNetwork("m", spec, settings=ONE_SESSION) as m,
            dial(server.url, max_bytes=1 << 22) as link,
        ):
            await handshake(m, link, dialer=True)
            await link.send(dump(encode_delta(m.log.epoch, 0, 1001, copies)))
            prune = await _frame(link, "prune")
            assert prune["origins"] == sorted(f"o{i:04d}" for i in range(1001))[:1000]


async def test_a_peer_may_have_at_most_ten_thousand_grafted_contacts_waiting() -> None:
    """Contacts a peer grafts wait for the link's pusher (here never started: the peer
    sends no digest); a graft that would take them past 10,000 is ignored (the peer asks
    again)."""
    async with _hub_and_peer(ONE_SESSION) as (hub, _, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        requested = sessions["m"].requested
        for k in range(5):  # 5 x 2,000 contacts (the most one graft may name)
            contacts = [f"x{k * 2000 + i:05d}" for i in range(2000)]
            await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": contacts}))
        await wait_until(lambda: hub.metrics.messages_in["graft"] == 5, what="five grafts")
        assert len(requested) == 10_000
        await link.send(dump({"t": "graft", "origins": ["hub"], "contacts": ["one-too-many"]}))
        await wait_until(lambda: hub.metrics.messages_in["graft"] == 6, what="the last graft")
        assert len(requested) == 10_000 and "one-too-many" not in requested


async def test_a_graft_reply_first_on_a_new_log_moves_no_cursor() -> None:
    """A reply sits at the peer's position (``from`` = ``to``): the first frame of a
    peer's log may be one at position 0, and this node then has applied none of that
    log (were it counted as one change, the peer's first change would never be sent)."""
    writer = HybridLogicalClock("writer")
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        epoch = m.log.epoch
        await link.send(dump(encode_delta(epoch, 0, 0, [("c1", "grafted", writer.tick())])))
        # the cursor takes the new epoch and its position at once, after the items
        await wait_until(lambda: hub.cursor("m")[0] == epoch, what="the reply applied")
        assert hub.cursor("m") == (epoch, 0) and hub.value("c1") == "grafted"
        await link.send(dump(encode_delta(epoch, 0, 1, [("c2", "first", writer.tick())])))
        await wait_until(lambda: hub.cursor("m") == (epoch, 1), what="the first change")
        assert hub.value("c2") == "first"


async def test_a_copy_sent_again_by_a_peer_that_was_not_first_prunes_it_no_more() -> None:
    """m2 was pruned for an origin, yet a value it sent before the prune reached the node
    came first; m1's copy of it is not met with a prune (m1 may carry that origin alone),
    and neither is m1 sending the same copy again (a resent delta): m1 is not among the
    peers that had it before."""
    clock = HybridLogicalClock("writer")
    first, second = clock.tick(), clock.tick()
    async with _hub_and_two_peers(SPEC_SMALL) as (hub, m1, link1, m2, link2):
        await link1.send(dump(encode_delta(m1.log.epoch, 0, 1, [("c0", "a", first)])))
        await wait_until(lambda: hub.value("c0", None) == "a", what="c0 applied")
        await link2.send(dump(encode_delta(m2.log.epoch, 0, 1, [("c0", "a", first)])))
        assert await _frame(link2, "prune") == {"t": "prune", "origins": ["writer"]}
        late = [("c1", "b", second)]  # sent by m2 before it read the prune
        await link2.send(dump(encode_delta(m2.log.epoch, 1, 2, late)))
        await wait_until(lambda: hub.value("c1", None) == "b", what="c1 applied")
        for _ in range(2):  # m1's copy, then the same again
            await link1.send(dump(encode_delta(m1.log.epoch, 1, 2, late)))
        await wait_until(lambda: hub.metrics.items_redundant == 3, what="m1's copies")
        assert hub._membership.sessions["m1"].pruned == set()


async def test_a_grafted_content_too_large_for_a_frame_is_left_out_and_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A graft asks for a derived content too large to gossip (``out``, the concatenation
    of two inputs that each fit) first: it is counted and logged by name, once, and the
    other contacts the graft named are still sent."""
    settings = attrs.evolve(ONE_SESSION, max_frame_bytes=10_000)
    spec = _concat()
    half = "x" * 5800
    async with node("hub", spec, settings=settings) as (hub, server):  # type: ignore[arg-type]
        assert server.url is not None
        await hub.update_many({"a": half, "b": half})
        await wait_until(lambda: hub.value("out", None) == half * 2, what="the large output")
        async with (
            BasslineNetwork("m", spec, settings=settings) as m,  # type: ignore[arg-type]
            dial(server.url, max_bytes=1 << 22) as link,
        ):
            await handshake(m, link, dialer=True)
            # the peer has the hub's whole log: only the graft's reply is sent
            position = {"epoch": hub.log.epoch, "seq": hub.log.head}
            head = {"head_epoch": m.log.epoch, "head": 0, "rewind": False}
            await link.send(dump({"t": "digest", **position, **head}))
            graft = {"t": "graft", "origins": ["hub"], "contacts": ["out", "a", "b"]}
            await link.send(dump(graft))
            replies = await _replies(link, 2)
        assert sorted(row[0] for r in replies for row in r["items"]) == ["a", "b"]
        assert hub.metrics.oversized_values == 1
        logged = [
            r.getMessage().partition(" is too large")[0]
            for r in caplog.records
            if r.name == "bassline.net" and r.levelno == logging.ERROR
        ]
        assert logged == ["content of 'out'"]


async def test_a_change_announced_again_while_wanted_is_still_asked_for_three_times_in_all() -> (
    None
):
    """A newer announcement of a contact already wanted replaces the stamp wanted but not
    the tries made: ``GRAFT_TRIES`` (3) grafts in all, never answered, then given up."""
    settings = attrs.evolve(ONE_SESSION, graft_delay=0.3)
    clock = HybridLogicalClock("writer")
    older, newer = clock.tick(), clock.tick()
    async with _hub_and_peer(settings) as (hub, m, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        session = sessions["m"]
        epoch = m.log.epoch
        await link.send(dump(encode_delta(epoch, 0, 1, [], None, [("c1", older)])))
        await _frame(link, "graft")
        await link.send(dump(encode_delta(epoch, 1, 2, [], None, [("c1", newer)])))
        await wait_until(lambda: session.wanted["c1"][0] == newer, what="the newer wanted")
        await wait_until(lambda: not session.wanted, what="the change given up")
        assert hub.metrics.grafts == 3


async def test_a_node_with_lazy_push_off_never_asks_a_peer_to_prune() -> None:
    """``lazy_push=False``: a copy the node holds already is still dropped and counted,
    but no prune is asked for."""
    settings = attrs.evolve(ONE_SESSION, lazy_push=False)
    copy = [("c0", "same", HybridLogicalClock("writer").tick())]
    async with _hub_and_peer(settings) as (hub, m, link):
        sessions = hub._membership.sessions
        await wait_until(lambda: "m" in sessions, what="the hub's session")
        await hub.apply(copy)
        await link.send(dump(encode_delta(m.log.epoch, 0, 1, copy)))
        await wait_until(lambda: hub.metrics.items_redundant == 1, what="the redundant copy")
        assert sessions["m"].pruned == set()


async def test_a_prune_that_finds_the_queue_full_is_not_taken_as_asked() -> None:
    """The reader does not wait for room in its own link's queue: a prune that finds it
    full is left out, and the origin is not noted as pruned (it is asked for at the next
    copy). The peer here reads nothing while the node pushes 3 MB contents, one to a
    frame, until its writer blocks (as in ``test_session_ends``)."""
    settings = attrs.evolve(ONE_SESSION, send_queue_frames=1, max_frame_bytes=1 << 22)
    spec = flat(17)
    copy = [("c16", "same", HybridLogicalClock("writer").tick())]
    async with node("hub", spec, settings=settings) as (hub, server):
        assert server.url is not None
        async with (
            BasslineNetwork("m", spec, settings=settings) as m,
            dial(server.url, max_bytes=1 << 23) as link,
        ):
            await handshake(m, link, dialer=True)  # then reads nothing
            await link.send(_start(m.log.epoch))
            for i in range(16):
                await hub.update_contact(f"c{i}", chr(ord("a") + i) * 3_000_000)
            seen, still = [-1], [0]

            def stuck() -> bool:  # a frame waiting and nothing written over several polls
                [info] = hub.peers()
                written = hub.metrics.bytes_out
                still[0] = still[0] + 1 if written == seen[0] else 0
                seen[0] = written
                return info.queue_depth >= 1 and still[0] >= 5

            await wait_until(stuck, within=60, what="the writer blocked")
            # the pusher holds its frame, stuck on the socket: heartbeats fill the queue
            while hub._membership.sessions["m"].enqueue_nowait("hb", b'{"t":"hb"}'):
                pass
            await hub.apply(copy)
            await link.send(dump(encode_delta(m.log.epoch, 0, 1, copy)))
            await wait_until(lambda: hub.metrics.items_redundant == 1, what="the copy")
            assert hub._membership.sessions["m"].pruned == set()


async def test_changes_a_peer_announces_at_the_stamps_held_here_are_not_sent_to_it() -> None:
    """The peer announces, without values, changes the node holds at those very stamps
    (read together, as every announcement usually is): the peer holds them too, so the
    node sends it only the change it announced nothing of."""
    async with _hub_and_peer(ONE_SESSION) as (hub, m, link):
        await hub.update_many({"c0": "a", "c1": "b", "c2": "c"})
        have = [("c0", hub.contact("c0").stamp), ("c1", hub.contact("c1").stamp)]
        await link.send(dump(encode_delta(m.log.epoch, 0, 0, [], None, have)))
        await link.send(_start(m.log.epoch))  # read after the announcements were noted
        items, announced = await _deltas_until(link, hub.log.head)
        assert [row[:2] for row in items] == [["c2", "c"]] and announced == []
