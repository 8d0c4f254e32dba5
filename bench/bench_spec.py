"""Spec loading benchmark: a spec of N instances of a 10-contact part vs its expansion written out.

Run: python bench/bench_spec.py [--instances 10000] [--reps 5]

The part is ``y = x * k + m`` (ports x and y, constants k and m, a multiply and an add gadget
with three port contacts each: 10 contacts, 3 groups with the instance's own, 5 wires).
Instance i is wired from contact v<i> to v<i+1>, a chain. Three files are written to a
temporary directory and each is loaded with ``bassline.load_spec(path)`` (read, parse,
validate, expand, build the ``Bassline``), alternately, ``--reps`` times:

- ``parts.json``: the part defined once and used N times;
- ``expanded.json``: the same network written out as ``spec.to_dict()`` writes it (every
  field; the same hash);
- ``written.json``: the same network as a person would write it out, only the fields
  that are not defaults (contact names and the part attribute left out, so another hash).

It prints the median load time of each and the ratio parts / written-out (target <= 1.5).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bassline import load_spec
from bassline.codec import to_json


def part() -> dict[str, Any]:
    """y = x * k + m, with 10 contacts."""

    def port(group: str, name: str, boundary: str) -> dict[str, Any]:
        return {"id": f"{group}.{name}", "group": group, "name": name, "boundary": boundary}

    return {
        "ports": [{"id": "x", "boundary": "input"}, {"id": "y", "boundary": "output"}],
        "groups": [{"id": "times", "gadget": "multiply"}, {"id": "plus", "gadget": "add"}],
        "contacts": [
            {"id": "k", "content": 2},
            {"id": "m", "content": 1},
            port("times", "a", "input"),
            port("times", "b", "input"),
            port("times", "product", "output"),
            port("plus", "a", "input"),
            port("plus", "b", "input"),
            port("plus", "sum", "output"),
        ],
        "wires": [
            {"from": "x", "to": "times.a", "type": "directed"},
            {"from": "k", "to": "times.b", "type": "directed"},
            {"from": "times.product", "to": "plus.a", "type": "directed"},
            {"from": "m", "to": "plus.b", "type": "directed"},
            {"from": "plus.sum", "to": "y", "type": "directed"},
        ],
    }


def parts_spec(n: int) -> dict[str, Any]:
    return {
        "format": "bassline/1",
        "id": "chain",
        "parts": {"affine": part()},
        "contacts": [{"id": f"v{i}"} for i in range(n + 1)],
        "uses": [
            {"id": f"u{i}", "part": "affine", "ports": {"x": f"v{i}", "y": f"v{i + 1}"}}
            for i in range(n)
        ],
    }


def written_spec(n: int) -> dict[str, Any]:
    """The expansion as a person (or a script) would write it: no field left at its default."""
    definition = part()
    groups: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = [{"id": f"v{i}"} for i in range(n + 1)]
    wires: list[dict[str, Any]] = []
    for i in range(n):
        pre = f"u{i}/"
        groups.append({"id": f"u{i}"})
        for g in definition["groups"]:
            groups.append({**g, "id": pre + g["id"], "parent": f"u{i}"})
        for p in definition["ports"]:
            contacts.append({**p, "id": pre + p["id"], "group": f"u{i}"})
        for c in definition["contacts"]:
            group = pre + c["group"] if "group" in c else f"u{i}"
            contacts.append({**c, "id": pre + c["id"], "group": group})
        for w in definition["wires"]:
            wires.append({**w, "from": pre + w["from"], "to": pre + w["to"]})
        wires.append({"from": f"v{i}", "to": pre + "x", "type": "directed"})
        wires.append({"from": pre + "y", "to": f"v{i + 1}", "type": "directed"})
    return {
        "format": "bassline/1",
        "id": "chain",
        "groups": groups,
        "contacts": contacts,
        "wires": wires,
    }


def timed_load(path: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    load_spec(path)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    n = args.instances
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "parts": Path(tmp, "parts.json"),
            "expanded": Path(tmp, "expanded.json"),
            "written": Path(tmp, "written.json"),
        }
        files["parts"].write_bytes(orjson.dumps(parts_spec(n)))
        spec = load_spec(files["parts"])
        files["expanded"].write_bytes(orjson.dumps(to_json(spec.to_dict())))
        files["written"].write_bytes(orjson.dumps(written_spec(n)))
        assert load_spec(files["expanded"]).hash == spec.hash
        written = load_spec(files["written"])
        assert len(written.contacts) == len(spec.contacts) == 10 * n + n + 1
        assert len(written.wires) == len(spec.wires) == 7 * n
        print(
            f"{n:,} instances of a 10-contact part: {len(spec.groups):,} groups, "
            f"{len(spec.contacts):,} contacts, {len(spec.wires):,} wires"
        )
        times: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.reps):
            for name, path in files.items():
                times[name].append(timed_load(path))
        best = {name: statistics.median(ts) for name, ts in times.items()}
        for name, path in files.items():
            size = path.stat().st_size / 1e6
            print(f"  {name:<9} {size:6.1f} MB  load {best[name]:.3f} s (median of {args.reps})")
        print(f"  ratio parts / written out: {best['parts'] / best['written']:.2f} (target <= 1.5)")
        print(f"  ratio parts / to_dict form: {best['parts'] / best['expanded']:.2f}")


if __name__ == "__main__":
    main()
