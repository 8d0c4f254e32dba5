"""How far a node confirms a peer's log when deltas arrive out of order.

A node keeps a cursor on each peer's change log and reports it in its digests: the peer
resends from there. The protocol promises that the cursor moves only over stretches the
node has applied in full and never backwards. A fake peer on a real link (it passes the
handshake, then sends hand-made delta frames) checks both: a delta that starts past the
cursor leaves a gap, so the node keeps its cursor and asks for a rewind; a delta that lies
entirely before the cursor changes nothing about how far the node has applied.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
import pytest

from bassline.clock import LOGICAL_BITS, HybridLogicalClock, Stamp
from bassline.net import BasslineNetwork
from bassline.net.handshake import handshake
from bassline.net.protocol import dump, encode_delta
from bassline.net.transport import Transport, dial

from .conftest import ONE_SESSION, flat, node, wait_until

pytestmark = pytest.mark.anyio

SPEC = flat(4)


async def _digests_until(link: Transport, done: Any, within: float = 30.0) -> list[dict[str, Any]]:
    """The digests the node sends, up to and including the first one ``done`` accepts."""
    seen: list[dict[str, Any]] = []
    with anyio.fail_after(within):
        while True:
            frame = orjson.loads(await link.receive())
            if frame.get("t") != "digest":
                continue
            seen.append(frame)
            if done(frame):
                return seen


@contextlib.asynccontextmanager
async def _linked(spec: Any) -> AsyncIterator[tuple[BasslineNetwork, BasslineNetwork, Transport]]:
    """A node ``target`` serving ``spec``, and a link to it that peer ``mallory`` has
    passed the handshake on (the test speaks for mallory over it)."""
    async with node("target", spec, settings=ONE_SESSION) as (target, server):
        assert server.url is not None
        async with (
            BasslineNetwork("mallory", spec, settings=ONE_SESSION) as mallory,
            dial(server.url, max_bytes=1 << 22) as link,
        ):
            await handshake(mallory, link, dialer=True)
            yield target, mallory, link


async def test_a_delta_with_a_gap_or_one_already_applied_never_moves_the_cursor_wrongly() -> None:
    clock = HybridLogicalClock("mallory")
    async with _linked(SPEC) as (target, mallory, link):
        epoch = mallory.log.epoch

        async def send(start: int, end: int, cid: str, value: str) -> None:
            items = [(cid, value, clock.tick())]
            await link.send(dump(encode_delta(epoch, start, end, items)))
            await wait_until(lambda: target.value(cid) == value, what=f"{cid} applied")

        # (0, 3]: applied in full, so the cursor is at 3
        await send(0, 3, "c0", "first")
        await _digests_until(link, lambda d: d["seq"] == 3)

        # (5, 6]: changes 4 and 5 are missing. The value is applied (it is the
        # current content), but the node must not confirm past 3: it asks for a
        # rewind from 3, and no digest ever claims more.
        await send(5, 6, "c1", "after a gap")
        seen = await _digests_until(link, lambda d: d["rewind"] or d["seq"] != 3)
        assert (seen[-1]["seq"], seen[-1]["rewind"]) == (3, True)
        assert seen[-1]["epoch"] == epoch

        # (0, 1]: entirely before the cursor. Applying it again is harmless, but the
        # node has still applied everything up to 3: a delta from 3 continues
        # without a gap, and the cursor moves on to 4 with no rewind asked for.
        await send(0, 1, "c2", "old news")
        await send(3, 4, "c3", "next")
        seen = await _digests_until(link, lambda d: d["rewind"] or d["seq"] != 3)
        assert (seen[-1]["seq"], seen[-1]["rewind"]) == (4, False)
        # every delta counted, with its items, applied in full or not
        assert (target.metrics.deltas_in, target.metrics.items_in) == (4, 4)


async def test_values_stamped_in_the_future_are_counted_logged_once_and_asked_for_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = HybridLogicalClock("mallory")
    now = clock.tick()
    ahead = Stamp(now.hlc + (3_600_000 << LOGICAL_BITS), "mallory")  # an hour ahead
    async with _linked(SPEC) as (target, mallory, link):
        epoch = mallory.log.epoch
        items = [("c0", "later", ahead), ("c1", "later", ahead), ("c2", "now", now)]
        await link.send(dump(encode_delta(epoch, 0, 2, items)))
        await link.send(dump(encode_delta(epoch, 0, 2, items)))  # and once more
        seen = await _digests_until(link, lambda d: d["rewind"] or d["seq"] != 0)
        assert (seen[-1]["seq"], seen[-1]["rewind"]) == (0, True)
        await wait_until(lambda: target.metrics.deltas_in == 2, what="both deltas")
    assert target.metrics.items_rejected == {"future-stamp": 4}
    assert target.values() == {"c2": "now"}  # the rest of the delta is applied
    logged = [r for r in caplog.records if "stamped in the future" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert (
        logged[0]
        .getMessage()
        .startswith(
            "peer 'mallory' sent a value stamped in the future, not applied (later ones are only "
            'counted, in items_rejected_total{reason="future-stamp"}): stamp from node '
            "'mallory' is "
        )
    )


async def test_values_of_the_wrong_kind_are_dropped_for_good_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = HybridLogicalClock("mallory")
    spec = flat(2, sets=1)  # s0 is a grow-set: a number or an object is not a set
    async with _linked(spec) as (target, mallory, link):
        epoch = mallory.log.epoch
        items = [("s0", 5, clock.tick()), ("c0", "fine", clock.tick())]
        items.append(("s0", {"not": "a set"}, clock.tick()))
        await link.send(dump(encode_delta(epoch, 0, 3, items)))
        # refused for good, not asked for again: the cursor passes the whole delta
        seen = await _digests_until(link, lambda d: d["rewind"] or d["seq"] != 0)
        assert (seen[-1]["seq"], seen[-1]["rewind"]) == (3, False)
        await link.send(dump(encode_delta(epoch, 3, 4, [("s0", 7, clock.tick())])))
        seen = await _digests_until(link, lambda d: d["rewind"] or d["seq"] != 3)
        assert (seen[-1]["seq"], seen[-1]["rewind"]) == (4, False)
    assert target.metrics.items_rejected == {"wrong-kind": 3}
    assert target.values() == {"c0": "fine"}  # the rest of the delta is applied
    assert not target.runtime.network.contradictions  # type: ignore[union-attr]
    logged = [r for r in caplog.records if "refuses" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].getMessage() == (
        "peer 'mallory' sent a value this node refuses, dropped (later ones are only "
        "counted, in items_rejected_total{reason=\"wrong-kind\"}): contact 's0': this number "
        "is not a value of the grow-set lattice (grow-set needs a list of elements, got 5)"
    )


async def test_each_peer_gets_its_own_log_line_for_each_kind_of_bad_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = flat(2, sets=1)
    async with node("target", spec, settings=ONE_SESSION) as (target, server):
        assert server.url is not None
        for sent, name in enumerate(("mallory", "trudy"), 1):
            clock = HybridLogicalClock(name)
            now = clock.tick()
            ahead = Stamp(now.hlc + (3_600_000 << LOGICAL_BITS), name)  # an hour ahead
            async with BasslineNetwork(name, spec, settings=ONE_SESSION) as peer:
                async with dial(server.url, max_bytes=1 << 22) as link:
                    await handshake(peer, link, dialer=True)
                    items = [("c0", "later", ahead), ("s0", 5, clock.tick())]
                    for _ in range(2):  # the second time, only counted
                        await link.send(dump(encode_delta(peer.log.epoch, 0, 2, items)))
                    await _digests_until(link, lambda d: d["rewind"])
                    await wait_until(
                        lambda n=2 * sent: target.metrics.deltas_in == n, what="both deltas"
                    )
    assert target.metrics.items_rejected == {"future-stamp": 4, "wrong-kind": 4}
    logged = sorted(
        r.getMessage().split(",")[0] for r in caplog.records if " sent a value " in r.getMessage()
    )
    assert logged == [
        "peer 'mallory' sent a value stamped in the future",
        "peer 'mallory' sent a value this node refuses",
        "peer 'trudy' sent a value stamped in the future",
        "peer 'trudy' sent a value this node refuses",
    ]


async def test_a_join_that_adds_to_what_a_peer_sent_goes_back_to_that_peer() -> None:
    spec = flat(1, sets=1)
    async with node("target", spec, settings=ONE_SESSION) as (target, server):
        assert server.url is not None
        await target.update_contact("s0", ["mine"])
        async with BasslineNetwork("mallory", spec, settings=ONE_SESSION) as mallory:
            epoch = mallory.log.epoch
            async with dial(server.url, max_bytes=1 << 22) as link:
                await handshake(mallory, link, dialer=True)
                stamp = HybridLogicalClock("mallory").tick()
                await link.send(dump(encode_delta(epoch, 0, 1, [("s0", ["theirs"], stamp)])))
                await wait_until(lambda: target.log.head == 2, what="the join")
                # mallory has none of target's log: target sends what mallory lacks, the
                # joined set (mallory sent only half of it), up to the head of its log
                digest = {"t": "digest", "epoch": None, "seq": 0, "rewind": False}
                await link.send(dump({**digest, "head_epoch": epoch, "head": 1}))
                with anyio.fail_after(30):
                    while True:
                        frame = orjson.loads(await link.receive())
                        if frame["t"] == "delta" and frame["to"] == 2:
                            break
                # (not an empty delta passing over it as if mallory had sent it all)
                joined = {"$type": "grow-set", "value": ["mine", "theirs"]}
                assert [item[:2] for item in frame["items"]] == [["s0", joined]]
