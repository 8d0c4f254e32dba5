"""How one gossip link is counted and how it ends, one session driven over a real socket.

The other side of each link is a real node on 127.0.0.1. This side is either a node too
or the test itself: it dials, passes the handshake as a node that is not served
(``mallory``), and then runs the link as that node's session, reads nothing, or holds a
second link open. Each end is checked on both sides: what this node counts and logs, and
what the peer learns (a goodbye, or the WebSocket close frame's code and reason).
"""

from __future__ import annotations

import logging

import anyio
import attrs
import orjson
import pytest

from bassline.net import BasslineNetwork
from bassline.net.handshake import handshake
from bassline.net.peer import PeerSession
from bassline.net.protocol import Hello, dump
from bassline.net.transport import Transport, dial

from .conftest import ONE_SESSION, flat, node, wait_until

pytestmark = pytest.mark.anyio

SPEC = flat(2)
QUIET = attrs.evolve(
    ONE_SESSION,
    heartbeat_interval=30.0,
    heartbeat_timeout=120.0,
    anti_entropy_interval=30.0,
    peer_exchange_interval=30.0,
)
"""No periodic frame during a test: each side sends a digest and a peers list, then only
what the test causes."""


def _closed_lines(caplog: pytest.LogCaptureFixture, peer: str) -> list[str]:
    start = f"link to {peer} closed"
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(start)]


async def _frame_of_kind(link: Transport, kind: str) -> None:
    with anyio.fail_after(30):
        while orjson.loads(await link.receive())["t"] != kind:
            pass


async def test_each_side_counts_the_frames_of_the_link(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bassline.net")
    async with node("target", SPEC, settings=QUIET) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", SPEC, settings=QUIET) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                hello = await handshake(mallory, link, dialer=True)
                async with anyio.create_task_group() as tg:
                    # a session of mallory's own, run on this link until it is cancelled
                    tg.start_soon(_run_session, mallory, link, hello)
                    await mallory.update_contact("c0", "from mallory")
                    await wait_until(lambda: target.value("c0") == "from mallory", what="c0")
                    # target: in, a links table, a digest, a peers list and the delta;
                    # out, its links table, digest and peers list (QUIET sends nothing more)
                    nodes = (target, mallory)
                    await wait_until(
                        lambda: all(sum(n.metrics.messages_in.values()) >= 4 for n in nodes),
                        what="both opening exchanges read",
                    )
                    [theirs], [mine] = target.peers(), mallory.peers()
                    assert (theirs.frames_in, theirs.frames_out) == (4, 3)
                    assert (mine.frames_in, mine.frames_out) == (3, 4)
                    # each frame counted under its kind (the hello in the handshake)
                    opening = {"hello": 1, "links": 1, "digest": 1, "peers": 1}
                    assert target.metrics.messages_out == opening
                    assert mallory.metrics.messages_out == {**opening, "delta": 1}
                    assert target.metrics.messages_in == {**opening, "delta": 1}
                    assert target.metrics.anti_entropy_rounds == 1
                    # bytes as they crossed the wire (a dialler's frames are masked)
                    assert target.metrics.bytes_in == mallory.metrics.bytes_out
                    assert mallory.metrics.bytes_in == target.metrics.bytes_out
                    # ended from outside, neither stopped nor for a reason of its own
                    tg.cancel_scope.cancel()
        await wait_until(lambda: not target.peers(), what="the target's side ended")
    assert mallory.metrics.disconnects == {"closed": 1}
    assert "bye" not in mallory.metrics.messages_out  # a goodbye only when stopped
    assert _closed_lines(caplog, "target") == ["link to target closed (closed)"]
    # the peer learns it from the close frame: code 1000, reason "closed"
    assert target.metrics.disconnects == {"connection-lost": 1}
    lost = "connection-lost: connection closed (code 1000: closed)"
    assert _closed_lines(caplog, "mallory") == [f"link to mallory closed ({lost})"]


async def _run_session(net: BasslineNetwork, link: Transport, hello: Hello) -> None:
    membership = net._membership  # the node's own links: the session registers there
    await membership.run_session(link, hello, dialer=True, opened=anyio.current_time())


async def test_a_session_stopped_before_it_runs_says_goodbye_and_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bassline.net")
    async with node("target", SPEC, settings=QUIET) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", SPEC, settings=QUIET) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                hello = await handshake(mallory, link, dialer=True)
                session = PeerSession(
                    mallory._membership, mallory._replicator, link, hello, dialer=True
                )
                assert session.opened == session.connected_at  # no handshake start given
                session.stop("changed my mind")
                with anyio.fail_after(30):
                    await session.run()
            await wait_until(lambda: not target.peers(), what="the target's side ended")
    assert session.end_reason == ""
    assert mallory.metrics.disconnects == {"stopped": 1}
    assert mallory.metrics.messages_out == {"hello": 1, "bye": 1}  # nothing else was sent
    assert _closed_lines(caplog, "target") == ["link to target closed (changed my mind)"]
    assert target.metrics.disconnects == {"peer-left": 1}
    told = "peer-left: mallory said goodbye: changed my mind"
    assert _closed_lines(caplog, "mallory") == [f"link to mallory closed ({told})"]


async def test_a_stop_gives_up_the_goodbye_to_a_peer_that_stopped_reading() -> None:
    # every content is 3 MB and each delta frame holds one: 48 MB in all, more than the
    # socket buffers between the two ends can hold, so the node's writer blocks
    settings = attrs.evolve(QUIET, send_queue_frames=1, max_frame_bytes=1 << 22)
    spec = flat(16)
    async with node("target", spec, settings=settings) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", spec, settings=settings) as mallory:
            async with dial(server.url, max_bytes=1 << 23) as link:
                await handshake(mallory, link, dialer=True)  # then reads nothing
                # a digest saying mallory has nothing of target's log: target pushes it all
                digest = {"t": "digest", "epoch": None, "seq": 0, "rewind": False}
                await link.send(dump({**digest, "head_epoch": mallory.log.epoch, "head": 0}))
                for i in range(16):
                    await target.update_contact(f"c{i}", chr(ord("a") + i) * 3_000_000)
                seen = [-1]
                still = [0]

                def stuck() -> bool:
                    # the queue full and nothing written over several polls in a row
                    [info] = target.peers()
                    written = target.metrics.bytes_out
                    still[0] = still[0] + 1 if written == seen[0] else 0
                    seen[0] = written
                    return info.queue_depth == 1 and still[0] >= 5

                await wait_until(stuck, within=60, what="the writer blocked")
                assert target.metrics.messages_out["delta"] < 16
                # the goodbye cannot be written; the stop waits shutdown_grace for it
                await target.close_inbound("maintenance")
                await wait_until(lambda: not target.peers(), what="the link ended")
                assert target.metrics.disconnects == {"stopped": 1}


async def test_the_second_link_of_a_simultaneous_dial_replaces_the_first() -> None:
    # "a" dials "z" (this test's link, with a's identity) and, before that link's
    # handshake, "z" dials "a": z's own link is established after a's was opened, and
    # a has the smaller id, so z keeps a's link and stops its own
    async with (
        node("a", SPEC, settings=QUIET) as (a, a_server),
        node("z", SPEC, settings=QUIET) as (z, z_server),
    ):
        assert a_server.url is not None and z_server.url is not None
        async with dial(z_server.url, max_bytes=1 << 22) as link:  # opened now
            await z.connect_to_peer(a_server.url.ws, wait=True)
            [first] = z.peers()
            assert (first.node, first.direction) == ("a", "out")
            await handshake(a, link, dialer=True)
            await _frame_of_kind(link, "digest")  # z serves the link
            await wait_until(lambda: z.metrics.disconnects["stopped"] == 1, what="the first")
            [kept] = z.peers()
            assert (kept.node, kept.direction) == ("a", "in")
            assert z.metrics.refused == {}
            await wait_until(lambda: a.metrics.disconnects["peer-left"] == 1, what="a told")


async def test_a_peer_that_sent_no_digest_yet_is_sent_nothing_and_has_confirmed_nothing() -> None:
    async with node("target", SPEC, settings=ONE_SESSION) as (target, server):
        assert server.url is not None
        await target.update_contact("c0", "one")
        await target.update_contact("c1", "two")
        async with BasslineNetwork("mallory", SPEC, settings=ONE_SESSION) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                await handshake(mallory, link, dialer=True)  # and no digest: mallory is silent
                kinds: list[str] = []
                with anyio.fail_after(30):
                    while kinds.count("digest") < 3:  # the first, then two anti-entropy rounds
                        kinds.append(orjson.loads(await link.receive())["t"])
                # no delta before the peer says where it is, not even an empty one
                assert "delta" not in kinds
                [info] = target.peers()
                assert (info.behind, info.lagging) == (2, 0)


async def test_a_quiet_link_carries_heartbeats_counted_as_such() -> None:
    beating = attrs.evolve(QUIET, heartbeat_interval=0.05)
    async with node("target", SPEC, settings=beating) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", SPEC, settings=beating) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                await handshake(mallory, link, dialer=True)  # then silent
                for _ in range(3):
                    await _frame_of_kind(link, "hb")
                await wait_until(
                    lambda: target.metrics.messages_out["hb"] >= 3, what="the beats counted"
                )
                # nothing else: its links table, one digest and one peers list, at the start
                kinds = {"hello", "links", "digest", "peers", "hb"}
                assert set(target.metrics.messages_out) == kinds
                assert target.metrics.messages_out["digest"] == 1
                assert target.metrics.messages_out["links"] == 1


async def test_the_peers_list_sent_is_cut_to_the_protocols_limit() -> None:
    async with node("target", SPEC, settings=QUIET) as (target, server):
        assert server.url is not None
        target.learn_peers([(f"n{i:04}", f"ws://127.0.0.1:{1024 + i}/") for i in range(1001)])
        async with BasslineNetwork("mallory", SPEC, settings=QUIET) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                await handshake(mallory, link, dialer=True)
                with anyio.fail_after(30):
                    while (frame := orjson.loads(await link.receive()))["t"] != "peers":
                        pass
                assert len(frame["peers"]) == 1000
                assert frame["peers"][0] == ["n0000", "ws://127.0.0.1:1024"]


async def test_a_silent_peer_is_dropped_with_how_long_it_was_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bassline.net")
    watchful = attrs.evolve(QUIET, heartbeat_interval=0.1, heartbeat_timeout=0.4)
    async with node("target", SPEC, settings=watchful) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", SPEC, settings=watchful) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                await handshake(mallory, link, dialer=True)  # then silent
                await wait_until(lambda: target.metrics.disconnects, what="the link dropped")
    assert target.metrics.disconnects == {"heartbeat-timeout": 1}
    [line] = _closed_lines(caplog, "mallory")
    said = "link to mallory closed (heartbeat-timeout: no frame from mallory for "
    assert line.startswith(said) and line.endswith("s)")


async def test_the_peers_list_is_sent_again_every_peer_exchange_interval() -> None:
    # the ticker wakes every half heartbeat interval: short, so the exchange is on time
    chatty = attrs.evolve(QUIET, heartbeat_interval=0.05, peer_exchange_interval=0.05)
    async with node("target", SPEC, settings=chatty) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", SPEC, settings=chatty) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                await handshake(mallory, link, dialer=True)
                for _ in range(3):  # the first, then two exchanges
                    await _frame_of_kind(link, "peers")
                assert target.peers() and not target.metrics.disconnects
