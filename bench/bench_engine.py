"""Engine benchmark: propagation steps per second against a bare Python BFS doing the same visits.

Run: python bench/bench_engine.py [--quick] [--repeat 3] [--memory-contacts N]

Each workload prints the engine's steps/s, the bare loop's visits/s measured in the same
run, and their ratio (the target is >= 0.25 on a, b, c). Then peak traced memory per
contact for a 1,000,000-contact network.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

from bassline import Network
from bassline.spec import parse_spec


def chain_spec(n: int, prefix: str = "c", group: str | None = None) -> dict[str, Any]:
    contacts = [{"id": f"{prefix}{i}"} for i in range(n)]
    if group:
        for c in contacts:
            c["group"] = group
    wires = [
        {"id": f"w{prefix}{i}", "from": f"{prefix}{i}", "to": f"{prefix}{i + 1}"}
        for i in range(n - 1)
    ]
    return {"contacts": contacts, "wires": wires}


def grid_spec(side: int) -> dict[str, Any]:
    contacts = [{"id": f"g{r}-{c}"} for r in range(side) for c in range(side)]
    wires = []
    for r in range(side):
        for c in range(side):
            if c + 1 < side:
                wires.append({"id": f"h{r}-{c}", "from": f"g{r}-{c}", "to": f"g{r}-{c + 1}"})
            if r + 1 < side:
                wires.append({"id": f"v{r}-{c}", "from": f"g{r}-{c}", "to": f"g{r + 1}-{c}"})
    return {"contacts": contacts, "wires": wires}


def adjacency(spec: dict[str, Any]) -> dict[str, list[str]]:
    adj: dict[str, list[str]] = {c["id"]: [] for c in spec["contacts"]}
    for w in spec["wires"]:
        adj[w["from"]].append(w["to"])
        adj[w["to"]].append(w["from"])
    return adj


def bare_bfs(adj: dict[str, list[str]], start: str) -> int:
    """The baseline: breadth-first visits over a dict adjacency list."""
    visited = {start}
    queue = deque([start])
    visits = 0
    while queue:
        node = queue.popleft()
        visits += 1
        for nxt in adj[node]:
            if nxt not in visited:
                visited.add(nxt)
                queue.append(nxt)
    return visits


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[float, int]:
    """Median wall time of ``fn`` and the count it returned."""
    times = []
    count = 0
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), count


def update_verb(net: Network) -> Callable[[str, Any], Any]:
    """``net.update_contact``; ``net.update`` on code from before the one set of verbs
    (D30), so the same file measures both sides of an A/B. Never the deprecated alias on
    current code: its warning would be timed with every update."""
    verb: Callable[[str, Any], Any] | None = getattr(net, "update_contact", None)
    return verb if verb is not None else net.update


def report(name: str, engine: tuple[float, int], bare: tuple[float, int]) -> None:
    e_rate = engine[1] / engine[0]
    b_rate = bare[1] / bare[0]
    print(
        f"{name:<44} engine {e_rate:>12,.0f} steps/s ({engine[1]:,} steps)   "
        f"bare {b_rate:>12,.0f} visits/s ({bare[1]:,})   ratio {e_rate / b_rate:.2f}"
    )


def single_update(
    spec_data: dict[str, Any], start: str, repeat: int, materialise: bool = False
) -> tuple[float, int]:
    """Median time of one update from ``start``; ``materialise`` also builds the change list."""
    spec = parse_spec(spec_data)
    runs: list[tuple[float, int]] = []
    for value in range(1, repeat + 1):
        net = Network(spec)
        update = update_verb(net)
        gc.collect()
        t0 = time.perf_counter()
        r = update(start, value)
        if materialise:
            assert len(r.changes) == r.steps
        runs.append((time.perf_counter() - t0, r.steps))
    return statistics.median(t for t, _ in runs), runs[0][1]


def many_updates(
    n_chains: int, length: int, updates: int, repeat: int
) -> tuple[tuple[float, int], tuple[float, int]]:
    data: dict[str, Any] = {"contacts": [], "wires": []}
    for k in range(n_chains):
        part = chain_spec(length, prefix=f"k{k}-")
        data["contacts"] += part["contacts"]
        data["wires"] += part["wires"]
    spec = parse_spec(data)
    rng = random.Random(7)
    targets = [f"k{rng.randrange(n_chains)}-{rng.randrange(length)}" for _ in range(updates)]
    adj = adjacency(data)

    runs = []
    for _ in range(repeat):
        net = Network(spec)  # construction is not part of the measured updates
        update = update_verb(net)
        gc.collect()
        t0 = time.perf_counter()
        steps = 0
        for i, t in enumerate(targets):
            steps += update(t, i).steps
        runs.append((time.perf_counter() - t0, steps))

    def bare() -> int:
        return sum(bare_bfs(adj, t) for t in targets)

    return (statistics.median(t for t, _ in runs), runs[0][1]), best_of(repeat, bare)


def memory_per_contact(n: int) -> float:
    data = chain_spec(n)
    gc.collect()
    tracemalloc.start()
    spec = parse_spec(data)
    del data
    net = Network(spec)
    update_verb(net)("c0", 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del net, spec
    return peak / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload (median)")
    parser.add_argument(
        "--memory-contacts",
        type=int,
        default=None,
        help="contacts of the memory measurement (1,000,000; 100,000 with --quick)",
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    repeat = args.repeat

    n = 100_000 // scale
    data = chain_spec(n)
    adj = adjacency(data)
    bare = best_of(repeat, lambda: bare_bfs(adj, "c0"))
    report(f"(a) {n:,}-contact chain, one update", single_update(data, "c0", repeat), bare)
    report("(a') same, reading result.changes too", single_update(data, "c0", repeat, True), bare)

    side = 300 // (3 if args.quick else 1)
    data = grid_spec(side)
    adj = adjacency(data)
    report(
        f"(b) {side}x{side} grid, one update at a corner",
        single_update(data, "g0-0", repeat),
        best_of(repeat, lambda: bare_bfs(adj, "g0-0")),
    )

    e, b = many_updates(1000 // scale, 10, 10_000 // scale, repeat)
    report(f"(c) {10_000 // scale:,} updates on {1000 // scale:,} 10-chains", e, b)

    n = 10_000 // scale
    data = chain_spec(n, group="g")
    data["groups"] = [{"id": "g"}]
    adj = adjacency(data)
    report(
        f"(d) {n:,}-contact chain in one group",
        single_update(data, "c0", repeat),
        best_of(repeat, lambda: bare_bfs(adj, "c0")),
    )

    m = args.memory_contacts or 1_000_000 // scale
    per = memory_per_contact(m)
    print(
        f"peak traced memory at {m:,} contacts (spec + network + one update): {per:,.0f} bytes/contact (target <= 1024)"
    )


if __name__ == "__main__":
    main()
