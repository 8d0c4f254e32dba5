"""Durable latency of one writer: ``StorageBackedRuntime`` against the bare storage medium.

Run: python bench/bench_durable_latency.py [--backends fs,postgres] [--updates 2000]
     [--rounds 3] [--no-sync] [--fs-options inline_sync_ms=0]
     (postgres uses BASSLINE_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test,
      in a fresh schema that is dropped afterwards; fs a temporary directory, in
      BASSLINE_BENCH_DIR if set)

One task awaits ``runtime.update_contact`` (durability ``"durable"``) ``--updates`` times
per round, each on a contact not written before, and every await's wall-clock time is
recorded. The baseline runs in the same process, interleaved update by update with the
runtime's (raw first on even updates, runtime first on odd ones), so that a busy machine
weighs on both sides alike:

* postgres: a raw psycopg connection doing a one-row upsert into the same
  ``bassline_contacts`` table (with the stamp guard) and ``COMMIT``, per update, with
  ``synchronous_commit`` on in its session and ``fsync`` on in the server (both printed,
  and the runtime's storage URL sets ``synchronous_commit=on``, the default);
* fs: ``os.write`` of the very bytes the store appends for one such update (the record
  frame and its commit frame, read back from the store's log) plus ``os.fdatasync``, per
  update, to a file in the same directory.

Prints p50 and p99 of each side per round and over all rounds, the ratios runtime / raw
(targets: p50 at most 2x, p99 at most 4x on PostgreSQL; p50 at most 2x on fs), and the
median of the per-update differences (runtime minus the raw update next to it): the
time the runtime adds, which the medium's own latency does not hide. Also the CPU time
per update of each side (``time.process_time`` around each call: every thread of the
process, user and system; the runtime's background work between calls is not in it).

``--no-sync`` (postgres only, a diagnostic, not the target): both sides run with
``synchronous_commit=off``, so neither waits for the WAL flush and what is left is the
time each side spends around the commit: client, driver, round trips and server work.

``--fs-options QUERY`` appends a query string to the fs storage URL: ``inline_sync_ms=0``
sends every write through a worker thread, as before decision D52.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import NetworkStorage, open_storage

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"

RAW_UPSERT = """
INSERT INTO bassline_contacts AS t
    (network_id, contact_id, group_id, content, stamp_hlc, stamp_node)
VALUES (%s, %s, %s, %s::json, %s, %s)
ON CONFLICT (network_id, contact_id) DO UPDATE
SET content = EXCLUDED.content, stamp_hlc = EXCLUDED.stamp_hlc, stamp_node = EXCLUDED.stamp_node
WHERE (t.stamp_hlc, t.stamp_node) <= (EXCLUDED.stamp_hlc, EXCLUDED.stamp_node)
"""

RawWrite = Callable[[int], None]
"""One raw durable write of update ``i`` (blocking)."""


def spec_of(n: int, name: str) -> Bassline:
    return parse_spec({"id": name, "contacts": [{"id": f"c{i}"} for i in range(n)]})


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


CPU = {"runtime": 0.0, "raw": 0.0}
"""Process CPU time (every thread's, user and system) spent inside each side's calls,
summed over a round."""


async def interleaved(
    storage: NetworkStorage, raw: RawWrite, n: int, name: str
) -> tuple[list[float], list[float]]:
    """``n`` durable single-writer updates through the runtime and ``n`` raw writes,
    alternating; the latencies of each side (and their CPU time, in :data:`CPU`)."""
    spec = spec_of(n, name)
    rt: list[float] = []
    bare: list[float] = []
    cpu = time.process_time
    CPU["runtime"] = CPU["raw"] = 0.0
    raw_cpu = rt_cpu = 0.0
    async with StorageBackedRuntime(spec, storage, durability="durable") as runtime:
        update = runtime.update_contact
        gc.collect()
        for i in range(n):
            if i % 2 == 0:
                c, t = cpu(), time.perf_counter()
                raw(i)
                bare.append(time.perf_counter() - t)
                raw_cpu += cpu() - c
            c, t = cpu(), time.perf_counter()
            await update(f"c{i}", [i, "payload"])
            rt.append(time.perf_counter() - t)
            rt_cpu += cpu() - c
            if i % 2 == 1:
                c, t = cpu(), time.perf_counter()
                raw(i)
                bare.append(time.perf_counter() - t)
                raw_cpu += cpu() - c
    CPU["runtime"], CPU["raw"] = rt_cpu, raw_cpu
    (await storage.delete_network(name)).unwrap()
    return rt, bare


# ------------------------------------------------------------------------- postgres


SYNC = {"on": True}
"""``synchronous_commit`` for both sides (``--no-sync`` turns it off)."""


def _sync() -> str:
    return "on" if SYNC["on"] else "off"


@asynccontextmanager
async def postgres_side() -> AsyncIterator[tuple[str, Callable[[], NetworkStorage]]]:
    import psycopg

    base = os.environ.get("BASSLINE_TEST_POSTGRES_URL", PG_DEFAULT)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}schema={schema}&synchronous_commit={_sync()}"
    try:
        yield schema, lambda: open_storage(url, migrate=True)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@asynccontextmanager
async def pg_raw(schema: str, name: str) -> AsyncIterator[tuple[RawWrite, dict[str, str]]]:
    """A raw psycopg connection writing into network ``name``: one-row upsert + COMMIT."""
    import orjson
    import psycopg

    base = os.environ.get("BASSLINE_TEST_POSTGRES_URL", PG_DEFAULT)
    conn = psycopg.connect(base, options=f"-c search_path={schema} -c synchronous_commit={_sync()}")
    try:
        settings: dict[str, str] = {}
        for setting in ("fsync", "synchronous_commit", "wal_sync_method"):
            row = conn.execute(f"SHOW {setting}").fetchone()
            settings[setting] = str(row[0] if row else None)
        conn.execute("INSERT INTO bassline_networks (id, spec) VALUES (%s, '{}'::json)", [name])
        conn.execute(
            "INSERT INTO bassline_groups (network_id, group_id, body, search) "
            "VALUES (%s, 'root', '{}'::json, '{}'::jsonb)",
            [name],
        )
        conn.commit()
        node = b"bench"

        def write(i: int) -> None:
            value = orjson.dumps([i, "payload"]).decode()
            conn.execute(RAW_UPSERT, [name, f"c{i}", "root", value, i + 1, node], prepare=True)
            conn.commit()

        yield write, settings
        conn.execute("DELETE FROM bassline_networks WHERE id = %s", [name])
        conn.commit()
    finally:
        conn.close()


# ------------------------------------------------------------------------------- fs


FS_QUERY = {"query": ""}


@asynccontextmanager
async def fs_side() -> AsyncIterator[tuple[str, Callable[[], NetworkStorage]]]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BASSLINE_BENCH_DIR")) as tmp:
        query = f"?{FS_QUERY['query']}" if FS_QUERY["query"] else ""
        yield tmp, lambda: open_storage(f"file://{tmp}{query}")


async def fs_record(storage: NetworkStorage) -> bytes:
    """The bytes the store appends for one single-contact durable update."""
    from bassline_storage_fs import FileStorage

    assert isinstance(storage, FileStorage)
    spec = spec_of(2, "probe")
    async with StorageBackedRuntime(spec, storage, durability="durable") as runtime:
        await runtime.update_contact("c0", [0, "payload"])
        before = storage.log_bytes
        await runtime.update_contact("c1", [1, "payload"])
        after = storage.log_bytes
        store = storage._store
        assert store is not None
        data = (await anyio.Path(store.layout.log).read_bytes())[before:after]
    (await storage.delete_network("probe")).unwrap()
    return data


@asynccontextmanager
async def fs_raw(tmp: str, record: bytes) -> AsyncIterator[RawWrite]:
    """``os.write`` of ``record`` + ``os.fdatasync`` per update, to a file in ``tmp``."""
    path = os.path.join(tmp, f"raw-{uuid.uuid4().hex}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(i: int) -> None:
        os.write(fd, record)
        os.fdatasync(fd)

    try:
        yield write
    finally:
        os.close(fd)
        os.unlink(path)


# ----------------------------------------------------------------------------- main


def line(rt: list[float], raw: list[float]) -> str:
    p50, p99 = pct(rt, 50), pct(rt, 99)
    r50, r99 = pct(raw, 50), pct(raw, 99)
    added = pct([a - b for a, b in zip(rt, raw, strict=True)], 50)
    return (
        f"runtime p50 {p50 * 1e3:.3f} ms p99 {p99 * 1e3:.3f} ms | raw p50 {r50 * 1e3:.3f} ms "
        f"p99 {r99 * 1e3:.3f} ms | ratio p50 {p50 / r50:.2f}x p99 {p99 / r99:.2f}x | "
        f"added (median of pairs) {added * 1e3:.3f} ms"
    )


async def run_backend(kind: str, n: int, rounds: int) -> None:
    all_rt: list[float] = []
    all_raw: list[float] = []

    cpu = {"runtime": 0.0, "raw": 0.0}

    def report(r: int, rt: list[float], raw: list[float]) -> None:
        print(f"[{kind}] round {r + 1}: {line(rt, raw)}", flush=True)
        all_rt.extend(rt)
        all_raw.extend(raw)
        for side in cpu:
            cpu[side] += CPU[side]

    if kind == "postgres":
        async with postgres_side() as (schema, factory), factory() as storage:
            for r in range(rounds):
                async with pg_raw(schema, f"raw-{r}") as (raw, settings):
                    if r == 0:
                        print(f"[postgres] server and session settings: {settings}")
                    report(r, *await interleaved(storage, raw, n, f"rt-{r}"))
    elif kind == "fs":
        async with fs_side() as (tmp, factory), factory() as storage:
            record = await fs_record(storage)
            print(f"[fs] one update appends {len(record)} bytes (record + commit frame)")
            for r in range(rounds):
                async with fs_raw(tmp, record) as raw:
                    report(r, *await interleaved(storage, raw, n, f"rt-{r}"))
    else:
        raise SystemExit(f"unknown backend {kind!r} (fs, postgres)")
    print(f"[{kind}] all {rounds} rounds: {line(all_rt, all_raw)}", flush=True)
    per_rt, per_raw = cpu["runtime"] / len(all_rt), cpu["raw"] / len(all_raw)
    print(
        f"[{kind}] CPU per update (process time in the call, every thread): runtime "
        f"{per_rt * 1e6:.0f} us, raw {per_raw * 1e6:.0f} us ({per_rt / per_raw:.2f}x)",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="fs,postgres")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-sync",
        action="store_true",
        help="postgres with synchronous_commit=off on both sides (a diagnostic: not durable)",
    )
    parser.add_argument(
        "--fs-options",
        default="",
        help="a query string for the fs storage URL, e.g. inline_sync_ms=0 (every write "
        "through a worker thread, as before decision D52)",
    )
    args: Any = parser.parse_args()
    FS_QUERY["query"] = args.fs_options
    if args.no_sync:
        SYNC["on"] = False
        print("synchronous_commit=off on both sides: NOT durable, the overhead only")
    for kind in args.backends.split(","):
        await run_backend(kind, args.updates, args.rounds)


if __name__ == "__main__":
    anyio.run(main)
