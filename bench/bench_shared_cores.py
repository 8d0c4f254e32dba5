"""The same gossip-receiving work, one process alone and several at once.

Each process builds two nodes in memory (bench_instructions.py's ``_replica``: a peer
writes ``ITEMS`` distinct contents of 100 bytes, 100 at a time, and builds its delta
frames), then times with process time only the other node parsing and applying those
frames, ``ROUNDS`` times, and prints microseconds per content. Run alone, then ``--procs
N`` copies at once: on a machine with fewer cores than copies, the difference is what
sharing the cores costs the same instructions (cache refills after each switch)::

    python bench/bench_shared_cores.py            # alone, then 10 at once, alternating
    python bench/bench_shared_cores.py --procs 10 --pairs 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

ITEMS = 4_000
ROUNDS = 3


def receive_once() -> float:
    """Process time per content of parsing and applying ``ITEMS`` contents' frames."""
    from bassline.cli.heap import settle_heap
    from bassline.net.changelog import ChangeLog
    from bassline.net.gossip_metrics import NetMetrics
    from bassline.net.protocol import Delta, parse_frame
    from bassline.net.replicator import Replicator
    from bassline.net.settings import GossipSettings
    from bassline.runtime import StorageBackedRuntime
    from bassline.spec import parse_spec
    from bassline.storage import open_storage

    spec = parse_spec({"id": "r", "contacts": [{"id": f"c{i}"} for i in range(ITEMS)]})
    settings = GossipSettings(max_delta_items=100)

    class Link:
        def __init__(self, peer: str) -> None:
            self.peer, self.peer_epoch, self.peer_store = peer, "e" * 16, None
            self.scan = self.announced = 0
            self.rewind = False
            self.lazy: set[str] = set()
            self.quiet: set[str] = set()
            self.wanted: dict[str, Any] = {}

        def want(self, contact: str, stamp: Any) -> None:
            self.wanted[contact] = stamp

    spent = [0.0]

    async def run() -> None:
        async with AsyncExitStack() as stack:

            async def node(name: str) -> tuple[StorageBackedRuntime, Replicator]:
                storage = await stack.enter_async_context(open_storage(f"memory://{name}"))
                runtime = await stack.enter_async_context(
                    StorageBackedRuntime(spec, storage, node_id=name, durability="durable")
                )
                replicator = Replicator(name, settings, NetMetrics(), ChangeLog())
                replicator.attach(runtime)
                return runtime, replicator

            sender, out = await node("peer")
            _, into = await node("node")
            settle_heap()
            for start in range(0, ITEMS, 100):
                batch = {f"c{i}": "x" * 88 + f"{i:012d}" for i in range(start, start + 100)}
                await sender.update_many(batch, via="http")
            link, frames = Link("node"), []
            while link.scan < out.log.head:
                frame, _, link.scan = out.build_delta(link)  # type: ignore[arg-type]
                if frame is not None:
                    link.announced = link.scan
                    frames.append(frame)
            session = Link("peer")
            began = time.process_time()
            for frame in frames:
                delta = parse_frame(frame, settings.max_frame_bytes)
                assert isinstance(delta, Delta)
                await into.apply_delta(session, delta)  # type: ignore[arg-type]
            spent[0] = time.process_time() - began

    anyio.run(run)
    return spent[0] / ITEMS * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=10, help="copies run at once")
    parser.add_argument("--pairs", type=int, default=2, help="alone / at once rounds")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(" ".join(f"{receive_once():.2f}" for _ in range(ROUNDS)), flush=True)
        return
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    for k in range(1, args.pairs + 1):
        alone = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        print(f"round {k} alone: {alone.strip()} us per content", flush=True)
        procs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(args.procs)
        ]
        figures = [float(x) for p in procs for x in p.communicate()[0].split()]
        print(
            f"round {k} {args.procs} at once: {min(figures):.2f}-{max(figures):.2f} "
            f"(mean {sum(figures) / len(figures):.2f}) us per content",
            flush=True,
        )


if __name__ == "__main__":
    main()
