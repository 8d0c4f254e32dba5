"""Restart benchmark: how long a runtime takes to start over contents already stored.

Run: python bench/bench_restart.py [--contacts 100000] [--backends memory,fs] [--repeat 3]

For each backend: store ``--contacts`` contents through a runtime, then (median of
``--repeat``) time opening a fresh ``StorageBackedRuntime`` over them — loading and
checking the stored spec, loading every content, restoring and settling the network —
beside the baseline measured in the same run: ``storage.load_contents`` alone, the
least any restart must do. The ratio baseline/start says how much of a restart is
the storage read itself.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import anyio

from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import open_storage


def spec_of(n: int) -> Bassline:
    """A network of ``n`` unwired contacts."""
    return parse_spec({"id": "restart", "contacts": [{"id": f"c{i}"} for i in range(n)]})


async def fill(url: str, spec: Bassline) -> None:
    """Store a value for every contact, through a runtime."""
    async with open_storage(url) as storage:
        async with StorageBackedRuntime(spec, storage, durability="buffered") as runtime:
            await runtime.update_many({c.id: [i, "payload"] for i, c in enumerate(spec.contacts)})
            await runtime.flush()


async def start_seconds(url: str, spec: Bassline) -> tuple[float, float]:
    """Wall-clock and CPU seconds to open a runtime over what is stored (storage already
    open)."""
    async with open_storage(url) as storage:
        start, cpu = time.perf_counter(), time.process_time()
        async with StorageBackedRuntime(spec, storage, durability="buffered") as runtime:
            took = time.perf_counter() - start, time.process_time() - cpu
            assert runtime.recovered == len(spec.contacts), runtime.recovered
        return took


async def load_seconds(url: str, network: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds for ``load_contents`` alone (storage already open)."""
    async with open_storage(url) as storage:
        start, cpu = time.perf_counter(), time.process_time()
        (await storage.load_contents(network)).unwrap()
        return time.perf_counter() - start, time.process_time() - cpu


def hash_seconds(spec: Bassline) -> float:
    """CPU seconds to hash a fresh copy of ``spec`` (what a new process pays once)."""
    fresh = Bassline.from_dict(spec.to_dict())
    cpu = time.process_time()
    assert fresh.hash == spec.hash
    return time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--backends", default="memory,fs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    spec = spec_of(args.contacts)
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        for kind in args.backends.split(","):
            if kind == "memory":
                url = f"memory://restart-{uuid.uuid4().hex}"
            elif kind == "fs":
                url = f"file://{Path(tmp) / 'fs'}"
            else:
                raise SystemExit(f"unknown backend {kind!r} (memory, fs)")
            anyio.run(fill, url, spec)
            starts = [anyio.run(start_seconds, url, spec) for _ in range(args.repeat)]
            loads = [anyio.run(load_seconds, url, spec.id) for _ in range(args.repeat)]
            start = statistics.median(s[0] for s in starts)
            load = statistics.median(s[0] for s in loads)
            start_cpu = statistics.median(s[1] for s in starts)
            load_cpu = statistics.median(s[1] for s in loads)
            print(
                f"[{kind}] {args.contacts:,} contacts: runtime start {start:.2f} s, "
                f"load_contents alone {load:.2f} s, ratio {load / start:.2f}; CPU time "
                f"{start_cpu:.2f} s vs {load_cpu:.2f} s, ratio {load_cpu / start_cpu:.2f} "
                f"(medians of {args.repeat})"
            )
    hashes = [hash_seconds(spec) for _ in range(args.repeat)]
    print(f"spec hash of a fresh copy: {statistics.median(hashes):.2f} s CPU (median)")


if __name__ == "__main__":
    main()
