"""Durable write path benchmark: updates/s through StorageBackedRuntime vs raw batched writes.

Run: python bench/bench_runtime.py [--backends memory,fs,postgres] [--updates 20000]
     [--breakdown] [--hot]
     (postgres uses BASSLINE_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test,
      in a fresh schema that is dropped afterwards)

For each backend, in the same run: the raw speed of ``storage.write`` with 1,000-record
batches of distinct new contacts (the baseline), then sustained updates through the runtime —
durable with 1 writer, durable with 100 concurrent writers, and buffered — each (median of three) printed as
a ratio to the baseline, plus p50/p99 latency of durable updates. Every measurement starts
from the same state: an empty network, the previous one deleted, garbage collected.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

from bassline.clock import HybridLogicalClock
from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import ContentRecord, NetworkStorage, open_storage

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def spec_of(n: int, name: str) -> Bassline:
    return parse_spec({"id": name, "contacts": [{"id": f"c{i}"} for i in range(n)]})


@asynccontextmanager
async def backend(kind: str) -> AsyncIterator[Callable[[], NetworkStorage]]:
    """Yields a factory of fresh storages on one fresh store of ``kind``."""
    if kind == "memory":
        name = f"memory://bench-{uuid.uuid4().hex}"
        yield lambda: open_storage(name)
    elif kind == "fs":
        with tempfile.TemporaryDirectory() as tmp:
            yield lambda: open_storage(f"file://{tmp}")
    elif kind == "postgres":
        import psycopg

        base = os.environ.get("BASSLINE_TEST_POSTGRES_URL", PG_DEFAULT)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}schema={schema}"
        try:
            yield lambda: open_storage(url, migrate=True)
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    else:
        raise SystemExit(f"unknown backend {kind!r} (memory, fs, postgres)")


async def raw_rate(factory: Callable[[], NetworkStorage], updates: int) -> float:
    """Records/s of storage.write with 1,000-record batches of distinct contacts."""
    spec = spec_of(updates, "raw")
    clock = HybridLogicalClock("bench")
    async with factory() as storage:
        (await storage.save_network(spec)).unwrap()
        gc.collect()
        t0 = time.perf_counter()
        for start in range(0, updates, 1000):
            batch = [
                ContentRecord("raw", "root", f"c{i}", [i, "payload"], clock.tick())
                for i in range(start, min(updates, start + 1000))
            ]
            (await storage.write(batch)).unwrap()
        rate = updates / (time.perf_counter() - t0)
        (await storage.delete_network("raw")).unwrap()  # every run starts from the same state
        return rate


async def runtime_rate(
    factory: Callable[[], NetworkStorage], updates: int, writers: int, durability: str, name: str
) -> tuple[float, list[float]]:
    spec = spec_of(updates, name)
    latencies: list[float] = []
    async with factory() as storage:
        async with StorageBackedRuntime(spec, storage, durability=durability) as runtime:
            per = updates // writers

            async def writer(k: int) -> None:
                for j in range(per):
                    t = time.perf_counter()
                    await runtime.update_contact(f"c{k * per + j}", [k, "payload"])
                    latencies.append(time.perf_counter() - t)

            gc.collect()
            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for k in range(writers):
                    tg.start_soon(writer, k)
            await runtime.flush()
            rate = per * writers / (time.perf_counter() - t0)
        (await storage.delete_network(name)).unwrap()  # the next run starts from the same state
        return rate, latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def breakdown(kinds: list[str], n: int, repeats: int = 5) -> None:
    """Where one buffered single-contact update's time goes, on each backend.

    CPU time of this process (``time.process_time``, garbage collector on, collected
    before each part), median of ``repeats`` runs of ``n`` updates on fresh contacts: the
    engine run alone (a bare ``Network.update_contact``), the runtime's own work around
    it (a buffered ``update_contact`` with a batch larger than the run, so the flusher
    writes nothing meanwhile, minus the engine run), and the storage write per record (the
    closing ``flush``, which also builds the storage records from the queue's columns).
    Issue 18's target: the runtime's own work at most 1.5x the engine
    run, on every backend.
    """
    from bassline.engine import Network

    for kind in kinds:
        engines, queueds, flushes = [], [], []
        async with backend(kind) as factory:
            for r in range(repeats):
                spec = spec_of(n, f"parts{r}")
                net = Network(spec)
                update = net.update_contact
                gc.collect()
                t0 = time.process_time()
                for i in range(n):
                    update(f"c{i}", [i, "payload"])
                engines.append((time.process_time() - t0) / n)
                del net, update
                async with factory() as storage:
                    async with StorageBackedRuntime(
                        spec,
                        storage,
                        durability="buffered",
                        queue_bound=10 * n,
                        batch_size=10 * n,
                        flush_interval=3600,
                    ) as runtime:
                        write = runtime.update_contact
                        gc.collect()
                        t0 = time.process_time()
                        for i in range(n):
                            await write(f"c{i}", [i, "payload"])
                        queueds.append((time.process_time() - t0) / n)
                        t0 = time.process_time()
                        await runtime.flush()
                        flushes.append((time.process_time() - t0) / n)
                    (await storage.delete_network(spec.id)).unwrap()
        engine, queued = statistics.median(engines), statistics.median(queueds)
        own = queued - engine
        print(
            f"[breakdown {kind}] per buffered update, CPU time (median of {repeats} x {n:,}): "
            f"engine run {engine * 1e6:.2f} us, runtime's own work {own * 1e6:.2f} us "
            f"({own / engine:.2f}x the engine run, target <= 1.5), storage write "
            f"{statistics.median(flushes) * 1e6:.2f} us per record (CPU of this process)"
        )


async def hot_path(n: int, repeats: int = 9) -> None:
    """CPU time of one buffered ``update_contact`` (memory storage), min and median of runs.

    Measured with ``time.process_time``, so other processes on a busy machine count far
    less than in the wall-clock rates. "alone": batch and bound larger than the run, so the
    flusher never takes a batch (the admission's fast path only); "default": batch_size
    1,000, so the writer yields to the flusher and the queue is written as it goes.
    """
    spec = spec_of(n, "hot")
    for label, options in (
        ("alone", {"queue_bound": 10 * n, "batch_size": 10 * n, "flush_interval": 3600}),
        ("default", {}),
    ):
        times = []
        for _ in range(repeats):
            async with open_storage("memory://") as storage:
                async with StorageBackedRuntime(
                    spec, storage, durability="buffered", **options
                ) as runtime:
                    update = runtime.update_contact
                    gc.collect()
                    gc.disable()
                    t0 = time.process_time()
                    for i in range(n):
                        await update(f"c{i}", i)
                    times.append((time.process_time() - t0) / n)
                    gc.enable()
                    await runtime.flush()
        times.sort()
        print(
            f"[hot path, {label}] buffered update_contact CPU time: "
            f"min {times[0] * 1e6:.2f} us, median {times[len(times) // 2] * 1e6:.2f} us "
            f"({repeats} runs of {n:,})"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="memory,fs,postgres")
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="only where a buffered update's CPU time goes, on each backend, then exit",
    )
    parser.add_argument(
        "--hot",
        action="store_true",
        help="only the CPU time of a buffered update_contact (memory), then exit",
    )
    args = parser.parse_args()
    n = args.updates
    if args.hot:
        await hot_path(n)
        return
    if args.breakdown:
        await breakdown(args.backends.split(","), n)
        return
    for kind in args.backends.split(","):
        async with backend(kind) as factory:
            raws = [await raw_rate(factory, n) for _ in range(3)]
            raw = sorted(raws)[1]
            print(
                f"[{kind}] raw storage.write, 1,000-record batches: {raw:,.0f} records/s (median of 3)"
            )
            one, lat1 = await median_run(
                factory, min(n, 2000 if kind != "memory" else n), 1, "durable"
            )
            print(
                f"[{kind}] durable, 1 writer:     {one:>10,.0f} updates/s  ratio {one / raw:.2f}  "
                f"p50 {pct(lat1, 50) * 1e3:.2f} ms  p99 {pct(lat1, 99) * 1e3:.2f} ms"
            )
            hundred, lat100 = await median_run(factory, n, 100, "durable")
            print(
                f"[{kind}] durable, 100 writers:  {hundred:>10,.0f} updates/s  ratio {hundred / raw:.2f}  "
                f"p50 {pct(lat100, 50) * 1e3:.2f} ms  p99 {pct(lat100, 99) * 1e3:.2f} ms  (target >= 0.3)"
            )
            buffered, _ = await median_run(factory, n, 1, "buffered")
            print(
                f"[{kind}] buffered, 1 writer:    {buffered:>10,.0f} updates/s  ratio {buffered / raw:.2f}  (target >= 0.6)"
            )


async def median_run(
    factory: Callable[[], NetworkStorage], updates: int, writers: int, durability: str
) -> tuple[float, list[float]]:
    """The median of three runs (by rate), with that run's latencies."""
    runs = [
        await runtime_rate(factory, updates, writers, durability, f"{durability}-{writers}-{k}")
        for k in range(3)
    ]
    runs.sort(key=lambda r: r[0])
    return runs[1]


if __name__ == "__main__":
    anyio.run(main)
