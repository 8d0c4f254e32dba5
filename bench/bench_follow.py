"""What following the change feed costs a buffered runtime on memory storage.

Run: python bench/bench_follow.py [--updates 20000] [--rounds 5] [--resync 30]

Each round opens two runtimes one after the other on fresh memory stores, following the
store's change feed (the default) and with ``follow=False``, and times bench_runtime.py's
buffered run (distinct contacts, one writer, then a flush): updates per second of CPU
time (``time.process_time``, which other processes on a busy machine disturb far less
than wall time) and of wall time. Prints the medians, the ratio follow/no-follow measured
in the same run, and what the follower did (``runtime.feed``): with a short ``--resync``
its safety re-read runs during the writes (a write that completes while a read is under
way comes back once, and is skipped).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

import anyio

from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage


async def one_run(updates: int, follow: bool, resync: float) -> tuple[float, float, Any]:
    """Updates/s of CPU and of wall time, and the follower's stats."""
    spec = parse_spec({"id": "follow", "contacts": [{"id": f"c{i}"} for i in range(updates)]})
    async with open_storage("memory://") as storage:
        async with StorageBackedRuntime(
            spec, storage, durability="buffered", follow=follow, feed_resync=resync
        ) as runtime:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(updates):
                await runtime.update_contact(f"c{i}", [i, "payload"])
            await runtime.flush()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            return updates / cpu, updates / wall, runtime.feed


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resync", type=float, default=30.0, help="feed_resync seconds")
    args = parser.parse_args()
    runs: dict[bool, list[tuple[float, float, Any]]] = {True: [], False: []}
    await one_run(1_000, True, args.resync)  # imports and first-use costs
    for r in range(args.rounds):
        for follow in (True, False) if r % 2 == 0 else (False, True):
            runs[follow].append(await one_run(args.updates, follow, args.resync))
    cpu = {f: statistics.median(x[0] for x in runs[f]) for f in runs}
    wall = {f: statistics.median(x[1] for x in runs[f]) for f in runs}
    for follow, label in ((True, "follow (default)"), (False, "follow=False")):
        print(
            f"{label:<17} {cpu[follow]:>10,.0f} updates/s CPU  {wall[follow]:>10,.0f} updates/s wall"
        )
    print(
        f"ratio follow/no-follow: CPU {cpu[True] / cpu[False]:.2f}  wall {wall[True] / wall[False]:.2f}"
        f"  ({args.rounds} rounds of {args.updates:,} updates, feed_resync={args.resync})"
    )
    last = runs[True][-1][2]
    print(f"follower in the last run: {last.reads} reads, {last.skipped} own records read back")


if __name__ == "__main__":
    anyio.run(main)
