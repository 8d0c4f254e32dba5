"""Benchmark: PostgreSQL backend bulk writes against the fastest raw psycopg baseline.

Writes 100,000 distinct contacts in 1,000-contact batches (one transaction each,
``synchronous_commit`` on), then the same contacts again with newer stamps (upserts over
existing rows), through:

* ``backend``: ``PostgresStorage.write`` (validation, stamp guard, one transaction);
* ``raw-copy``: psycopg ``COPY`` (binary) into a temporary table, then one
  ``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE`` (the same stamp guard);
* ``raw-unnest``: psycopg, one ``INSERT ... SELECT FROM unnest(%b arrays) ON CONFLICT``.

The raw methods get the same Python values and encode them with orjson; they skip
everything the backend adds (id and stamp validation, canonical tagging, the network
and group existence check). Each repetition truncates the table first; the figures are
medians over the repetitions, and the ratios are against ``raw-copy`` in the same run.

Run: ``.venv/bin/python bench/bench_postgres.py [--rows 100000] [--batch 1000] [--reps 5]``
(``--chunk N`` sets the backend's content rows per pipelined statement, for tuning)
against ``BASSLINE_BENCH_POSTGRES_URL`` (default: ``BASSLINE_TEST_POSTGRES_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``). It works in a schema of its own, dropped
at the end.
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
import orjson
import psycopg
from bassline_storage_postgres import PostgresStorage, migrate
from bassline_storage_postgres.bulk import CONTENT_CHUNK, UPSERT_CONTENTS
from psycopg import sql
from sqlalchemy.engine import make_url

from bassline.clock import Stamp
from bassline.spec import parse_spec
from bassline.storage import ContentRecord, open_storage

NETWORK = "bench"
GROUP = "g"
NODE = "bench-node"

Row = tuple[str, str, str, Any, int, str]
Method = Callable[[list[list[ContentRecord]]], None]

_COPY_TEMP = """
CREATE TEMP TABLE bench_incoming (
    network_id text, contact_id text, group_id text, content bytea, stamp_hlc int8,
    stamp_node bytea) ON COMMIT DELETE ROWS
"""
_COPY_MERGE = """
INSERT INTO bassline_contacts AS t
    (network_id, contact_id, group_id, content, stamp_hlc, stamp_node)
SELECT network_id, contact_id, group_id, convert_from(content, 'UTF8')::json, stamp_hlc,
       stamp_node
FROM bench_incoming
ON CONFLICT (network_id, contact_id) DO UPDATE
SET group_id = EXCLUDED.group_id, content = EXCLUDED.content,
    stamp_hlc = EXCLUDED.stamp_hlc, stamp_node = EXCLUDED.stamp_node
WHERE (t.stamp_hlc, t.stamp_node) <= (EXCLUDED.stamp_hlc, EXCLUDED.stamp_node)
"""


def _value(i: int, generation: int) -> dict[str, Any]:
    return {"value": i * generation, "label": f"contact {i}", "tags": ["a", "b"], "ok": True}


def make_batches(rows: int, batch: int, generation: int) -> list[list[ContentRecord]]:
    """``rows`` content records in batches of ``batch``, stamped with ``generation``."""
    records = [
        ContentRecord(
            NETWORK, GROUP, f"contact-{i:07d}", _value(i, generation), Stamp(generation, NODE)
        )
        for i in range(rows)
    ]
    return [records[i : i + batch] for i in range(0, rows, batch)]


def _encode(record: ContentRecord) -> bytes:
    return orjson.dumps(record.value, option=orjson.OPT_SORT_KEYS)


def raw_copy(conn: psycopg.Connection[Any]) -> Method:
    """COPY (binary) into a temp table, then one INSERT ... SELECT ... ON CONFLICT."""
    node = NODE.encode()

    conn.execute(_COPY_TEMP)  # once per session; ON COMMIT DELETE ROWS empties it
    conn.commit()

    def run(batches: list[list[ContentRecord]]) -> None:
        with conn.cursor() as cur:
            for batch in batches:
                with cur.copy("COPY bench_incoming FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["text", "text", "text", "bytea", "int8", "bytea"])
                    for r in batch:
                        copy.write_row(
                            (r.network, r.contact, r.group, _encode(r), r.stamp.hlc, node)
                        )
                cur.execute(_COPY_MERGE)
                assert cur.rowcount == len(batch), cur.rowcount
                conn.commit()

    return run


def raw_unnest(conn: psycopg.Connection[Any]) -> Method:
    """One INSERT ... SELECT FROM unnest(binary arrays) ... ON CONFLICT per batch."""
    node = NODE.encode()

    def run(batches: list[list[ContentRecord]]) -> None:
        with conn.cursor() as cur:
            for batch in batches:
                columns = [
                    [r.network for r in batch],
                    [r.contact for r in batch],
                    [r.group for r in batch],
                    [_encode(r) for r in batch],
                    [r.stamp.hlc for r in batch],
                    [node] * len(batch),
                    [r.justification for r in batch],
                ]
                cur.execute(UPSERT_CONTENTS, columns)
                assert cur.rowcount == len(batch), cur.rowcount
                conn.commit()

    return run


async def _backend_write(storage: PostgresStorage, batches: list[list[ContentRecord]]) -> None:
    for batch in batches:
        result = await storage.write(batch)
        summary = result.unwrap()  # raises if the write failed: the figure must be real
        assert summary.contents == len(batch) and summary.stale == 0, summary


def _with_schema(url: str, schema: str) -> str:
    return make_url(url).update_query_dict({"schema": schema}).render_as_string(hide_password=False)


def _timed(method: Method, batches: list[list[ContentRecord]], rows: int) -> float:
    start = time.perf_counter()
    method(batches)
    return rows / (time.perf_counter() - start)


async def _measure(url: str, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    store = _with_schema(url, schema)
    migrate(store)
    first = make_batches(args.rows, args.batch, 1)
    second = make_batches(args.rows, args.batch, 2)
    results: dict[str, dict[str, list[float]]] = {}
    spec = parse_spec({"id": NETWORK, "groups": [{"id": GROUP}]})
    admin = psycopg.connect(url, autocommit=True)
    raw = psycopg.connect(url)
    raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    raw.execute("SET synchronous_commit TO on")
    raw.commit()
    storage = open_storage(store, pool_size=1)
    assert isinstance(storage, PostgresStorage)
    if args.chunk:
        storage.content_chunk = args.chunk
    try:
        async with storage:
            (await storage.save_network(spec)).unwrap()
            methods: dict[str, Callable[[list[list[ContentRecord]]], None]] = {
                "raw-copy": raw_copy(raw),
                "raw-unnest": raw_unnest(raw),
            }
            order = ["backend", "raw-copy", "raw-unnest"]
            for rep in range(args.reps):
                for name in order[rep % 3 :] + order[: rep % 3]:  # rotate: no method always first
                    admin.execute(
                        sql.SQL("TRUNCATE {}.bassline_contacts").format(sql.Identifier(schema))
                    )
                    admin.execute(
                        sql.SQL("VACUUM ANALYZE {}.bassline_contacts").format(
                            sql.Identifier(schema)
                        )
                    )
                    figures = results.setdefault(name, {"new": [], "upsert": []})
                    for phase, batches in (("new", first), ("upsert", second)):
                        if name == "backend":
                            start = time.perf_counter()
                            await _backend_write(storage, batches)
                            rate = args.rows / (time.perf_counter() - start)
                        else:
                            rate = _timed(methods[name], batches, args.rows)
                        figures[phase].append(rate)
                print(f"  repetition {rep + 1}/{args.reps} done", flush=True)
    finally:
        raw.close()
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.close()
    return results


def main() -> None:
    """Parse arguments, run every method, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--chunk", type=int, default=None, help="backend content rows per statement (tuning)"
    )
    args = parser.parse_args()
    url = os.environ.get(
        "BASSLINE_BENCH_POSTGRES_URL",
        os.environ.get("BASSLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    print(
        f"PostgreSQL bulk writes: {args.rows:,} contacts in batches of {args.batch:,}, "
        f"synchronous_commit on, {args.reps} repetitions (medians), backend chunk "
        f"{args.chunk or CONTENT_CHUNK} rows per statement"
    )
    results = anyio.run(_measure, url, args)
    base = {phase: statistics.median(results["raw-copy"][phase]) for phase in ("new", "upsert")}
    print(f"{'method':<12} {'new rows/s':>12} {'ratio':>7} {'upserts/s':>12} {'ratio':>7}")
    for name, figures in results.items():
        new, up = statistics.median(figures["new"]), statistics.median(figures["upsert"])
        print(
            f"{name:<12} {new:>12,.0f} {new / base['new']:>7.2f} "
            f"{up:>12,.0f} {up / base['upsert']:>7.2f}"
        )
    print("ratio = method / raw-copy, measured in this run")
    fastest = max(("raw-copy", "raw-unnest"), key=lambda n: statistics.median(results[n]["new"]))
    for phase in ("new", "upsert"):
        best = max(statistics.median(results[n][phase]) for n in ("raw-copy", "raw-unnest"))
        ratio = statistics.median(results["backend"][phase]) / best
        print(f"backend / fastest raw method ({phase}): {ratio:.2f}")
    print(f"fastest raw method for new rows: {fastest}")
    for name, figures in results.items():
        spread = ", ".join(f"{phase} {min(v):,.0f}..{max(v):,.0f}" for phase, v in figures.items())
        print(f"  spread {name}: {spread}")


if __name__ == "__main__":
    main()
