"""CPU per item a node spends receiving a peer's deltas: parse and apply, nothing else.

Run: python bench/bench_receive.py [--items N] [--rounds R] [--profile]

A peer writes ``items`` distinct contents of 100 bytes (``update_many`` via ``http``, 100
at a time) and builds its delta frames for one link (100 items a frame, as
bench_instructions.py's ``_replica``); then each of ``rounds`` fresh durable runtimes on
memory storage with a replicator (all built first, then the collector set as ``bassline
start`` sets it) receives them (``parse_frame`` and
``Replicator.apply_delta`` of each frame), timed with ``time.process_time`` around the
receiving alone. Prints the median and the best µs per item over the rounds (the first
round, cold, left out). Run it with another checkout's interpreter to compare two versions
in the same minutes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import AsyncExitStack
from typing import Any

import anyio

CONTACTS = 4_000


class _Link:
    def __init__(self, peer: str, peer_epoch: str) -> None:
        self.peer, self.peer_epoch, self.peer_store = peer, peer_epoch, None
        self.scan = self.announced = 0
        self.rewind = False
        self.lazy: set[str] = set()
        self.quiet: set[str] = set()

    def want(self, contact: str, stamp: Any) -> None:
        raise AssertionError(contact)


async def _rounds(items: int, rounds: int, profile: str | None) -> tuple[list[float], list[float]]:
    from bassline.cli.heap import settle_heap
    from bassline.net.changelog import ChangeLog
    from bassline.net.gossip_metrics import NetMetrics
    from bassline.net.protocol import parse_frame
    from bassline.net.replicator import Replicator
    from bassline.net.settings import GossipSettings
    from bassline.runtime import StorageBackedRuntime
    from bassline.spec import parse_spec
    from bassline.storage import open_storage

    spec = parse_spec({"id": "r", "contacts": [{"id": f"c{i}"} for i in range(CONTACTS)]})
    settings = GossipSettings(max_delta_items=100)

    async def node(stack: AsyncExitStack, name: str) -> tuple[Any, Replicator]:
        storage = await stack.enter_async_context(open_storage(f"memory://{name}"))
        runtime = await stack.enter_async_context(
            StorageBackedRuntime(spec, storage, node_id=name, durability="durable")
        )
        replicator = Replicator(name, settings, NetMetrics(), ChangeLog())
        replicator.attach(runtime)
        return runtime, replicator

    frames: list[bytes] = []
    async with AsyncExitStack() as stack:
        sender, out = await node(stack, "peer")
        for start in range(0, items, 100):
            batch = {f"c{i}": "x" * 88 + f"{i:012d}" for i in range(start, start + 100)}
            await sender.update_many(batch, via="http")
        link = _Link("node", "e" * 16)
        while link.scan < out.log.head:
            frame, _, link.scan = out.build_delta(link)
            if frame is not None:
                link.announced = link.scan
                frames.append(frame)
    import gc

    times: list[float] = []
    gc_times: list[float] = []
    collecting: list[float] = []

    def timed(phase: str, info: dict[str, Any]) -> None:
        collecting.append(time.process_time())

    limit = settings.max_frame_bytes
    async with AsyncExitStack() as stack:
        receivers = [await node(stack, f"node{r}") for r in range(rounds + 1)]
        settle_heap()  # the collector as a node runs it, after the nodes are built
        gc.callbacks.append(timed)
        collecting.clear()
        for r, (_, into) in enumerate(receivers):
            session = _Link("peer", "f" * 16)
            profiler = None
            if profile is not None and r == rounds:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            started = time.process_time()
            for frame in frames:
                await into.apply_delta(session, parse_frame(frame, limit))  # type: ignore[arg-type]
            times.append(time.process_time() - started)
            # the collector's time this round (each pass's start and stop, in pairs)
            gc_times.append(sum(collecting[1::2]) - sum(collecting[0::2]))
            collecting.clear()
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
    gc.callbacks.remove(timed)
    return times[1:], gc_times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=4_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--profile", help="write a cProfile of the last round here")
    args = parser.parse_args()
    times, gc_times = anyio.run(_rounds, args.items, args.rounds, args.profile)
    per = [t / args.items * 1e6 for t in times]
    bare = [(t - g) / args.items * 1e6 for t, g in zip(times, gc_times, strict=True)]
    print(
        f"receive: median {statistics.median(per):.3f} µs/item, best {min(per):.3f}; "
        f"without the collector's passes median {statistics.median(bare):.3f}, "
        f"best {min(bare):.3f}"
    )


if __name__ == "__main__":
    main()
