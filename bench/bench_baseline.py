"""One node's own update rate: bench_network.py's *baseline*, several runs in one process.

Run: python bench/bench_baseline.py [--runs 8] [--updates 10000]

The same writes bench_network.py's ``procs-10-distinct`` baseline makes (batches of 100
distinct contacts of a network with as many contacts as updates, ~100 bytes of JSON text
each, ``update_many`` per batch on one durable ``StorageBackedRuntime`` on memory storage,
no peers), ``--runs`` times, each on a fresh store. Prints updates/s per run (wall and
CPU time of this process) and how many full garbage collections fell in the run, then the
median and best. One run lasts tens of milliseconds: a full collection inside it (tens of
milliseconds on a large heap) decides a single figure, so versions compare by the median.
It uses only what 0.3.0 has too: run it with each checkout's interpreter, alternating, to
compare two versions (docs/benchmarks.md, "One node's own update rate").
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

import anyio
from bench_network import flat_spec, workload

from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline
from bassline.storage import open_storage

_full: list[int] = [0]


def _count_full(phase: str, info: dict[str, Any]) -> None:
    if phase == "start" and info["generation"] == 2:
        _full[0] += 1


async def one_run(spec: Bassline, batches: list[dict[str, Any]]) -> tuple[float, float, int]:
    """Updates/s by wall and CPU time, and the full collections during the run."""
    async with open_storage("memory://") as storage:
        async with StorageBackedRuntime(spec, storage, node_id="solo") as runtime:
            _full[0] = 0
            t0, c0 = time.perf_counter(), time.process_time()
            for batch in batches:
                await runtime.update_many(batch)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = sum(len(b) for b in batches)
    return n / wall, n / cpu, _full[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--updates", type=int, default=10_000, help="a multiple of 100")
    args = parser.parse_args()
    spec = flat_spec(args.updates)
    batches = workload(spec, args.updates, 100, distinct=True)
    gc.callbacks.append(_count_full)
    rows = [anyio.run(one_run, spec, batches) for _ in range(args.runs)]
    for k, (wall, cpu, full) in enumerate(rows):
        print(f"run {k}: {wall:,.0f} upd/s wall, {cpu:,.0f} CPU, {full} full collections")
    walls, cpus = [r[0] for r in rows], [r[1] for r in rows]
    print(
        f"median {statistics.median(walls):,.0f} upd/s wall ({statistics.median(cpus):,.0f} "
        f"CPU), best {max(walls):,.0f} ({max(cpus):,.0f} CPU) over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
