"""Storage benchmark: batched write throughput and bulk load, memory and fs.

Run: python bench/bench_storage.py [--contacts 100000 --batch 1000 --repeat 3 --dir DIR]

For each backend: ``write`` throughput in contacts/s for ``--contacts`` contacts in
batches of ``--batch`` (one ``write`` per batch, awaited one after another, the way a
persistence queue flushes), then ``load_contents`` of all of them. The fs figures are
printed beside a bare loop measured in the same run: it appends *the same bytes* the fs
backend wrote (its log, split at its batch boundaries) to a fresh file with one
``os.write`` and one data sync per batch and nothing else. The ratio fs/bare is what
the design targets (>= 0.5). A third loop, the *floor*, does the least any backend that
takes Python records must do (read the fields, one ``orjson.dumps`` per batch, write,
sync) and shows how much of the bare loop's speed is reachable at all; the *checked* loop
adds the validation every backend shares (``normalise_fast``). Each measurement is
repeated ``--repeat`` times on a fresh store and the median is reported; fs and bare
alternate so both see the same disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import orjson
from bassline_storage_fs.entries import COMMIT, HEADER
from bassline_storage_fs.frames import Frame, read_frame
from bassline_storage_fs.fsutil import sync_data, write_all

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import ContentRecord, NetworkRecord, available_schemes, open_storage
from bassline.storage.validation import normalise_fast

NETWORK = "bench"


def make_batches(contacts: int, batch: int) -> list[list[ContentRecord]]:
    """``contacts`` records of a typical small value, in batches of ``batch``."""
    records = [
        ContentRecord(
            NETWORK,
            f"g{i % 10}",
            f"contact-{i:07d}",
            {"n": i, "label": f"sensor {i}", "ok": i % 3 == 0, "reading": i * 0.5},
            Stamp(1_000_000 + i, "node-a"),
        )
        for i in range(contacts)
    ]
    return [records[i : i + batch] for i in range(0, contacts, batch)]


SPEC = Bassline(id=NETWORK, groups=tuple(GroupSpec(f"g{i}") for i in range(10)))


async def run_backend(url: str, batches: list[list[ContentRecord]]) -> dict[str, float]:
    """Seconds to write every batch, then to load every content back."""
    async with open_storage(url) as storage:
        (await storage.write([NetworkRecord(SPEC)])).unwrap()
        start = time.perf_counter()
        for batch in batches:
            result = await storage.write(batch)
            assert result.unwrap().contents == len(batch), result
        wrote = time.perf_counter() - start
        start = time.perf_counter()
        loaded = (await storage.load_contents(NETWORK)).unwrap()
        load = time.perf_counter() - start
    assert len(loaded) == sum(len(b) for b in batches)
    return {"write": wrote, "load": load}


async def reopen_seconds(url: str) -> float:
    """Seconds to open an existing store (lock, read and replay the log)."""
    start = time.perf_counter()
    async with open_storage(url):
        return time.perf_counter() - start


def batch_chunks(log: Path, skip: int) -> list[bytes]:
    """The log's bytes split at its commit markers, without the header and the first
    ``skip`` batches (the network record)."""
    data = log.read_bytes()
    chunks: list[bytes] = []
    start = pos = 0
    while pos < len(data):
        found = read_frame(data, pos)
        assert isinstance(found, Frame), found
        pos = found.end
        if found.kind in (HEADER, COMMIT):
            chunks.append(data[start:pos])
            start = pos
    return chunks[1 + skip :]


def bare_append(path: Path, chunks: list[bytes]) -> float:
    """Seconds to append ``chunks`` with one write and one data sync each."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        start = time.perf_counter()
        for chunk in chunks:
            write_all(fd, chunk)
            sync_data(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def floor_append(path: Path, batches: list[list[ContentRecord]]) -> float:
    """Seconds for the least any backend taking Python records must do: read each
    record's fields, encode them all with one ``orjson.dumps`` per batch (no checks, no
    index, no checksums, no worker thread), then one write and one data sync per batch."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        start = time.perf_counter()
        for batch in batches:
            rows = [(r.group, r.contact, r.value, r.stamp[0], r.stamp[1]) for r in batch]
            write_all(fd, orjson.dumps(rows))
            sync_data(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def checked_floor_append(path: Path, batches: list[list[ContentRecord]]) -> float:
    """Seconds for the floor plus the check every backend shares: each batch goes through
    ``normalise_fast`` (ids, stamps and value types checked a column at a time, values
    encoded), and the encoded values are written with one write and one data sync."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        start = time.perf_counter()
        for batch in batches:
            checked = normalise_fast(batch)
            assert checked is not None and checked.columns is not None
            columns = checked.columns
            write_all(fd, orjson.dumps([columns.groups, columns.contacts, columns.hlcs]))
            write_all(fd, b"".join(checked.encoded))
            sync_data(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def rate(count: int, seconds: float) -> str:
    """``count`` per second, readably."""
    return f"{count / seconds:>11,.0f}/s"


def rates(count: int, seconds: list[float]) -> str:
    """Median rate, then the range over the runs."""
    best, worst = count / min(seconds), count / max(seconds)
    return f"{rate(count, statistics.median(seconds))}  (runs {worst:,.0f} .. {best:,.0f})"


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where fs stores go (a real disk)")
    args = parser.parse_args(argv)
    batches = make_batches(args.contacts, args.batch)
    n = args.contacts
    base = Path(tempfile.mkdtemp(prefix="bench-storage-", dir=args.dir))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {load}")
    print(f"stores under {base}")
    print(f"{n:,} contacts in batches of {args.batch:,}, median of {args.repeat} runs\n")
    try:
        if "memory" in available_schemes():
            mem = [anyio.run(run_backend, "memory://", batches) for _ in range(args.repeat)]
            print(f"memory  write {rates(n, [m['write'] for m in mem])}")
            print(f"memory  load  {rates(n, [m['load'] for m in mem])}")
        else:
            print("memory  (bassline_storage_memory is not installed: skipped)")
        fs: list[dict[str, float]] = []
        bare: list[float] = []
        floor: list[float] = []
        checked: list[float] = []
        reopen: list[float] = []
        log_size = 0
        for r in range(args.repeat):
            store = base / f"fs-{r}"
            url = f"file://{store}"
            fs.append(anyio.run(run_backend, url, batches))
            reopen.append(anyio.run(reopen_seconds, url))
            chunks = batch_chunks(store / "log", skip=1)
            assert len(chunks) == len(batches)
            log_size = sum(len(c) for c in chunks)
            bare.append(bare_append(base / f"bare-{r}", chunks))
            floor.append(floor_append(base / f"floor-{r}", batches))
            checked.append(checked_floor_append(base / f"checked-{r}", batches))
        fs_write, bare_write = median([f["write"] for f in fs]), median(bare)
        print(f"fs      write {rates(n, [f['write'] for f in fs])}")
        print(f"bare    write {rates(n, bare)}  same {log_size / n:.0f} bytes/contact, write+sync")
        print(f"fs/bare write ratio {bare_write / fs_write:.3f} (medians; target >= 0.5)")
        print(f"floor   write {rates(n, floor)}  read fields + one orjson.dumps, write+sync")
        print(
            f"floor/bare ratio {bare_write / median(floor):.3f} (no checks, no index: "
            "the most any backend taking Python records could reach)"
        )
        print(f"checked write {rates(n, checked)}  the floor + the shared column check")
        print(
            f"checked/bare ratio {bare_write / median(checked):.3f} (the most a backend that "
            "checks what it stores could reach, with no index and no worker thread)"
        )
        if "memory" in available_schemes():
            mem_write = median([m["write"] for m in mem])
            print(f"fs/memory write ratio {mem_write / fs_write:.2f} (memory does no I/O at all)")
        print(f"fs      load  {rates(n, [f['load'] for f in fs])}")
        print(f"fs      open  {rates(n, reopen)}  (reopen = read and replay the whole log)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
