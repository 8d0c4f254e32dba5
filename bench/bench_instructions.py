"""Instructions per engine update and per stored record, counted by valgrind (load-independent).

Run: python bench/bench_instructions.py [--python PY]

Runs each workload twice under ``valgrind --tool=callgrind`` (small and large, with
``PYTHONHASHSEED=0`` so dict layouts repeat) and prints the difference divided by the
extra work: instructions per update of engine workload (c) (bench_engine.py: updates on
random contacts of 1,000 disjoint 10-chains) and per record of a memory ``storage.write``
in 1,000-record batches (bench_storage.py's records). Imports and setup cancel out. Counts
are the same on a busy machine as on a quiet one, so two versions can be compared while
other work runs: ``--python`` names the other checkout's interpreter (this bench file is
run with it).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

WORKLOADS = {"engine-c": (1_000, 6_000, "update"), "memory-write": (10, 60, "record")}


def engine_c(updates: int) -> None:
    """``updates`` updates of workload (c)."""
    from bench_engine import chain_spec, update_verb

    from bassline import Network
    from bassline.spec import parse_spec

    data: dict[str, list[dict[str, str]]] = {"contacts": [], "wires": []}
    for c in range(1000):
        part = chain_spec(10, prefix=f"k{c}-")
        data["contacts"] += part["contacts"]
        data["wires"] += part["wires"]
    net = Network(parse_spec(data))
    rng = random.Random(7)
    targets = [f"k{rng.randrange(1000)}-{rng.randrange(10)}" for _ in range(updates)]
    update = update_verb(net)
    for i, t in enumerate(targets):
        update(t, i)


def memory_write(batches: int) -> None:
    """``batches`` writes of 1,000 records to memory storage (the records of 60 batches
    are made whatever ``batches`` is, so making them cancels out)."""
    from bench_storage import SPEC, make_batches

    from bassline.storage import NetworkRecord, open_storage

    async def run() -> None:
        async with open_storage("memory://") as storage:
            (await storage.write([NetworkRecord(SPEC)])).unwrap()
            for batch in make_batches(60_000, 1000)[:batches]:
                (await storage.write(batch)).unwrap()

    anyio.run(run)


def count(python: str, workload: str, size: int) -> int:
    """Instructions of one run of ``workload`` at ``size`` under callgrind."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            python,
            __file__,
            "--run",
            workload,
            str(size),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    """Count and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--run", nargs=2, metavar=("WORKLOAD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        workload, size = args.run
        (engine_c if workload == "engine-c" else memory_write)(int(size))
        return
    for workload, (small, large, unit) in WORKLOADS.items():
        extra = (large - small) * (1 if workload == "engine-c" else 1000)
        per = (count(args.python, workload, large) - count(args.python, workload, small)) / extra
        print(f"{workload:<13} {per:>10,.0f} instructions per {unit}  ({args.python})", flush=True)


if __name__ == "__main__":
    main()
