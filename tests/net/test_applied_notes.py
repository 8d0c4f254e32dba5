"""What a peer's delta changed is noted in the change log as it is recorded
(``delta_entries.applied_notes``), when the run took every item as it was sent and the
items share one plain write: the note must be what reading the contact's justification
back gives (``ChangeLog.note_writes``: a write's origin, or None for a change always
sent), whatever the spec (wires, a gadget, a merge contact) and the deltas."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.clock import LOGICAL_BITS, Stamp
from bassline.engine.carried import CarriedWrite
from bassline.net.changelog import UNNOTED, ChangeLog
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
        "id": "notes",
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
            {"id": "sum"},
        ],
        "wires": [
            {"from": "a", "to": "c"},
            {"from": "x", "to": "adder.a", "type": "directed"},
            {"from": "adder.sum", "to": "sum", "type": "directed"},
        ],
    }
)
CONTACTS = [c.id for c in SPEC.contacts]
WRITE = WhyRef("w", via="http")
THEN = (time.time_ns() // 1_000_000 - 1_000) << LOGICAL_BITS  # a second ago


class Link:
    """What a session shows the replicator."""

    def __init__(self, peer: str) -> None:
        self.peer, self.peer_epoch, self.peer_store = peer, "f" * 16, None
        self.scan = self.announced = 0
        self.rewind = False
        self.lazy: set[str] = set()
        self.quiet: set[str] = set()

    def want(self, contact: str, stamp: Stamp) -> None:
        pass


item = st.tuples(
    st.sampled_from([*CONTACTS, *["b", "d", "m"] * 4]),  # those noted more often
    st.sampled_from([1, 2, 3]),
    st.integers(0, 6),
    st.sampled_from(["p1", "p2"]),
)
why = st.sampled_from(["write", "write", "write", "none", "kept", "mixed"])
# a peer's delta (items and how they are justified: all one write, none, each with a
# kept stamp, or those in turn), or a write here
step = st.one_of(
    st.tuples(
        st.just("delta"), st.lists(item, min_size=1, max_size=4), why, st.sampled_from(["p", "q"])
    ),
    st.tuples(st.just("update"), st.sampled_from(["a", "x", "m", "c"]), st.sampled_from([1, 4])),
)


def _expected(runtime: Any, cid: str) -> str | None:
    """What making the change ready to send notes (``_split_lazy``, ``_plain_writes``)."""
    carried = runtime.carried_justification(cid)
    write = type(carried) is CarriedWrite and carried.stamp is None and cid != "m"
    return runtime.stamped(cid)[1].node if write else None


async def _run(steps: list[Any]) -> int:
    """Apply ``steps``; check every note after each; how many notes were checked."""
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(open_storage("memory://"))
        runtime = await stack.enter_async_context(StorageBackedRuntime(SPEC, storage, node_id="n"))
        replicator = Replicator("n", GossipSettings(), NetMetrics(), ChangeLog())
        replicator.attach(runtime)
        log = replicator.log
        noted = 0
        for kind, *rest in steps:
            if kind == "update":
                await runtime.update_many({rest[0]: rest[1]})
            else:
                rows, how, peer = rest
                items = tuple((cid, v, Stamp(THEN + t, o)) for cid, v, t, o in rows)
                kept = WhyRef("w", via="http", kept=Stamp(THEN - 5, "p1"))
                each = {"write": WRITE, "none": None, "kept": kept}
                mixed = [WRITE, kept, None]  # in turn: the first a plain write
                whys = tuple(
                    mixed[k % 3] if how == "mixed" else each[how] for k in range(len(items))
                )
                delta = Delta("e" * 16, 0, 0, items, whys)
                await replicator.apply_delta(Link(peer), delta)  # type: ignore[arg-type]
            held = [cid for cid in CONTACTS if log.seq_of(cid)]
            notes = log.notes_of(held)
            for cid, note in zip(held, notes, strict=True):
                if note is not UNNOTED:
                    assert note == _expected(runtime, cid), cid
            noted += len(notes) - notes.count(UNNOTED)
        return noted


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_a_change_noted_as_it_is_recorded_is_what_its_justification_says(
    steps: list[Any],
) -> None:
    anyio.run(_run, steps)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_peers_plain_writes_are_noted_and_others_are_left_to_be_made_ready(
    backend: str,
) -> None:
    """A shared write on contacts no wire or gadget sets is noted (a merge contact's as
    always sent); a delta touching a contact a wire or a gadget may set, one whose run
    changed more than its items, or one justified otherwise, is not."""

    async def notes(rows: list[Any], how: str) -> list[Any]:
        async with AsyncExitStack() as stack:
            storage = await stack.enter_async_context(open_storage("memory://"))
            runtime = await stack.enter_async_context(
                StorageBackedRuntime(SPEC, storage, node_id="n")
            )
            replicator = Replicator("n", GossipSettings(), NetMetrics(), ChangeLog())
            replicator.attach(runtime)
            items = tuple((cid, v, Stamp(THEN + k, o)) for k, (cid, v, o) in enumerate(rows))
            whys = ({"write": WRITE, "none": None}[how],) * len(items)
            delta = Delta("e" * 16, 0, 0, items, whys)
            await replicator.apply_delta(Link("p"), delta)  # type: ignore[arg-type]
            return replicator.log.notes_of([cid for cid, _, _ in rows])

    def run(rows: list[Any], how: str = "write") -> list[Any]:
        return anyio.run(notes, rows, how, backend=backend)

    assert run([("b", 1, "p1"), ("m", 2, "p2"), ("d", 3, "p2")]) == ["p1", None, "p2"]
    assert run([("b", 1, "p1"), ("a", 2, "p1")]) == [UNNOTED, UNNOTED]  # a is wired to c
    assert run([("b", 1, "p1"), ("x", 2, "p1")]) == [UNNOTED, UNNOTED]  # the run set more
    assert run([("b", 1, "p1"), ("sum", 2, "p1")]) == [UNNOTED, UNNOTED]  # a wire's target
    assert run([("b", 1, "p1"), ("adder.sum", 2, "p1")]) == [UNNOTED, UNNOTED]  # a gadget's
    assert run([("b", 1, "p1")], "none") == [UNNOTED]
