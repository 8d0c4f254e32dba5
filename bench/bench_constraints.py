"""Constraint benchmark: a chain of product/sum constraints with intervals vs plain numbers.

Run: python bench/bench_constraints.py [--quick] [--length N]

The chain alternates ``product`` (x[i+1] = x[i] * 1.001) and ``sum`` (x[i+1] = x[i] + 0.5)
constraints, each one's result port wired to the next one's input port, the constants on
the constraints' own ports. Two workloads on the same chain, measured in the same run:

- *forward*: write x[0] and run to the fixpoint, which computes every x[i];
- *backward* (intervals only, where it means something): then write a narrower interval at
  the end and run to the fixpoint, which narrows every x[i] on the way back.

The chain is built three times: plain numbers on ``defined`` merge contacts
(Scheme-Propagators' plain numbers), plain numbers on ``accept-last`` contacts (the default
blend), and intervals on ``interval`` contacts. Every forward run takes the same steps; the
printed ratio is interval time over plain time for the forward workload (the target is <= 3).
Building a network is not timed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from bassline import Network
from bassline.lattices import Interval
from bassline.spec import Bassline, parse_spec

FACTOR = 1.001
OFFSET = 0.5


def chain_spec(length: int, blend: str) -> Bassline:
    """``length`` constraints; the first's ``a`` is x[0], the last's ``c`` is x[length].

    ``blend``: ``accept-last``, or the lattice of merge contacts (``defined``, ``interval``).
    """
    lattice = {} if blend == "accept-last" else {"lattice": blend}
    groups: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    wires: list[dict[str, Any]] = []
    for i in range(length):
        gid = f"k{i}"
        kind = "product" if i % 2 == 0 else "sum"
        constant = FACTOR if kind == "product" else OFFSET
        groups.append({"id": gid, "gadget": kind})
        for port in ("a", "b", "c"):
            contact: dict[str, Any] = {
                "id": f"{gid}.{port}",
                "group": gid,
                "name": port,
                "boundary": "both",
                **lattice,
            }
            if port == "b":
                contact["content"] = [constant, constant] if blend == "interval" else constant
            contacts.append(contact)
        if i:
            wires.append({"from": f"k{i - 1}.c", "to": f"{gid}.a"})
    return parse_spec(
        {"id": f"chain-{lattice}", "groups": groups, "contacts": contacts, "wires": wires}
    )


def median_seconds(
    repeat: int, make: Callable[[], Network], run: Callable[[Network], int]
) -> tuple[float, int]:
    """Median seconds of ``run(net)`` on a fresh ``make()`` each time (building and any
    set-up inside ``make`` are not timed), and the steps of the last run."""
    times = []
    steps = 0
    for _ in range(repeat):
        net = make()
        gc.collect()
        t0 = time.perf_counter()
        steps = run(net)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--length", type=int, default=1000, help="constraints in the chain")
    args = parser.parse_args()
    repeat = 5 if args.quick else 21
    n = args.length
    specs = {blend: chain_spec(n, blend) for blend in ("accept-last", "defined", "interval")}
    start = Interval(1.0, 1.5)

    def forward(value: Any) -> Callable[[Network], int]:
        def run(net: Network) -> int:
            r = net.update_contact("k0.a", value)
            assert r.ok and net.value(f"k{n - 1}.c", None) is not None
            return r.steps

        return run

    def forwarded() -> Network:
        net = Network(specs["interval"])
        net.update_contact("k0.a", start)
        return net

    def backward(net: Network) -> int:
        end = net.value(f"k{n - 1}.c")
        r = net.update_contact(f"k{n - 1}.c", Interval((end.lo + end.hi) / 2, end.hi))
        assert r.ok and net.value("k0.a").lo > start.lo  # narrowed all the way back
        return r.steps

    rows = [
        (
            "forward, plain numbers, defined",
            *median_seconds(repeat, lambda: Network(specs["defined"]), forward(1.0)),
        ),
        (
            "forward, plain numbers, accept-last",
            *median_seconds(repeat, lambda: Network(specs["accept-last"]), forward(1.0)),
        ),
        (
            "forward, intervals",
            *median_seconds(repeat, lambda: Network(specs["interval"]), forward(start)),
        ),
        ("backward narrowing, intervals", *median_seconds(repeat, forwarded, backward)),
    ]
    print(f"chain of {n} product/sum constraints, median of {repeat} runs")
    for name, seconds, steps in rows:
        print(
            f"  {name:36} {seconds * 1e3:8.2f} ms  {steps:6} steps  {seconds / n * 1e6:6.1f} us/constraint"
        )
    plain, interval = rows[0][1], rows[2][1]
    print(f"  intervals / plain numbers (forward, defined): {interval / plain:.2f}x (target <= 3)")
    print(f"  intervals / plain numbers (forward, accept-last): {interval / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
