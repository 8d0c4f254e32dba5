"""What a write to a merge contact costs on PostgreSQL beside a plain one (D62).

One ``PostgresStorage`` writes ``--writes`` pairs, interleaved: a one-row ``write`` of an
accept-last contact (the one statement of the plain path) and a one-row ``write_joining``
of a grow-set that gains one element each time (the locked read, the join, then the
write). Prints the mean time of each, and of the join's parts: the first round trip
(``BEGIN``, the feed row locked, the stored row read), the join in Python, and the write
with its commit. Means, not medians: the parts then add up to the whole.

Run: ``python bench/bench_merge_join.py [--writes 400]`` against
``BASSLINE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``), in
a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import psycopg
from bassline_storage_postgres import joining, migrate

from bassline.clock import Stamp
from bassline.lattices import GrowSet
from bassline.storage import ContentRecord, JoinsMerges, open_storage
from bassline.storage.joins import spec_joins
from bassline.testing.storage import merge_spec

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _timed(parts: dict[str, list[float]], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            parts.setdefault(name, []).append(time.perf_counter() - t0)

    return timed


async def run(url: str, writes: int) -> None:
    """Write and print (see the module doc)."""
    parts: dict[str, list[float]] = {}
    joining.read_stored = _timed(parts, "locked read", joining.read_stored)
    joining.join_batch = _timed(parts, "join", joining.join_batch)
    joining.write_batch = _timed(parts, "write + commit", joining.write_batch)
    spec = merge_spec()
    joins = spec_joins(spec)
    plain: list[float] = []
    merge: list[float] = []
    async with open_storage(url) as storage:
        assert isinstance(storage, JoinsMerges)
        (await storage.save_network(spec)).unwrap()
        for i in range(1, writes + 1):
            t0 = time.perf_counter()
            record = ContentRecord("joins", "g", "plain", i, Stamp(i, "bench"))
            (await storage.write([record])).unwrap()
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            record = ContentRecord("joins", "g", "set", GrowSet([i]), Stamp(i, "bench"))
            (await storage.write_joining([record], joins)).unwrap()
            merge.append(time.perf_counter() - t0)

    def ms(xs: list[float]) -> str:
        return f"{statistics.mean(xs) * 1e3:.3f} ms"

    print(f"plain write (one row):          {ms(plain)}")
    print(
        f"merge write_joining (one row):  {ms(merge)}  ({statistics.mean(merge) / statistics.mean(plain):.2f}x)"
    )
    for name, xs in parts.items():
        print(f"  of which {name + ':':16}{ms(xs)}")


def main() -> None:
    """Parse the arguments, make a schema, run, drop it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=400)
    args = parser.parse_args()
    base = os.environ.get("BASSLINE_TEST_POSTGRES_URL", PG_DEFAULT)
    schema = f"bench_mj_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{base}?schema={schema}"
        migrate(url)
        anyio.run(run, url, args.writes)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
