"""Remote apply benchmark: a node ingesting a peer's deltas vs its own local buffered updates.

Run: python bench/bench_remote_apply.py [--updates 20000] [--items 100] [--repeat 3]

Both halves run on the same node parts (a durable or buffered ``StorageBackedRuntime`` on
memory storage, with the node's ``Replicator`` attached, logging every change) over a spec
of ``--updates`` distinct contacts, in the same run:

- **local**: buffered ``update_contact`` on every contact (100-byte values), then ``flush``;
- **remote**: the same number of distinct contacts arriving from a peer as delta frames of
  ``--items`` items, built the way a peer builds them (``encode_delta`` + ``dump``, stamps
  from the peer's clock) before the clock starts, then each frame decoded and validated
  (``parse_frame``) and applied (``Replicator.apply_delta``) by a *durable* runtime:
  each delta returns once its batch is committed, as a node applies them.

No sockets: this is the receiving node's own work per remote update (the transport is
bench_network.py's). Prints updates/s of each (medians of ``--repeat``) and the ratio
remote/local (issue 18's target: at least 0.5), wall-clock and CPU time of this process.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import anyio

from bassline.clock import HybridLogicalClock
from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.protocol import Delta, dump, encode_delta, parse_frame
from bassline.net.replicator import Replicator
from bassline.net.settings import GossipSettings
from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import open_storage

PAYLOAD = "x" * 90


def spec_of(n: int) -> Bassline:
    """``n`` unwired contacts."""
    return parse_spec({"id": "remote", "contacts": [{"id": f"c{i}"} for i in range(n)]})


class Session:
    """The part of a peer link the replicator reads (a LinkState)."""

    def __init__(self, peer: str, peer_epoch: str) -> None:
        self.peer = peer
        self.peer_epoch = peer_epoch
        self.rewind = False
        self.scan = 0
        self.announced = 0


def frames_of(spec: Bassline, items: int) -> tuple[str, list[bytes]]:
    """The peer's epoch and its delta frames carrying every contact once."""
    clock = HybridLogicalClock("peer")
    log = ChangeLog()
    rows = [(c.id, [i, PAYLOAD], clock.tick()) for i, c in enumerate(spec.contacts)]
    frames = []
    for start in range(0, len(rows), items):
        chunk = rows[start : start + items]
        frames.append(dump(encode_delta(log.epoch, start, start + len(chunk), chunk)))
    return log.epoch, frames


async def timed(
    spec: Bassline, durability: str, work: Callable[[StorageBackedRuntime], Awaitable[None]]
) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``work`` on a fresh node's runtime."""
    async with open_storage(f"memory://remote-{uuid.uuid4().hex}") as storage:
        async with StorageBackedRuntime(spec, storage, durability=durability) as runtime:
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            await work(runtime)
            await runtime.flush()
            return time.perf_counter() - start, time.process_time() - cpu


def replicator_of(runtime: StorageBackedRuntime) -> Replicator:
    """The node's replicator, attached to ``runtime`` (every change logged)."""
    replicator = Replicator("node", GossipSettings(), NetMetrics(), ChangeLog())
    replicator.attach(runtime)
    return replicator


async def local(spec: Bassline) -> tuple[float, float]:
    """Buffered local updates, one per contact."""

    async def work(runtime: StorageBackedRuntime) -> None:
        replicator_of(runtime)
        write = runtime.update_contact
        for i, c in enumerate(spec.contacts):
            await write(c.id, [i, PAYLOAD])

    return await timed(spec, "buffered", work)


async def remote(spec: Bassline, epoch: str, frames: list[bytes]) -> tuple[float, float]:
    """Every frame decoded and applied by a durable runtime."""
    settings = GossipSettings()

    async def work(runtime: StorageBackedRuntime) -> None:
        replicator = replicator_of(runtime)
        session = Session("peer", epoch)
        for frame in frames:
            delta = parse_frame(frame, settings.max_frame_bytes)
            assert isinstance(delta, Delta)
            await replicator.apply_delta(session, delta)
        assert not session.rewind and replicator.cursor("peer") == (epoch, len(spec.contacts))

    return await timed(spec, "durable", work)


def main(argv: list[str] | None = None) -> None:
    """Run both halves alternately and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=100, help="items per delta")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    spec = spec_of(args.updates)
    epoch, frames = frames_of(spec, args.items)
    locals_, remotes = [], []
    for _ in range(args.repeat):
        locals_.append(anyio.run(local, spec))
        remotes.append(anyio.run(remote, spec, epoch, frames))
    n = args.updates
    for label, k in (("wall-clock", 0), ("CPU time", 1)):
        loc = n / statistics.median(t[k] for t in locals_)
        rem = n / statistics.median(t[k] for t in remotes)
        print(
            f"[{label}] local buffered {loc:,.0f} updates/s, remote apply (durable, "
            f"{args.items}-item deltas) {rem:,.0f} updates/s, ratio {rem / loc:.2f} "
            f"(target >= 0.5; medians of {args.repeat})"
        )


if __name__ == "__main__":
    main()
