"""Failover benchmark: how long after ``kill -9`` of the process owning gadget groups
another process runs them, with the default ``claim_interval`` (1 s).

Run: python bench/bench_failover.py [--rounds 5] [--claim-interval 1.0]
     (uses BASSLINE_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test,
      in a fresh schema that is dropped afterwards)

Each round starts a child process that owns both gadget groups of a two-adder network
(a ``StorageBackedRuntime``), starts a second runtime in this process that waits for
them, kills the child with SIGKILL and measures the time until this process runs both
groups and has computed their outputs from the child's stored inputs. The baseline, in
the same run: a child holding a raw ``pg_advisory_lock`` on a plain psycopg connection,
killed the same way, and this process polling ``pg_try_advisory_lock`` every 10 ms: how
fast PostgreSQL itself frees a dead session's lock. The kill comes at a random point of
the waiting runtime's claim cycle, so the expected wait is half an interval plus the
lock's release and the catch-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg import sql

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[1]


def two_adders() -> Any:
    from bassline.spec import parse_spec

    groups, contacts, wires = [], [], []
    for side, p in (("left", "l"), ("right", "r")):
        groups.append({"id": side, "gadget": "add"})
        for port, direction in (("a", "input"), ("b", "input"), ("sum", "output")):
            contacts.append({"id": f"{p}-{port}"})
            contacts.append(
                {"id": f"{side}.{port}", "group": side, "name": port, "boundary": direction}
            )
        wires += [
            {"from": f"{p}-a", "to": f"{side}.a", "type": "directed"},
            {"from": f"{p}-b", "to": f"{side}.b", "type": "directed"},
            {"from": f"{side}.sum", "to": f"{p}-sum", "type": "directed"},
        ]
    return parse_spec({"id": "failover", "groups": groups, "contacts": contacts, "wires": wires})


async def child_runtime(url: str, ready: str, interval: float) -> None:
    from bassline.runtime import StorageBackedRuntime
    from bassline.storage import open_storage

    async with open_storage(url) as storage:
        async with StorageBackedRuntime(
            two_adders(), storage, node_id="child", claim_interval=interval
        ) as rt:
            await rt.update_many({"l-a": 1, "l-b": 2, "r-a": 3, "r-b": 4})
            Path(ready).write_text(json.dumps(sorted(rt.run_groups)))  # noqa: ASYNC240
            await anyio.sleep_forever()


def child_lock(url: str, ready: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(424242)")
        Path(ready).write_text("locked")
        time.sleep(3600)


def spawn(mode: str, url: str, ready: Path, interval: float) -> subprocess.Popen[bytes]:
    ready.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, url, str(ready), str(interval)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the {mode} child did not get ready")
        time.sleep(0.01)
    return child


def raw_round(url: str, ready: Path) -> float:
    child = spawn("lock", url, ready, 0)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_try_advisory_lock(424242)").fetchone() == (False,)
        start = time.perf_counter()
        child.send_signal(signal.SIGKILL)
        child.wait()
        while conn.execute("SELECT pg_try_advisory_lock(424242)").fetchone() != (True,):
            time.sleep(0.01)
        took = time.perf_counter() - start
        conn.execute("SELECT pg_advisory_unlock(424242)")
    return took


async def ours_round(url: str, ready: Path, interval: float) -> float:
    from bassline.runtime import StorageBackedRuntime
    from bassline.storage import open_storage

    child = spawn("runtime", url, ready, interval)
    try:
        async with open_storage(url) as storage:
            async with StorageBackedRuntime(
                two_adders(), storage, node_id="bench", claim_interval=interval
            ) as rt:
                assert rt.run_groups == frozenset(), "the child should own both groups"
                # kill at a random point of this process's claim cycle
                await anyio.sleep(random.uniform(0, interval))
                start = time.perf_counter()
                child.send_signal(signal.SIGKILL)
                child.wait()
                done = {"left", "right"}, 3, 7
                while (rt.run_groups, rt.value("l-sum", None), rt.value("r-sum", None)) != done:  # noqa: ASYNC110 - a 5 ms poll is the resolution
                    await anyio.sleep(0.005)
                return time.perf_counter() - start
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, url, ready, interval = sys.argv[2:6]
        if mode == "lock":
            child_lock(url, ready)
        else:
            anyio.run(child_runtime, url, ready, float(interval))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--claim-interval", type=float, default=1.0)
    args = parser.parse_args()
    from bassline_storage_postgres import migrate

    base = os.environ.get("BASSLINE_TEST_POSTGRES_URL", PG_DEFAULT)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}schema={schema}"
    try:
        migrate(url)
        with tempfile.TemporaryDirectory() as tmp:
            ready = Path(tmp) / "ready"
            raw = [raw_round(base, ready) for _ in range(args.rounds)]
            ours = [
                anyio.run(ours_round, url, ready, args.claim_interval) for _ in range(args.rounds)
            ]
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
    raw_med, ours_med = statistics.median(raw), statistics.median(ours)
    print(f"rounds {args.rounds}, claim_interval {args.claim_interval:g} s")
    print(
        f"raw lock freed after kill -9 (10 ms polls): median {raw_med * 1000:.0f} ms, "
        f"max {max(raw) * 1000:.0f} ms"
    )
    print(
        f"groups running elsewhere, outputs caught up: median {ours_med * 1000:.0f} ms, "
        f"max {max(ours) * 1000:.0f} ms ({ours_med / raw_med:.1f}x the raw lock)"
    )


if __name__ == "__main__":
    main()
