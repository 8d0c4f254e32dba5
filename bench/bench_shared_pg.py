"""Benchmark: N processes sharing one PostgreSQL database through the change feed.

For N = 1, 2, 4 processes (real processes, one ``StorageBackedRuntime`` each, durable
writes, ``synchronous_commit`` on), every process writes contacts of its own for
``--seconds`` with ``--writers`` concurrent writer tasks, while following the others'
writes through the feed. Reported per N:

* **aggregate updates/s**: acknowledged durable updates of all processes per second;
* **lag p50/p99**: from the moment a writer's ``update_contact`` returned (the commit was
  acknowledged) to the moment the value arrived in another process's engine (its
  listener ran), over every (write, other process) pair; a value overwritten before a
  reader read it is not counted (its newer value is).

Beside it, the **raw psycopg baseline**: one connection inserts a row and ``NOTIFY``s in
one transaction and commits; another, in its own process, ``LISTEN``s and on each
notification reads the row; the lag is from the writer's commit returning to the read
returning. Targets (issue 17): lag p99 at most 3x the raw p99; the aggregate with 4
processes at least 0.8x that of one.

And at each N, the **raw baseline at the same N** (before the Bassline processes): N raw
psycopg processes, each committing rows (one INSERT and one NOTIFY a transaction) in a loop
on one connection while, on another, LISTENing and reading the rows the others announced
(one SELECT per wakeup): its aggregate commits/s and lag p50/p99. It is what N busy
processes and the server cost on this machine with nothing of Bassline, so each Bassline
lag p99 is printed against both the one-pair raw p99 (the issue's target) and the raw p99
at the same N; with it, the follower's read and skip counts.

Run: ``.venv/bin/python bench/bench_shared_pg.py [--seconds 5] [--writers 16]`` against
``BASSLINE_BENCH_POSTGRES_URL`` (default: ``BASSLINE_TEST_POSTGRES_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``). It works in a schema of its own, dropped
at the end. ``--child`` is how it runs itself in each process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import anyio
import psycopg
import psycopg.conninfo
from bassline_storage_postgres import migrate
from psycopg import sql

from bassline.engine import PropagationResult
from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage

NETWORK = "shared-bench"
POOL = 50
"""Contacts per writer task (each task cycles through its own)."""
MAX_PROCESSES = 4


def _url() -> str:
    return os.environ.get(
        "BASSLINE_BENCH_POSTGRES_URL",
        os.environ.get("BASSLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )


def _spec(writers: int) -> dict[str, Any]:
    return {
        "id": NETWORK,
        "contacts": [
            {"id": f"p{p}-w{w}-{k}"}
            for p in range(MAX_PROCESSES)
            for w in range(writers)
            for k in range(POOL)
        ],
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- one process


async def _child(url: str, index: int, writers: int, seconds: float) -> dict[str, Any]:
    me = f"p{index}-"
    acks: dict[str, float] = {}
    arrivals: dict[str, float] = {}
    count = 0
    async with open_storage(url) as storage:
        runtime = StorageBackedRuntime(_spec(writers), storage, node_id=f"p{index}")
        async with runtime:

            def seen(result: PropagationResult) -> None:
                now = time.monotonic()
                ids, values, _ = result.touched
                for cid, value in zip(ids, values, strict=True):
                    if not cid.startswith(me):
                        arrivals.setdefault(f"{cid}={value}", now)

            runtime.add_listener(seen)
            print("ready", flush=True)
            sys.stdin.readline()  # the parent starts every process at once
            started = time.monotonic()
            deadline = started + seconds

            async def writer(w: int) -> None:
                nonlocal count
                j = 0
                while time.monotonic() < deadline:
                    cid = f"{me}w{w}-{j % POOL}"
                    await runtime.update_contact(cid, j)
                    acks[f"{cid}={j}"] = time.monotonic()
                    count += 1
                    j += 1

            async with anyio.create_task_group() as tg:
                for w in range(writers):
                    tg.start_soon(writer, w)
            elapsed = time.monotonic() - started
            # keep following the others for a moment: their last writes arrive
            await anyio.sleep(1.5)  # a fixed tail to receive the last writes, not a sync
            feed = runtime.feed
    return {
        "count": count,
        "elapsed": elapsed,
        "acks": acks,
        "arrivals": arrivals,
        "feed": {"reads": feed.reads, "applied": feed.applied, "skipped": feed.skipped},
    }


def _run_processes(url: str, n: int, writers: int, seconds: float) -> dict[str, Any]:
    tail = ["--seconds", str(seconds), "--url", url]
    return _gather(
        [
            [sys.executable, __file__, "--child", str(i), "--writers", str(writers), *tail]
            for i in range(n)
        ],
        seconds,
    )


def _gather(commands: list[list[str]], seconds: float) -> dict[str, Any]:
    """Start the processes, let them all go at once, and collect the aggregate rate and
    every (write, other process) lag."""
    procs = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for command in commands
    ]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        assert line == "ready", f"a child did not start: {line!r}"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        assert p.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    total = sum(r["count"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    lags: list[float] = []
    for i, writer in enumerate(results):
        for j, reader in enumerate(results):
            if i == j:
                continue
            arrivals = reader["arrivals"]
            for key, acked in writer["acks"].items():
                if key in arrivals:
                    lags.append(arrivals[key] - acked)
    feed = {k: sum(r.get("feed", {}).get(k, 0) for r in results) for k in ("reads", "skipped")}
    return {"rate": total / elapsed, "lags": lags, "feed": feed}


# ---------------------------------------------------------------- raw baseline

_RAW_LISTENER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("LISTEN bench_raw")
print("ready", flush=True)
out = []
done = False
while not done:
    for note in conn.notifies(stop_after=1):
        if note.payload == "stop":
            done = True
            break
        pending = int(note.payload)
    if not done:
        conn.execute("SELECT v FROM bench_raw_rows WHERE id = %s", [pending]).fetchone()
        out.append(f"{pending} {time.monotonic()}")
print("\\n".join(out), flush=True)
"""


def _raw_baseline(base: str, schema: str, writes: int) -> list[float]:
    url = psycopg.conninfo.make_conninfo(base, options=f"-c search_path={schema}")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE TABLE bench_raw_rows (id int PRIMARY KEY, v text)")
    listener = subprocess.Popen(
        [sys.executable, "-c", _RAW_LISTENER, url], stdout=subprocess.PIPE, text=True
    )
    assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
    committed: dict[int, float] = {}
    with psycopg.connect(url) as conn:
        for i in range(writes):
            conn.execute("INSERT INTO bench_raw_rows VALUES (%s, %s)", [i, f"value {i}"])
            conn.execute("SELECT pg_notify('bench_raw', %s)", [str(i)])
            conn.commit()
            committed[i] = time.monotonic()
        conn.execute("SELECT pg_notify('bench_raw', 'stop')")
        conn.commit()
    out, _ = listener.communicate(timeout=120)
    lags = []
    for line in out.strip().splitlines():
        i, seen = line.split()
        lags.append(float(seen) - committed[int(i)])
    return lags


# ---------------------------------------------------------------- raw baseline at N

_RAW_ROWS = "CREATE TABLE bench_raw_peers (proc int, k int, v text, PRIMARY KEY (proc, k))"


def _raw_peer(url: str, index: int, seconds: float, tail: float) -> dict[str, Any]:
    """One process of the raw baseline at N: a writer thread commits rows (one INSERT and
    one ``pg_notify`` per transaction) in a loop, while a listener thread, on its own
    connection, wakes on the others' notifications and reads every row they announced
    (one SELECT per wakeup, for all it announced). What Bassline does per process, with
    nothing of Bassline."""
    acks: dict[str, float] = {}
    arrivals: dict[str, float] = {}
    count = 0
    listener = psycopg.connect(url, autocommit=True)
    listener.execute("LISTEN bench_raw_peers")
    writer = psycopg.connect(url)
    print("ready", flush=True)
    sys.stdin.readline()  # the parent starts every process at once
    started = time.monotonic()
    deadline = started + seconds

    def listen() -> None:
        pgconn = listener.pgconn
        while time.monotonic() < deadline + tail:
            wanted: list[tuple[int, int]] = []
            for note in listener.notifies(timeout=0.1, stop_after=1):
                notes = [note.payload]
                while (more := pgconn.notifies()) is not None:  # what else arrived
                    notes.append(more.extra.decode())
                for payload in notes:
                    proc, k = map(int, payload.split())
                    if proc != index:
                        wanted.append((proc, k))
            if wanted:
                rows = listener.execute(
                    "SELECT proc, k, v FROM bench_raw_peers"
                    " WHERE (proc, k) IN (SELECT * FROM unnest(%s::int[], %s::int[]))",
                    [[p for p, _ in wanted], [k for _, k in wanted]],
                ).fetchall()
                now = time.monotonic()
                for proc, k, _ in rows:
                    arrivals[f"{proc}:{k}"] = now

    thread = threading.Thread(target=listen)
    thread.start()
    k = 0
    while time.monotonic() < deadline:
        writer.execute("INSERT INTO bench_raw_peers VALUES (%s, %s, %s)", [index, k, f"v{k}"])
        writer.execute("SELECT pg_notify('bench_raw_peers', %s)", [f"{index} {k}"])
        writer.commit()
        acks[f"{index}:{k}"] = time.monotonic()
        count += 1
        k += 1
    elapsed = time.monotonic() - started
    thread.join()
    writer.close()
    listener.close()
    return {"count": count, "elapsed": elapsed, "acks": acks, "arrivals": arrivals}


def _raw_at(base: str, schema: str, n: int, seconds: float) -> dict[str, Any]:
    url = psycopg.conninfo.make_conninfo(base, options=f"-c search_path={schema}")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP TABLE IF EXISTS bench_raw_peers")
        admin.execute(_RAW_ROWS)
    tail = ["--seconds", str(seconds), "--url", url]
    return _gather(
        [[sys.executable, __file__, "--raw-child", str(i), *tail] for i in range(n)],
        seconds,
    )


# ---------------------------------------------------------------- main


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--raw-writes", type=int, default=2000)
    parser.add_argument("--child", type=int, default=None)
    parser.add_argument("--raw-child", type=int, default=None)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    if args.child is not None:
        result = anyio.run(_child, args.url, args.child, args.writers, args.seconds)
        print(json.dumps(result), flush=True)
        return
    if args.raw_child is not None:
        tail = 1.5  # as long as a Bassline process keeps following after its writes
        print(json.dumps(_raw_peer(args.url, args.raw_child, args.seconds, tail)), flush=True)
        return
    base = _url()
    schema = f"bench_shared_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        url = _with_schema(base, schema)
        migrate(url)
        raw = _raw_baseline(base, schema, args.raw_writes)
        raw_p50, raw_p99 = _percentile(raw, 0.5), _percentile(raw, 0.99)
        print(
            f"raw psycopg INSERT+NOTIFY -> LISTEN+SELECT, {len(raw)} commits: "
            f"lag p50 {raw_p50 * 1e3:.2f} ms, p99 {raw_p99 * 1e3:.2f} ms"
        )
        rates: dict[int, float] = {}
        raw_rates: dict[int, float] = {}
        for n in (1, 2, 4):
            peers = _raw_at(base, schema, n, args.seconds)
            raw_rates[n] = peers["rate"]
            line = f"N={n} raw peers: {peers['rate']:,.0f} commits/s"
            line += f" ({peers['rate'] / raw_rates[1]:.2f}x raw N=1)"
            peer_p99 = None
            if peers["lags"]:
                p50, peer_p99 = _percentile(peers["lags"], 0.5), _percentile(peers["lags"], 0.99)
                line += (
                    f"; lag p50 {p50 * 1e3:.2f} ms, p99 {peer_p99 * 1e3:.2f} ms over "
                    f"{len(peers['lags'])} deliveries ({peer_p99 / raw_p99:.2f}x one-pair raw p99)"
                )
            print(line, flush=True)
            got = _run_processes(url, n, args.writers, args.seconds)
            rates[n] = got["rate"]
            line = f"N={n} bassline:  {got['rate']:,.0f} acknowledged updates/s"
            line += f" ({got['rate'] / rates[1]:.2f}x N=1)"
            if got["lags"]:
                p50, p99 = _percentile(got["lags"], 0.5), _percentile(got["lags"], 0.99)
                line += (
                    f"; lag p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms over "
                    f"{len(got['lags'])} deliveries ({p99 / raw_p99:.2f}x one-pair raw p99"
                )
                if peer_p99:
                    line += f", {p99 / peer_p99:.2f}x raw p99 at N={n}"
                line += f"); feed reads {got['feed']['reads']}"
                line += f", records read that it held already {got['feed']['skipped']}"
            print(line, flush=True)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
