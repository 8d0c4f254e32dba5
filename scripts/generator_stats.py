"""What the property tests' generators produce, measured (the figures in docs/testing.md).

Draws ``--examples`` examples under each of ``--seeds`` seeds from the strategies of
``bassline.testing.strategies`` (or of another copy of that file, ``--strategies PATH``,
e.g. an older version from git) and prints:

- for ``lattice_network()`` (the fixpoint-order property in tests/core/test_engine.py):
  how often the updates contradict (the fixpoints are then not compared), the network
  has no wire, or there is a single update;
- for ``lattice_values(name)`` (the absorbing law in ``LatticeLaws``): how often a triple
  of elements holds a contradicting pair (the law's contradiction half is reached).

    python scripts/generator_stats.py
    git show REV:bassline/testing/strategies.py > /tmp/old.py
    python scripts/generator_stats.py --strategies /tmp/old.py
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
from collections import Counter
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from bassline import Network
from bassline.lattices import Contradiction, get_lattice
from bassline.testing import strategies as shipped

LATTICES = ("grow-set", "shrink-set", "interval", "max", "min", "grow-map")


def _load(path: str | None) -> ModuleType:
    if path is None:
        return shipped
    spec = importlib.util.spec_from_file_location("measured_strategies", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(test: Any, examples: int, seeds: int) -> None:
    quiet = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    test = quiet(test)
    for s in range(1, seeds + 1):
        seed(s)(test)()


def fixpoint_cases(module: ModuleType, examples: int, seeds: int) -> dict[str, float]:
    """Shares of lattice_network() examples that test little."""
    counts: Counter[str] = Counter()

    @given(module.lattice_network())
    def draw(case: Any) -> None:
        spec, updates = case
        net = Network(spec)
        counts["examples"] += 1
        counts["contradiction"] += any(
            net.update_contact(cid, value).contradictions for cid, value in updates
        )
        counts["no wires"] += not spec.wires
        counts["one update"] += len(updates) == 1

    _run(draw, examples, seeds)
    total = counts.pop("examples")
    return {k: counts[k] / total for k in ("contradiction", "no wires", "one update")}


def _reach(module: ModuleType, name: str, examples: int, seeds: int) -> float:
    lattice = get_lattice(name)
    counts: Counter[str] = Counter()

    @given(st.data())
    def draw(data: st.DataObject) -> None:
        drawn = [data.draw(module.lattice_values(name)) for _ in range(3)]
        counts["examples"] += 1
        counts["reached"] += any(
            isinstance(lattice.join(a, b), Contradiction)
            for a, b in itertools.permutations(drawn, 2)
        )

    _run(draw, examples, seeds)
    return counts["reached"] / counts["examples"]


def absorbing_reach(module: ModuleType, examples: int, seeds: int) -> dict[str, float]:
    """Per lattice: the share of element triples with a contradicting pair."""
    return {name: _reach(module, name, examples, seeds) for name in LATTICES}


def main() -> None:
    """Print both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", help="path of another strategies.py to measure")
    parser.add_argument("--examples", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    module = _load(args.strategies)
    n = f"{args.examples} examples x {args.seeds} seeds"
    print(f"lattice_network ({n}):")
    for what, share in fixpoint_cases(module, args.examples, args.seeds).items():
        print(f"  {what}: {share:.0%}")
    print(f"absorbing law, triples with a contradicting pair ({n}):")
    for name, share in absorbing_reach(module, args.examples, args.seeds).items():
        print(f"  {name}: {share:.0%}")


if __name__ == "__main__":
    main()
