"""HTTP API cost per request: ``GET /api/status`` and ``POST /api/contacts`` (100 values).

Run: python bench/bench_api.py [-n 1000] [--rounds 3] [--node PYTHON:DIR ...] [--profile DIR]

One ``bassline start`` process (10,000 contacts, no peers, memory storage) is sent, from
this process over one kept-alive connection (httpx, as bench_network.py writes), N status
calls and N batch writes of 100 distinct values (each ~100 bytes of JSON, as
``procs-10-distinct`` writes them), one at a time. Printed per kind: wall-clock µs per
request (client sends -> response read) and the node's CPU µs per request (utime+stime
from /proc), each with its ratio to the *baseline* measured in the same run: a bare
Hypercorn serving a constant JSON body of a status's size (an ASGI app of a dozen lines),
run in its own process, called the same way. A ratio of 1 would be an API costing no more
than Hypercorn's own HTTP/1.1 handling. Three more references, run the same way: *proxied*,
that app behind :class:`NodeServer` (since session 17 answered by the node's own HTTP/1.1
server), *hop*, the same with ``NodeServer._in_node_http = False`` (every request through
the Unix-socket hop to Hypercorn, as before), and *h11*, that body answered by a bare h11
loop on anyio (what an HTTP/1.1 server can cost in Python: the floor).

``--node PYTHON:DIR`` (repeatable) runs the node as ``PYTHON -m bassline`` from ``DIR``
(default: this interpreter from this checkout), so two checkouts are measured
alternately in the same run (``--node /work/main/.venv/bin/python:/work/main``).
``--profile DIR`` runs each node under bench/profile_node.py (cProfile on process time,
from the first measured request) and writes DIR/<label>.prof.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent

BASELINE_APP = """
import sys, anyio, orjson
from hypercorn.config import Config
from hypercorn.asyncio import serve
import asyncio
BODY = orjson.dumps({"pad": "x" * int(sys.argv[1])})
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
async def proxied():
    from bassline.net import BasslineNetwork, NodeServer
    if sys.argv[3] == "hop":  # every request through the hop to Hypercorn, as before
        NodeServer._in_node_http = False
    async with BasslineNetwork("b") as net, NodeServer(net, port=int(sys.argv[2]), app=app):
        print("http://127.0.0.1:" + sys.argv[2], flush=True)
        await anyio.sleep_forever()
async def h11_serve():
    import h11
    async def one(stream):
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive(65536)
                    conn.receive_data(data)
                    if not data:
                        return
                elif isinstance(event, h11.EndOfMessage):
                    await stream.send(conn.send(h11.Response(status_code=200, headers=[
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(BODY)).encode())])) + conn.send(h11.Data(data=BODY))
                        + conn.send(h11.EndOfMessage()))
                    conn.start_next_cycle()
                elif isinstance(event, (h11.ConnectionClosed, h11.PAUSED.__class__)):
                    return
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=int(sys.argv[2]))
    print("http://127.0.0.1:" + sys.argv[2], flush=True)
    await listener.serve(one)
if sys.argv[3] in ("proxied", "hop"):
    anyio.run(proxied)
if sys.argv[3] == "h11":
    anyio.run(h11_serve)
config = Config()
config.bind = ["127.0.0.1:" + sys.argv[2]]
config.accesslog = None
print("http://127.0.0.1:" + sys.argv[2], flush=True)
asyncio.run(serve(app, config))
"""


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def batches(n: int, contacts: int) -> list[dict[str, str]]:
    out = []
    for b in range(n):
        base = (b * 100) % contacts
        out.append({f"c{(base + i) % contacts}": "x" * 88 + f"{b:07d}{i:03d}" for i in range(100)})
    return out


def measure(
    url: str, pid: int, n: int, writes: list[dict[str, str]] | None, status_bytes: list[int]
) -> dict[str, float]:
    """µs per request (wall, node CPU) for N status calls then N writes (None: baseline,
    which is sent the same requests at its one path)."""
    out: dict[str, float] = {}
    with httpx.Client(timeout=60) as client:
        get_path = "/api/status" if writes is not None else "/"
        post_path = "/api/contacts" if writes is not None else "/"
        body = writes if writes is not None else batches(n, 10_000)
        for _ in range(20):  # warm the connection and the node (and its digest)
            status_bytes.append(len(client.get(url + get_path).content))
        for kind in ("status", "write"):
            c0, t0 = cpu_s(pid), time.perf_counter()
            for i in range(n):
                if kind == "status":
                    r = client.get(url + get_path)
                else:
                    r = client.post(url + post_path, json={"values": body[i]})
                r.raise_for_status()
            t1, c1 = time.perf_counter(), cpu_s(pid)
            out[f"{kind}_wall"] = (t1 - t0) / n * 1e6
            out[f"{kind}_cpu"] = (c1 - c0) / n * 1e6
            if kind == "status" and writes is not None:
                client.get(url + get_path)  # the writes' digest is computed after them
    return out


def start_node(python: str, cwd: str, spec: Path, label: str, profile: str | None) -> Any:
    wrap = (
        [str(HERE / "profile_node.py"), f"{profile}/{label}.prof"]
        if profile
        else ["-m", "bassline"]
    )
    args = [python, *wrap, "start", str(spec), "--node-id", "a", "--listen", "127.0.0.1:0"]
    args += ["--no-discover", "--log-level", "error"]
    return subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="requests of each kind")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of every node")
    parser.add_argument("--node", action="append", default=[], help="PYTHON:DIR of a checkout")
    parser.add_argument("--profile", default=None, help="directory for cProfile output")
    args = parser.parse_args()
    nodes = args.node or [f"{sys.executable}:{HERE.parent}"]
    rows: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(
            json.dumps({"id": "bench", "contacts": [{"id": f"c{i}"} for i in range(10_000)]})
        )
        for r in range(args.rounds):
            sizes: list[int] = []
            for label_i, node in enumerate(nodes):
                python, _, cwd = node.partition(":")
                label = f"node{label_i}-{Path(cwd).name}"
                proc = start_node(python, cwd, spec, f"{label}-r{r}", args.profile)
                try:
                    assert proc.stdout is not None
                    url = proc.stdout.readline().strip()
                    if args.profile:
                        time.sleep(0.2)
                        proc.send_signal(signal.SIGUSR1)
                    rows.setdefault(label, []).append(
                        measure(url, proc.pid, args.n, batches(args.n, 10_000), sizes)
                    )
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)
            # bare Hypercorn; the same behind NodeServer, in the node and through the hop;
            # a bare h11 loop on anyio (the floor)
            for kind in ("baseline", "proxied", "hop", "h11"):
                port = free_port()
                base = subprocess.Popen(
                    [sys.executable, "-c", BASELINE_APP, str(max(sizes) - 12), str(port), kind],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                try:
                    assert base.stdout is not None
                    url = base.stdout.readline().strip()
                    time.sleep(0.3)
                    rows.setdefault(kind, []).append(measure(url, base.pid, args.n, None, []))
                finally:
                    base.terminate()
                    base.wait(timeout=30)
            print(
                f"round {r + 1}: " + "; ".join(f"{k} {v[-1]}" for k, v in rows.items()),
                file=sys.stderr,
            )
    print(
        f"load: {Path('/proc/loadavg').read_text().split()[:3]}; n={args.n} x {args.rounds} rounds"
    )
    base = {k: statistics.median(r[k] for r in rows["baseline"]) for k in rows["baseline"][0]}
    print(
        f"{'':28s} {'status wall':>12s} {'status cpu':>12s} {'write wall':>12s} {'write cpu':>12s}  (µs/request, median; ratio to baseline)"
    )
    for label, rs in rows.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        cells = " ".join(
            f"{med[k]:7.0f} {med[k] / base[k]:4.1f}x"
            for k in ("status_wall", "status_cpu", "write_wall", "write_cpu")
        )
        print(f"{label:28s} {cells}")


if __name__ == "__main__":
    main()
