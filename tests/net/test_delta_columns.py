"""A peer's usual delta (every item one write's justification, or none has one) goes from
the replicator to the runtime and the engine as columns (``delta_items.shared_columns``,
``StorageBackedRuntime.apply_columns``): whatever the spec, the state and the deltas, a
node must end exactly as when every delta goes through ``Runtime.apply`` as items — what
``apply_delta`` returns or raises, the contents, stamps and explanations, what storage
holds, the change log (positions, holders, notes), the cursors and the metrics."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.clock import LOGICAL_BITS, HybridLogicalClock, Stamp
from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.protocol import Delta
from bassline.net.replicator import Replicator
from bassline.net.settings import GossipSettings
from bassline.net.wire_whys import WhyRef
from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage

SPEC = parse_spec(
    {
        "id": "columns",
        "groups": [{"id": "adder", "gadget": "add"}],
        "contacts": [
            {"id": "a"},
            {"id": "b"},
            {"id": "c"},
            {"id": "d"},
            {"id": "x"},
            {"id": "m", "blend": "merge", "lattice": "max"},
            {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
            {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
            {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
        ],
        "wires": [{"from": "a", "to": "c"}, {"from": "x", "to": "adder.a", "type": "directed"}],
    }
)
CONTACTS = [c.id for c in SPEC.contacts]
THEN = (time.time_ns() // 1_000_000 - 1_000) << LOGICAL_BITS  # a second ago
FUTURE = (time.time_ns() // 1_000_000 + 10**7) << LOGICAL_BITS  # beyond any drift
WRITE = WhyRef("w", via="http")
WHYS = {
    "write": WRITE,
    "none": None,
    "kept": WhyRef("w", via="http", kept=Stamp(THEN - 5, "p1")),
    "bad": WhyRef("w", via="x\x00"),  # a via no peer may send
}


class StepClock(HybridLogicalClock):
    """A clock whose wall clock stands still: two nodes given the same verbs stamp alike."""

    def __init__(self) -> None:
        super().__init__("n")
        self._last = THEN + 100

    @staticmethod
    def _physical() -> int:
        return THEN + 100

    def tick(self) -> Stamp:
        self._last += 1
        return Stamp(self._last, self.node)


class Link:
    """What a session shows the replicator."""

    def __init__(self, peer: str) -> None:
        self.peer, self.peer_epoch, self.peer_store = peer, "f" * 16, None
        self.scan = self.announced = 0
        self.rewind = False
        self.lazy: set[str] = set()
        self.quiet: set[str] = set()
        self.wanted: list[tuple[str, Stamp]] = []

    def want(self, contact: str, stamp: Stamp) -> None:
        self.wanted.append((contact, stamp))


item = st.tuples(
    st.sampled_from([*CONTACTS, "b", "d", "b", "d"]),
    st.sampled_from([1, 2, "s", "é", [1, 2]]),  # "s" on m: the wrong kind, dropped
    st.one_of(st.integers(0, 4), st.just(-1)),  # -1: stamped beyond the clock's drift
    st.sampled_from(["p1", "p2"]),
)
step = st.one_of(
    st.tuples(
        st.just("delta"),
        st.lists(item, min_size=1, max_size=4),
        st.sampled_from(["write", "write", "none", "kept", "mixed", "bad"]),
        st.sampled_from(["p", "q"]),
    ),
    st.tuples(st.just("update"), st.sampled_from(["b", "x", "m"]), st.sampled_from([1, 4])),
    # the last delta again from another peer, with one more item: some items held here
    st.tuples(st.just("again"), item),
)


async def _run(steps: list[Any], columns: bool) -> list[Any]:
    """Apply ``steps`` to a fresh node; what it showed after each."""
    seen: list[Any] = []
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(open_storage("memory://"))
        runtime = await stack.enter_async_context(StorageBackedRuntime(SPEC, storage, node_id="n"))
        runtime.network.clock = StepClock()
        taken = 0
        if columns:
            through = runtime.apply_columns

            def counted(*args: Any) -> Any:
                nonlocal taken
                taken += 1
                return through(*args)

            runtime.apply_columns = counted  # type: ignore[method-assign]
        else:
            runtime.apply_columns = None  # type: ignore[assignment,method-assign]
        metrics = NetMetrics()
        replicator = Replicator("n", GossipSettings(), metrics, ChangeLog())
        replicator.attach(runtime)
        log = replicator.log
        last: Any = None
        for kind, *rest in steps:
            outcome: Any = None
            if kind == "again":
                if last is None:
                    continue
                kind, rest = "delta", [[*last[0], rest[0]], last[1], "r"]
            if kind == "update":
                await runtime.update_many({rest[0]: rest[1]})
            else:
                rows, how, peer = rest
                last = (rows, how)
                items = tuple(
                    (cid, v, Stamp(FUTURE if t < 0 else THEN + t, o)) for cid, v, t, o in rows
                )
                mixed = [WRITE, WHYS["kept"], None]
                whys = tuple(
                    mixed[k % 3] if how == "mixed" else WHYS[how] for k in range(len(items))
                )
                link = Link(peer)
                try:
                    held = await replicator.apply_delta(link, Delta("e" * 16, 0, 1, items, whys))  # type: ignore[arg-type]
                    outcome = (held, link.rewind, replicator.cursor(peer))
                except Exception as exc:  # the exact error is compared
                    outcome = ("raised", type(exc), str(exc))
            stored = sorted(map(repr, (await storage.load_contents(SPEC.id)).unwrap()))
            seen.append(
                (
                    outcome,
                    [runtime.stamped(c) for c in CONTACTS],
                    [runtime.explain(c).to_json() for c in CONTACTS],
                    [(log.seq_of(c), sorted(map(repr, log.holders(c)))) for c in CONTACTS],
                    log.notes_of([c for c in CONTACTS if log.seq_of(c)]),
                    metrics.snapshot(),
                    stored,
                )
            )
        await runtime.flush()
        seen.append(("taken", taken))
    return seen


@settings(max_examples=120, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=6))
def test_deltas_applied_as_columns_end_as_deltas_applied_as_items(steps: list[Any]) -> None:
    fast = anyio.run(_run, steps, True)
    slow = anyio.run(_run, steps, False)
    assert repr(fast[:-1]) == repr(slow[:-1])


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_usual_delta_takes_the_columns_and_others_do_not(backend: str) -> None:
    def taken(rows: list[Any], how: str, *more: Any) -> int:
        steps = [("delta", rows, how, "p"), *more]
        return anyio.run(_run, steps, True, backend=backend)[-1][1]  # type: ignore[no-any-return]

    assert taken([("b", 1, 0, "p1"), ("d", 2, 1, "p2")], "write") == 1
    assert taken([("b", 1, 0, "p1")], "none") == 1
    assert taken([("b", 1, 0, "p1"), ("d", 2, 1, "p2")], "mixed") == 0  # item by item
    assert taken([("b", 1, -1, "p1"), ("d", 2, 1, "p2")], "write") == 0  # one too new
    # sent again with one more: b is held here, left out, and the rest goes item by item
    assert taken([("b", 1, 0, "p1")], "write", ("again", ("d", 2, 1, "p2"))) == 1
