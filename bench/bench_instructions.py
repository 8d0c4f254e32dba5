"""Instructions per engine update and per stored record, counted by valgrind (load-independent).

Run: python bench/bench_instructions.py [--python PY]

Runs each workload twice under ``valgrind --tool=callgrind`` (small and large, with
``PYTHONHASHSEED=0`` so dict layouts repeat) and prints the difference divided by the
extra work: instructions per update of engine workload (c) (bench_engine.py: updates on
random contacts of 1,000 disjoint 10-chains) and per record of a memory ``storage.write``
in 1,000-record batches (bench_storage.py's records), and the two halves of
bench_runtime.py's ``--breakdown``: a bare engine update of an unwired contact and a
buffered runtime update (memory storage, nothing flushed), whose difference is the
runtime's own work per update. Imports and setup cancel out. Counts
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

WORKLOADS = {
    "engine-c": (1_000, 6_000, "update"),
    "memory-write": (10, 60, "record"),
    "engine-unwired": (1_000, 6_000, "update"),
    "runtime-buffered": (1_000, 6_000, "update"),
}
UNWIRED = 6_000
"""Contacts of the unwired spec (whatever the number of updates, so building it cancels)."""


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


def engine_unwired(updates: int) -> None:
    """``updates`` bare ``Network.update_contact`` on distinct unwired contacts (the engine
    run of bench_runtime.py's ``--breakdown``)."""
    from bassline import Network
    from bassline.spec import parse_spec

    net = Network(parse_spec({"id": "u", "contacts": [{"id": f"c{i}"} for i in range(UNWIRED)]}))
    update = net.update_contact
    for i in range(updates):
        update(f"c{i}", [i, "payload"])


class _Stop(Exception):
    """Leaves the runtime without its closing flush."""


def runtime_buffered(updates: int) -> None:
    """``updates`` buffered ``update_contact`` through a runtime on memory storage, with a
    batch larger than the run and no flush (the runtime is left by an exception, which
    skips the closing flush): the engine run plus the runtime's own work per update."""
    from bassline.runtime import StorageBackedRuntime
    from bassline.spec import parse_spec
    from bassline.storage import open_storage

    spec = parse_spec({"id": "u", "contacts": [{"id": f"c{i}"} for i in range(UNWIRED)]})

    async def run() -> None:
        async with open_storage("memory://") as storage:
            try:
                async with StorageBackedRuntime(
                    spec,
                    storage,
                    durability="buffered",
                    queue_bound=10 * UNWIRED,
                    batch_size=10 * UNWIRED,
                    flush_interval=3600,
                ) as runtime:
                    write = runtime.update_contact
                    for i in range(updates):
                        await write(f"c{i}", [i, "payload"])
                    raise _Stop
            except _Stop:
                pass

    anyio.run(run)


RUNS = {
    "engine-c": engine_c,
    "memory-write": memory_write,
    "engine-unwired": engine_unwired,
    "runtime-buffered": runtime_buffered,
}


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
    parser.add_argument("--only", default=",".join(WORKLOADS), help="workloads to count")
    args = parser.parse_args()
    if args.run:
        workload, size = args.run
        RUNS[workload](int(size))
        return
    per_unit: dict[str, float] = {}
    for workload in args.only.split(","):
        small, large, unit = WORKLOADS[workload]
        extra = (large - small) * (1000 if workload == "memory-write" else 1)
        per = (count(args.python, workload, large) - count(args.python, workload, small)) / extra
        per_unit[workload] = per
        print(f"{workload:<16} {per:>10,.0f} instructions per {unit}  ({args.python})", flush=True)
    if "engine-unwired" not in per_unit or "runtime-buffered" not in per_unit:
        return
    engine = per_unit["engine-unwired"]
    own = per_unit["runtime-buffered"] - engine
    print(
        f"runtime's own work per buffered update: {own:,.0f} instructions, "
        f"{own / engine:.2f}x the engine run (issue 18 target <= 1.5)"
    )


if __name__ == "__main__":
    main()
