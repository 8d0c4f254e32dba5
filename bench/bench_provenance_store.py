"""What storing justifications costs the runtime: the same updates with them and without.

Run: python bench/bench_provenance_store.py [--backends memory,fs,postgres] [--updates 20000]
     (postgres uses BASSLINE_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test,
      in a fresh schema that is dropped afterwards)

Two workloads, each through ``StorageBackedRuntime`` on every backend: ``flat`` (each
update writes one unconnected contact: one write justification per stored content) and
``chain`` (each update writes the input of an ``add`` gadget whose output crosses a wire:
three stored contents per update, a write, a gadget run naming its inputs, and a wire).
Each is run durable (100 concurrent writers) and buffered (1 writer), with justifications
stored (``on``, what ships) and with ``Network.stored_justification`` answering None
(``off``: contents stored as before this release), alternating on and off, median of
three each, and printed as the ratio on/off. Also the bytes a stored content takes in
each form's justification text.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

import anyio
from bench_runtime import backend

from bassline.engine import Network
from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import NetworkStorage

_STORED = Network.stored_justification


def _off(self: Network, contact_id: str) -> str | None:
    return None


def flat(n: int, name: str) -> tuple[Bassline, Callable[[int], tuple[str, Any]]]:
    spec = parse_spec({"id": name, "contacts": [{"id": f"c{i}"} for i in range(n)]})
    return spec, lambda i: (f"c{i}", [i, "payload"])


def chain(n: int, name: str) -> tuple[Bassline, Callable[[int], tuple[str, Any]]]:
    groups, contacts, wires = [], [], []
    for i in range(n):
        g = f"g{i}"
        groups.append({"id": g, "gadget": "add"})
        contacts += [
            {"id": f"{g}.a", "group": g, "name": "a", "boundary": "input"},
            {"id": f"{g}.b", "group": g, "name": "b", "boundary": "input", "content": 1},
            {"id": f"{g}.sum", "group": g, "name": "sum", "boundary": "output"},
            {"id": f"out{i}"},
        ]
        wires.append({"from": f"{g}.sum", "to": f"out{i}", "type": "directed"})
    spec = parse_spec({"id": name, "groups": groups, "contacts": contacts, "wires": wires})
    return spec, lambda i: (f"g{i}.a", i)


async def rate(
    factory: Callable[[], NetworkStorage],
    make: Callable[[int, str], tuple[Bassline, Callable[[int], tuple[str, Any]]]],
    n: int,
    durability: str,
    stored: bool,
    name: str,
) -> float:
    spec, update = make(n, name)
    writers = 100 if durability == "durable" else 1
    Network.stored_justification = _STORED if stored else _off  # type: ignore[method-assign]
    try:
        async with factory() as storage:
            async with StorageBackedRuntime(spec, storage, durability=durability) as runtime:
                per = n // writers

                async def writer(k: int) -> None:
                    for j in range(per):
                        await runtime.update_contact(*update(k * per + j))

                gc.collect()
                t0 = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for k in range(writers):
                        tg.start_soon(writer, k)
                await runtime.flush()
                result = per * writers / (time.perf_counter() - t0)
            (await storage.delete_network(name)).unwrap()
    finally:
        Network.stored_justification = _STORED  # type: ignore[method-assign]
    return result


def stored_sizes() -> None:
    spec, _ = chain(1, "sizes")
    net = Network(spec, node_id="node-1")
    net.update_contact("g0.a", 41)
    for cid in ("g0.a", "g0.sum", "out0"):
        text = net.stored_justification(cid) or ""
        print(f"stored justification of {cid:7}: {len(text.encode()):4} bytes  {text}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="memory,fs,postgres")
    parser.add_argument("--updates", type=int, default=20_000)
    args = parser.parse_args()
    stored_sizes()
    for kind in args.backends.split(","):
        async with backend(kind) as factory:
            for workload, make in (("flat", flat), ("chain", chain)):
                for durability in ("durable", "buffered"):
                    n = args.updates if workload == "flat" else args.updates // 4
                    runs: dict[bool, list[float]] = {True: [], False: []}
                    for k in range(3):
                        for stored in (True, False) if k % 2 == 0 else (False, True):
                            name = f"{workload}-{durability}-{stored}-{k}"
                            runs[stored].append(
                                await rate(factory, make, n, durability, stored, name)
                            )
                    on, off = sorted(runs[True])[1], sorted(runs[False])[1]
                    print(
                        f"[{kind}] {workload:5} {durability:8}: on {on:>9,.0f} updates/s  "
                        f"off {off:>9,.0f} updates/s  ratio on/off {on / off:.2f}  ({n:,} updates)"
                    )


if __name__ == "__main__":
    anyio.run(main)
