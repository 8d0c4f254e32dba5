"""Instructions per HTTP API request of a ``bassline start`` node, under callgrind.

Run: python bench/bench_api_instructions.py LABEL PYTHON DIR [N]

Starts ``PYTHON -m bassline start`` from ``DIR`` (10,000 contacts, memory storage, no
peers) under ``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``, warms it with 20
status calls and 20 batch writes, then sends N (default 100) ``GET /api/status`` and N
``POST /api/contacts`` of 100 values (as bench_api.py sends them) on one kept-alive httpx
connection, dumping the counters (``callgrind_control -d``) between the phases. Prints
the instructions per status and per write: load-independent, unlike bench_api.py's CPU.
Run it for two checkouts to compare them (main: LABEL main, PYTHON its venv's python).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import batches


def main() -> None:
    label, python, cwd = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        contacts = [{"id": f"c{i}"} for i in range(10_000)]
        spec.write_text(json.dumps({"id": "bench", "contacts": contacts}))
        out = Path(tmp) / f"{label}.%p.out"
        args = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python]
        args += ["-m", "bassline", "start", str(spec), "--node-id", "a"]
        args += ["--listen", "127.0.0.1:0", "--no-discover", "--log-level", "error"]
        env = dict(os.environ, PYTHONHASHSEED="0")
        proc = subprocess.Popen(
            args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        writes = batches(n + 20, 10_000)

        def dump() -> None:
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True)
            time.sleep(1)  # the dump is written by the node's process, not by the call

        with httpx.Client(timeout=600) as client:
            for i in range(20):
                client.get(url + "/api/status").raise_for_status()
                client.post(url + "/api/contacts", json={"values": writes[i]}).raise_for_status()
            client.get(url + "/api/status")
            dump()
            for _ in range(n):
                client.get(url + "/api/status").raise_for_status()
            dump()
            for i in range(n):
                body = {"values": writes[20 + i]}
                client.post(url + "/api/contacts", json=body).raise_for_status()
            dump()
        proc.terminate()
        proc.wait()
        dumps = sorted(Path(tmp).glob(f"{label}.*.out.*"), key=lambda p: int(p.suffix[1:]))
        totals = []
        for path in dumps:
            for line in path.read_text().splitlines():
                if line.startswith(("summary:", "totals:")):
                    totals.append(int(line.split()[1]))
                    break
    print(f"{label}: status {totals[1] // n:,} write {totals[2] // n:,} instructions/request")


if __name__ == "__main__":
    main()
