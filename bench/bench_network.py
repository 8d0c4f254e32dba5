"""Gossip benchmark: convergence time, end-to-end updates/s, bytes on the wire, memory.

Run: python bench/bench_network.py [--quick]

Scenarios (each prints its figures and its ratio to a baseline measured in the same run):

* ``procs-10-distinct``: 10 processes, 10,000 updates each to a different contact (no
  update can be coalesced away: the honest bytes-per-update figure).
* ``procs-3`` / ``procs-10``: nodes as separate ``bassline start`` processes on loopback,
  updates written through the HTTP API (batches of 100, all nodes written concurrently).
* ``inproc-25``: 25 nodes in one process (real sockets on loopback): 25 processes do not
  fit 2 cores.
* ``proto-115/45 x10``: the prototype's heavy-stress shape (115 contacts, 45 wires) on 10
  in-process nodes.
* ``proto-500/380 x50``: the prototype's ultimate-stress shape (500 contacts, 380 wires) on
  50 in-process nodes with 100,000 updates.

Figures: *settle* = time from the last acknowledged write until every node's digest is
equal (digests polled every ``poll`` seconds, so the figure is within one poll);
*e2e upd/s* = updates / (first write -> convergence); *wire/upd* = WebSocket bytes sent by
all nodes (received, for processes) / (updates x (nodes - 1)), i.e. per delivered update,
against *id+payload* (the contact id plus the JSON payload); *mem/node* = resident memory per process (procs) or
process RSS / nodes (in-process). *baseline* = the same updates written to one node with
no peers (StorageBackedRuntime on memory), updates/s, the median of five runs. The process scenarios also print
the CPU time the nodes (and this process) used while writing and while settling, and the
contents sent, received and received redundantly (held already) per update, over all
nodes: with ``nodes - 1`` per update no content crossed a link twice; then the changes
announced without their values (eager and lazy push), the grafts and the prunes. With
``--trace-settle`` they print each convergence poll round too: when it started after the
last write, and how long each node's ``GET /api/status`` took (what is measured is the same).

To profile the node processes, set ``BENCH_PROFILE_DIR`` (a directory) and
``BENCH_PROFILE_WRAPPER`` (a script run as ``python WRAPPER DIR/node-<i>.prof start ...``
that runs ``python -m bassline`` under a profiler and writes that file), e.g.
``bench/profile_node.py``: each node is sent SIGUSR1 as the writes start (that wrapper
starts its profiler then, on process time; a wrapper must handle the signal, whose
default action ends the process).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx

from bassline.net import BasslineNetwork, GossipSettings, NodeServer
from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import open_storage

SETTINGS = GossipSettings(discover=False, heartbeat_interval=2, heartbeat_timeout=6)


def flat_spec(n: int) -> Bassline:
    return parse_spec({"id": "bench", "contacts": [{"id": f"c{i}"} for i in range(n)]})


def wired_spec(contacts: int, wires: int, seed: int = 7) -> Bassline:
    """``contacts`` accept-last contacts in groups of 5, ``wires`` directed wires forward."""
    rng = random.Random(seed)
    ids = [f"c{i}" for i in range(contacts)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < wires:
        a = rng.randrange(contacts - 1)
        b = rng.randrange(a + 1, contacts)
        pairs.add((a, b))
    return parse_spec(
        {
            "id": f"proto-{contacts}-{wires}",
            "contacts": [{"id": c} for c in ids],
            "wires": [{"from": ids[a], "to": ids[b], "type": "directed"} for a, b in sorted(pairs)],
        }
    )


def workload(
    spec: Bassline, updates: int, payload: int, seed: int = 1, distinct: bool = False
) -> list[dict[str, Any]]:
    """Batches of 100 writes, each value ~``payload`` bytes of JSON: to random contacts,
    or (``distinct``) each contact written once, so no update can be coalesced away."""
    rng = random.Random(seed)
    ids = [c.id for c in spec.contacts]
    order = iter(rng.sample(ids, updates)) if distinct else None
    batches = []
    for b in range(updates // 100):
        batch: dict[str, Any] = {}
        while len(batch) < 100:
            cid = next(order) if order is not None else rng.choice(ids)
            batch[cid] = "x" * max(0, payload - 12) + f"{b:05d}{len(batch):03d}"
        batches.append(batch)
    return batches


def id_plus_payload(batches: list[dict[str, Any]]) -> float:
    sizes = [len(cid) + len(json.dumps(v)) for batch in batches for cid, v in batch.items()]
    return sum(sizes) / len(sizes)


def topology(i: int) -> list[int]:
    """Node i dials i-1 and, from 2 on, i//2: a line plus a tree (several paths)."""
    return [i - 1] + ([i // 2] if i >= 2 and i // 2 != i - 1 else []) if i else []


async def baseline(spec: Bassline, batches: list[dict[str, Any]], runs: int = 5) -> float:
    """The median rate of ``runs`` runs, each on a fresh runtime after a full collection: one
    run lasts 40-100 ms, and a full collection falling inside it decided a single figure
    (bench_baseline.py shows each run)."""
    rates = []
    for _ in range(runs):
        async with open_storage("memory://") as storage:
            async with StorageBackedRuntime(spec, storage, node_id="solo") as runtime:
                gc.collect()
                t0 = time.perf_counter()
                for batch in batches:
                    await runtime.update_many(batch)
                rates.append(len(batches) * 100 / (time.perf_counter() - t0))
    return statistics.median(rates)


def cpu_s(pid: int, system_only: bool = False) -> float:
    """User + system CPU seconds a process has used so far (``system_only``: system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    used = int(fields[12]) + (0 if system_only else int(fields[11]))
    return used / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int | None = None) -> int:
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1])


async def run_inprocess(
    name: str, spec: Bassline, nodes: int, batches: list[dict[str, Any]], poll: float
) -> dict[str, Any]:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        nets: list[BasslineNetwork] = []
        urls: list[str] = []
        for i in range(nodes):
            net = await stack.enter_async_context(
                BasslineNetwork(
                    f"n{i}", spec, settings=SETTINGS, peers=[urls[j] for j in topology(i)]
                )
            )
            server = await stack.enter_async_context(NodeServer(net, "127.0.0.1", 0))
            assert server.url is not None
            nets.append(net)
            urls.append(server.url.ws)
        links = 2 * sum(len(topology(i)) for i in range(nodes))
        while sum(len(n.peers()) for n in nets) < links:  # noqa: ASYNC110 - measurement poll
            await anyio.sleep(0.05)
        base_bytes = sum(n.metrics.bytes_out for n in nets)
        t0 = time.perf_counter()

        async def writer(k: int) -> None:
            for b in range(k, len(batches), nodes):
                await nets[k].update_many(batches[b])

        async with anyio.create_task_group() as tg:
            for k in range(nodes):
                tg.start_soon(writer, k)
        t_last = time.perf_counter()
        while len({n.digest() for n in nets}) != 1:  # noqa: ASYNC110 - measurement poll
            await anyio.sleep(poll)
        t_done = time.perf_counter()
        wire = sum(n.metrics.bytes_out for n in nets) - base_bytes
        return summary(
            name, "in-process", nodes, batches, t0, t_last, t_done, wire, rss_kib() / nodes, poll
        )


def summary(
    name: str,
    kind: str,
    nodes: int,
    batches: list[dict[str, Any]],
    t0: float,
    t_last: float,
    t_done: float,
    wire: int,
    mem_kib: float,
    poll: float,
) -> dict[str, Any]:
    updates = len(batches) * 100
    return {
        "scenario": name,
        "kind": kind,
        "nodes": nodes,
        "updates": updates,
        "write_s": t_last - t0,
        "settle_s": t_done - t_last,
        "e2e_ups": updates / (t_done - t0),
        "wire_per_update": wire / (updates * (nodes - 1)),
        "id_payload": id_plus_payload(batches),
        "mem_mib": mem_kib / 1024,
        "poll_s": poll,
    }


def profiled(i: int) -> list[str]:
    """Run node ``i`` under BENCH_PROFILE_WRAPPER (a script taking the output file, then
    ``-m bassline``'s arguments) writing DIR/node-i.prof, when BENCH_PROFILE_DIR is set."""
    where = os.environ.get("BENCH_PROFILE_DIR")
    if not where:
        return []
    return [os.environ["BENCH_PROFILE_WRAPPER"], f"{where}/node-{i}.prof"]


def run_processes(
    name: str,
    spec: Bassline,
    nodes: int,
    batches: list[dict[str, Any]],
    poll: float,
    trace: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        spec_file = Path(tmp) / "spec.json"
        from bassline.codec import to_json

        spec_file.write_text(json.dumps(to_json(spec.to_dict())))
        procs: list[subprocess.Popen[str]] = []
        urls: list[str] = []
        try:
            for i in range(nodes):
                peers = [a for j in topology(i) for a in ("--peer", urls[j])]
                wrap = profiled(i)
                args = [sys.executable, *(wrap or ["-m", "bassline"]), "start", str(spec_file)]
                args += ["--node-id"]
                args += [
                    f"p{i}",
                    "--listen",
                    "127.0.0.1:0",
                    "--no-discover",
                    "--log-level",
                    "error",
                ]
                proc = subprocess.Popen(args + peers, stdout=subprocess.PIPE, text=True)
                procs.append(proc)
                assert proc.stdout is not None
                urls.append(proc.stdout.readline().strip())
            client = httpx.Client(timeout=60)

            def status(u: str) -> dict[str, Any]:
                result: dict[str, Any] = client.get(f"{u}/api/status").json()
                return result

            expected_links = sum(len(topology(i)) for i in range(nodes)) * 2
            while sum(len(status(u)["peers"]) for u in urls) < expected_links:
                time.sleep(0.05)
            # bytes received: 0.3.0 lost some of the bytes it sent from its count (several
            # links added to it across an await), never any it received
            base_bytes = sum(status(u)["gossip"]["bytes_in"] for u in urls)

            # one client per writer, made before the clock starts: a client builds an SSL
            # context (~20 ms of CPU), which is no part of the writes
            writers = [httpx.Client(timeout=60) for _ in range(nodes)]

            def writer(k: int) -> None:
                with writers[k] as c:
                    for b in range(k, len(batches), nodes):
                        c.post(
                            f"{urls[k]}/api/contacts", json={"values": batches[b]}
                        ).raise_for_status()

            if os.environ.get("BENCH_PROFILE_DIR"):  # profile the writes, not start-up
                for p in procs:
                    p.send_signal(signal.SIGUSR1)
            cpu0, own0 = [cpu_s(p.pid) for p in procs], time.process_time()
            sys0 = sum(cpu_s(p.pid, system_only=True) for p in procs)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(nodes) as pool:
                list(pool.map(writer, range(nodes)))
            t_last = time.perf_counter()
            cpu1, own1 = [cpu_s(p.pid) for p in procs], time.process_time()
            rounds: list[tuple[float, list[float]]] = []

            def digests() -> set[str]:
                if not trace:  # as the bench has always polled
                    return {status(u)["digest"] for u in urls}
                start, took, seen = time.perf_counter(), [], set()
                for u in urls:
                    a = time.perf_counter()
                    seen.add(status(u)["digest"])
                    took.append(time.perf_counter() - a)
                rounds.append((start, took))
                return seen

            while len(digests()) != 1:
                time.sleep(poll)
            t_done = time.perf_counter()
            cpu2, own2 = [cpu_s(p.pid) for p in procs], time.process_time()
            sys2 = sum(cpu_s(p.pid, system_only=True) for p in procs)
            print(
                f"cpu: nodes write {sum(cpu1) - sum(cpu0):.2f}s settle {sum(cpu2) - sum(cpu1):.2f}s "
                f"(per node {', '.join(f'{b - a:.2f}' for a, b in zip(cpu0, cpu2, strict=True))}; "
                f"of all that, system {sys2 - sys0:.2f}s); "
                f"bench process write {own1 - own0:.2f}s settle {own2 - own1:.2f}s",
                flush=True,
            )
            for k, (start, took) in enumerate(rounds, 1):
                print(
                    f"settle round {k}: starts {(start - t_last) * 1000:.1f} ms after the last "
                    f"write, {sum(took) * 1000:.1f} ms; status ms "
                    + " ".join(f"{t * 1000:.1f}" for t in took),
                    flush=True,
                )
            final = [status(u)["gossip"] for u in urls]
            wire = sum(g["bytes_in"] for g in final) - base_bytes
            print(
                "items out/in/redundant per update: "
                + "/".join(
                    f"{sum(g.get(k, 0) for g in final) / len(batches) / 100:.2f}"
                    for k in ("items_out", "items_in", "items_redundant")
                )
                + "; announced out/in per update "
                + "/".join(
                    f"{sum(g.get(k, 0) for g in final) / len(batches) / 100:.2f}"
                    for k in ("items_announced_out", "items_announced_in")
                )
                + f"; deltas out {sum(g['deltas_out'] for g in final)}"
                + f"; grafts {sum(g.get('grafts', 0) for g in final)}"
                + f"; prunes {sum(g['messages_out'].get('prune', 0) for g in final)}",
                flush=True,
            )
            mem = sum(rss_kib(p.pid) for p in procs) / nodes
            return summary(name, "processes", nodes, batches, t0, t_last, t_done, wire, mem, poll)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)


def show(row: dict[str, Any], base: float) -> None:
    print(
        f"{row['scenario']:<20} {row['kind']:<10} nodes={row['nodes']:<3} updates={row['updates']:<7} "
        f"write={row['write_s']:.2f}s settle={row['settle_s']:.2f}s (poll {row['poll_s']}s) "
        f"e2e={row['e2e_ups']:,.0f} upd/s ({row['e2e_ups'] / base:.3f}x baseline {base:,.0f}) "
        f"wire/upd={row['wire_per_update']:.1f} B vs id+payload {row['id_payload']:.1f} B "
        f"({row['wire_per_update'] / row['id_payload']:.2f}x) mem/node={row['mem_mib']:.1f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--payload", type=int, default=100, help="bytes of JSON per value")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument(
        "--trace-settle",
        action="store_true",
        help="process scenarios: print each convergence poll round's start (after the last "
        "write) and each status call's duration",
    )
    args = parser.parse_args()
    q = args.quick
    flat = flat_spec(1000)
    proto_small = wired_spec(115, 45)
    proto_big = wired_spec(500, 380)
    plans = [
        ("procs-10-distinct", "p", flat_spec(10_000), 10, 2_000 if q else 10_000, 0.05),
        ("procs-3", "p", flat, 3, 2_000 if q else 10_000, 0.05),
        ("procs-10", "p", flat, 10, 2_000 if q else 10_000, 0.05),
        ("inproc-25", "i", flat, 25, 2_000 if q else 10_000, 0.1),
        ("proto-115/45x10", "i", proto_small, 10, 2_500, 0.05),
        ("proto-500/380x50", "i", proto_big, 50, 10_000 if q else 100_000, 0.25),
    ]
    only = set(filter(None, args.only.split(",")))
    for name, kind, spec, nodes, updates, poll in plans:
        if only and name not in only:
            continue
        batches = workload(spec, updates, args.payload, distinct=name.endswith("distinct"))
        base = anyio.run(baseline, spec, batches)
        if kind == "p":
            row = run_processes(name, spec, nodes, batches, poll, args.trace_settle)
        else:
            row = anyio.run(run_inprocess, name, spec, nodes, batches, poll)
        show(row, base)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"bench process peak RSS {peak / 1024:.0f} MiB; cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
