"""Every write path lets other tasks run, so a flood of writes cannot starve the event loop.

A write that changes nothing (a contradiction, a value the contact already holds, an
older stamped value from a peer) has nothing to store and so nothing to wait for; a
buffered write that changes a contact already queued does not grow the queue. Without an
explicit checkpoint such a flood never yields and every other task on the loop stops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from bassline.clock import Stamp
from bassline.runtime import StorageBackedRuntime
from bassline.runtime.runtime import YIELD_EVERY
from bassline.spec import parse_spec
from bassline.storage import open_storage

pytestmark = pytest.mark.anyio

SPEC = parse_spec(
    {
        "id": "flood",
        "contacts": [{"id": "fixed", "lattice": "defined"}, {"id": "plain"}],
    }
)
FLOOD = 5_000

Write = Callable[[StorageBackedRuntime, int], Awaitable[Any]]


async def _contradiction(runtime: StorageBackedRuntime, n: int) -> Any:
    return await runtime.update_contact("fixed", 2 + n)  # holds 1: every write contradicts


async def _contradiction_many(runtime: StorageBackedRuntime, n: int) -> Any:
    return await runtime.update_many({"fixed": 2 + n})


async def _same_value(runtime: StorageBackedRuntime, n: int) -> Any:
    return await runtime.update_contact("fixed", 1)  # what it holds: no news


async def _stale_from_a_peer(runtime: StorageBackedRuntime, n: int) -> Any:
    return await runtime.apply([("plain", f"old {n}", Stamp(1 + n % 7, "peer"))])


NO_CHANGE: dict[str, Write] = {
    "contradiction": _contradiction,
    "contradiction-update-many": _contradiction_many,
    "same-value": _same_value,
    "stale-from-a-peer": _stale_from_a_peer,
}


async def _flood(runtime: StorageBackedRuntime, write: Write) -> int:
    """Write until another task has run (or FLOOD times); how many writes that took."""
    ran = anyio.Event()

    async def other_task() -> None:
        ran.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(other_task)  # it can only start once the flood yields
        writes = 0
        while not ran.is_set() and writes < FLOOD:
            await write(runtime, writes)
            writes += 1
    return writes


@pytest.mark.parametrize("durability", ["durable", "buffered"])
@pytest.mark.parametrize("kind", sorted(NO_CHANGE))
async def test_writes_that_change_nothing_let_other_tasks_run(
    memory_url: str, durability: str, kind: str
) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(SPEC, storage, durability=durability) as runtime:
            await runtime.update_many({"fixed": 1, "plain": "current"})
            writes = await _flood(runtime, NO_CHANGE[kind])
            # trio may run the flood again before the other task in the round after the
            # first yield, so the flood sees it at its second write at the latest
            assert writes <= 2, f"another task ran only after {writes} writes"
            assert runtime.value("fixed") == 1 and runtime.value("plain") == "current"


async def _rewrite(runtime: StorageBackedRuntime, n: int) -> Any:
    return await runtime.update_contact("plain", n)


async def _rewrite_many(runtime: StorageBackedRuntime, n: int) -> Any:
    return await runtime.update_many({"plain": n})


async def _newer_from_a_peer(runtime: StorageBackedRuntime, n: int) -> Any:
    return await runtime.apply([("plain", n, Stamp(1 + n, "peer"))])


REWRITE: dict[str, Write] = {
    "update-contact": _rewrite,
    "update-many": _rewrite_many,
    "apply": _newer_from_a_peer,
}


@pytest.mark.parametrize("kind", sorted(REWRITE))
async def test_a_buffered_flood_of_one_contact_lets_other_tasks_run(
    memory_url: str, kind: str
) -> None:
    """Each write changes the contact, but the queue coalesces them into one pending
    write: it never fills, so the flusher's own yield never comes. The three verbs share
    one admission path, so each yields at least every YIELD_EVERY writes."""
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(SPEC, storage, durability="buffered") as runtime:
            writes = await _flood(runtime, REWRITE[kind])
            assert writes <= 2 * YIELD_EVERY + 1, f"another task ran only after {writes} writes"
            assert runtime.value("plain") == writes - 1


@pytest.mark.parametrize("kind", sorted(REWRITE))
async def test_a_bound_below_the_batch_size_still_holds_buffered_writers(
    memory_url: str, kind: str
) -> None:
    """Backpressure at ``queue_bound`` even when a batch is larger than the bound: the
    admission's quick check must not let writes past the bound on the way to a batch."""
    bound, contacts = 10, 300
    spec = parse_spec({"id": "bounded", "contacts": [{"id": f"c{i}"} for i in range(contacts)]})
    writes: dict[str, Write] = {
        "update-contact": lambda rt, n: rt.update_contact(f"c{n}", n),
        "update-many": lambda rt, n: rt.update_many({f"c{n}": n}),
        "apply": lambda rt, n: rt.apply([(f"c{n}", n, Stamp(1 + n, "peer"))]),
    }
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(
            spec, storage, durability="buffered", queue_bound=bound, batch_size=1000
        ) as runtime:
            deepest = 0
            for n in range(contacts):
                await writes[kind](runtime, n)
                deepest = max(deepest, runtime.queue_depth)
            await runtime.flush()
            assert deepest <= bound
            assert runtime.value(f"c{contacts - 1}") == contacts - 1


async def _turns_of_another_task(write: Callable[[int], Awaitable[object]], count: int) -> int:
    """Await ``write(0)`` ... ``write(count - 1)`` while another task counts its turns (each
    backend runs every ready task once per round): how many it had, the writer's yields."""
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(other_task)
        await anyio.lowlevel.checkpoint()
        before = turns
        for n in range(count):
            await write(n)
        ran = turns - before
        tg.cancel_scope.cancel()
    return ran


async def test_a_buffered_writer_lets_others_run_once_per_yield_every_writes(
    memory_url: str,
) -> None:
    """The documented bound itself, not only that a flood yields: over many writes to one
    contact (the queue never fills, so only this bound makes the writer yield), another
    task runs at least once per ``YIELD_EVERY`` writes. Each backend runs every ready task
    once per round, so the other task's turns count the writer's yields."""
    writes = 8 * (YIELD_EVERY + 1) * YIELD_EVERY  # one write more per yield: 8 yields fewer
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(SPEC, storage, durability="buffered") as runtime:
            ran = await _turns_of_another_task(lambda n: runtime.update_contact("plain", n), writes)
            # the first YIELD_EVERY writes come before the first yield, and on trio the
            # other task's turn after the last yield may still be due: two turns fewer
            assert ran >= writes // YIELD_EVERY - 2, f"{ran} turns in {writes} writes"
            await runtime.flush()
            assert runtime.value("plain") == writes - 1


async def test_a_buffered_writer_held_back_by_a_stalled_flusher_still_yields_as_often(
    memory_url: str,
) -> None:
    """Storage stalls with the flusher's first batch in hand, so the queue fills past a
    full batch and every later write takes the admission check; there the writer lets
    the flusher look only every tenth of a batch, and still lets other tasks run at
    least once per ``YIELD_EVERY`` writes."""
    contacts = 4_000
    spec = parse_spec({"id": "many", "contacts": [{"id": f"c{i}"} for i in range(contacts)]})
    async with open_storage(memory_url) as storage:
        gate = [anyio.Event()]
        gate[0].set()
        real = storage.write

        async def write(records: Any) -> Any:
            await gate[0].wait()
            return await real(records)

        storage.write = write  # type: ignore[method-assign]
        async with StorageBackedRuntime(spec, storage, durability="buffered") as runtime:
            gate[0] = anyio.Event()  # from here on, storage answers no write
            ran = await _turns_of_another_task(
                lambda n: runtime.update_contact(f"c{n}", n), contacts
            )
            assert runtime.queue_depth > runtime.batch_size  # the admission check ran
            assert ran >= contacts // YIELD_EVERY - 2, f"{ran} turns in {contacts} writes"
            gate[0].set()
            await runtime.flush()
            assert runtime.metrics["flushed"] == contacts
