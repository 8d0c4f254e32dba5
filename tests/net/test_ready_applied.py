"""A peer's delta applied as it was sent is cached as made ready to send as it is
recorded (``delta_entries.cache_sent``): a link forwarding it takes each change from
the cache (``_all_cached``) without reading the runtime, so the cache must hold what
making the change ready from the runtime gives (value, stamp, JSON form, log position,
justification on the wire), and the frames built must be the ones built without it."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.clock import LOGICAL_BITS, Stamp
from bassline.codec import to_json
from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.protocol import Delta
from bassline.net.replicator import Replicator
from bassline.net.settings import GossipSettings
from bassline.net.wire_whys import WhyRef
from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage
from tests.net.test_applied_notes import SPEC, Link

CONTACTS = [c.id for c in SPEC.contacts]
THEN = (time.time_ns() // 1_000_000 - 1_000) << LOGICAL_BITS  # a second ago
WHYS = {
    "write": WhyRef("w", via="http"),
    "other": WhyRef("w", via="sync"),
    "none": None,
    "kept": WhyRef("w", via="http", kept=Stamp(THEN - 5, "p1")),
}

item = st.tuples(
    st.sampled_from([*CONTACTS, *["b", "d", "m"] * 4]),
    st.sampled_from([1, 2, 2.5, "x", "é", [1, "y"], {"k": "v"}, {"$type": 1}]),  # escaped
    st.integers(0, 6),
    st.sampled_from(["p1", "p2"]),
)
step = st.one_of(
    st.tuples(
        st.just("delta"),
        st.lists(item, min_size=1, max_size=4),
        st.sampled_from(["write", "write", "other", "none", "kept"]),
        st.sampled_from(["p", "q"]),
    ),
    st.tuples(st.just("update"), st.sampled_from(["a", "b", "m", "c"]), st.sampled_from([1, 4])),
)


async def _frames(replicator: Replicator, link: Link) -> list[bytes]:
    frames = []
    while link.scan < replicator.log.head:
        frame, _, link.scan = replicator.build_delta(link)  # type: ignore[arg-type]
        if frame is not None:
            link.announced = link.scan
            frames.append(frame)
    return frames


async def _run(steps: list[Any], lazy: bool) -> int:
    """Apply ``steps``; check every current cache entry after each; build a link's
    frames with the cache and without it. How many entries were made ready as recorded."""
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(open_storage("memory://"))
        runtime = await stack.enter_async_context(StorageBackedRuntime(SPEC, storage, node_id="n"))
        replicator = Replicator("n", GossipSettings(), NetMetrics(), ChangeLog())
        replicator.attach(runtime)
        log, cache, codec = replicator.log, replicator._json_cache, replicator._codec
        assert codec is not None
        ready = 0
        for kind, *rest in steps:
            if kind == "update":
                await runtime.update_many({rest[0]: rest[1]})
                continue
            rows, how, peer = rest
            items = tuple((cid, v, Stamp(THEN + t, o)) for cid, v, t, o in rows)
            delta = Delta("e" * 16, 0, 0, items, (WHYS[how],) * len(items))
            head = log.head
            await replicator.apply_delta(Link(peer), delta)  # type: ignore[arg-type]
            changed = [cid for cid in CONTACTS if log.seq_of(cid) > head]
            current = [cid for cid in changed if cid in cache and cache[cid][3] == log.seq_of(cid)]
            ready += len(current)
            for cid in CONTACTS:
                hit = cache.get(cid)
                if hit is None or hit[3] != log.seq_of(cid):
                    continue  # not current: never taken (a cache miss)
                value, stamp = runtime.stamped(cid)
                why = codec.to_wire(cid, runtime.carried_justification(cid))
                assert hit == (value, stamp, to_json(value), log.seq_of(cid), why), cid
                assert type(hit[2]) is type(to_json(value))
        link = Link("z")
        if lazy:
            link.lazy, link.quiet = {"p1"}, {"p1"}
        cached = await _frames(replicator, link)
        cache.clear()
        link.scan = link.announced = 0
        assert await _frames(replicator, link) == cached
        return ready


@settings(max_examples=120, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=8), lazy=st.booleans())
def test_a_change_made_ready_as_recorded_is_what_the_runtime_holds(
    steps: list[Any], lazy: bool
) -> None:
    anyio.run(_run, steps, lazy)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_peers_plain_write_is_made_ready_as_recorded_and_others_are_not(backend: str) -> None:
    """A shared plain write of ASCII strings on contacts no wire or gadget sets is made
    ready for its log entry as it is recorded; other values (converted to JSON only when
    a link sends them), a delta of kept stamps, one touching a wired contact, and a local
    write are not (made ready when a link first reads them, as before)."""

    async def current(rows: list[Any], how: str = "write") -> list[bool]:
        async with AsyncExitStack() as stack:
            storage = await stack.enter_async_context(open_storage("memory://"))
            runtime = await stack.enter_async_context(
                StorageBackedRuntime(SPEC, storage, node_id="n")
            )
            replicator = Replicator("n", GossipSettings(), NetMetrics(), ChangeLog())
            replicator.attach(runtime)
            items = tuple((cid, v, Stamp(THEN + k, o)) for k, (cid, v, o) in enumerate(rows))
            delta = Delta("e" * 16, 0, 0, items, (WHYS[how],) * len(items))
            await replicator.apply_delta(Link("p"), delta)  # type: ignore[arg-type]
            await runtime.update_many({"x": 7})
            cache, log = replicator._json_cache, replicator.log
            ids = [cid for cid, _, _ in rows] + ["x"]
            return [cid in cache and cache[cid][3] == log.seq_of(cid) for cid in ids]

    def run(rows: list[Any], how: str = "write") -> list[bool]:
        return anyio.run(current, rows, how, backend=backend)

    assert run([("b", "u", "p1"), ("d", "w", "p2")]) == [True, True, False]
    assert run([("b", "u", "p1"), ("d", "é", "p2")]) == [False] * 3  # converted when sent
    assert run([("b", "u", "p1"), ("d", {"$type": 1}, "p2")]) == [False] * 3
    assert run([("b", "u", "p1"), ("d", 2, "p2")]) == [False] * 3
    assert run([("b", 1, "p1"), ("a", 2, "p1")]) == [False] * 3  # a is wired to c
    assert run([("b", 1, "p1")], "kept") == [False] * 2
    assert run([("b", 1, "p1")], "none") == [False] * 2
