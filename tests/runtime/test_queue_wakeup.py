"""The flusher's wait for work when it was woken already (a durable writer or a full
batch): one checkpoint, no cancel scope, the wake-up used up; and a queued batch's
columns are made without checking again that each contact is named once."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.runtime.queue import StorageQueue
from bassline.storage.fastpath import queued_columns


def _queue() -> StorageQueue:
    return StorageQueue(100, "n", {"a": "g", "b": "g", "c": "g"})


@pytest.mark.anyio
async def test_a_woken_wait_lets_ready_tasks_run_and_uses_the_wakeup_up(anyio_backend: str) -> None:
    queue = _queue()
    queue.put("a", None, 1, Stamp(1, "x"))
    queue.wake()
    ran: list[int] = []

    async def note() -> None:
        ran.append(1)

    with anyio.fail_after(60):  # a safety net only: the interval (an hour) is never waited
        async with anyio.create_task_group() as tg:
            tg.start_soon(note)
            await queue.wait_for_work(3600)
            if anyio_backend == "asyncio":  # trio runs a batch of ready tasks in any order
                assert ran == [1]  # the wait passed a checkpoint: the ready task ran
    # the wake-up is used up: the next wait for the same pending write waits (its
    # interval, an hour) until the next wake-up
    done: list[int] = []

    async def wait_again() -> None:
        await queue.wait_for_work(3600)
        done.append(1)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_again)
            await anyio.wait_all_tasks_blocked()
            assert done == []
            queue.wake()
    assert done == [1]


@pytest.mark.anyio
async def test_a_woken_wait_is_still_a_cancellation_point() -> None:
    queue = _queue()
    queue.put("a", None, 1, Stamp(1, "x"))
    queue.wake()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await queue.wait_for_work(3600)
        pytest.fail("a cancelled wait returned")  # pragma: no cover
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_a_wakeup_of_an_empty_queue_still_ends_the_wait() -> None:
    """A writer that hands its batch over (its own attempt failed transiently) wakes the
    flusher with nothing pending: the wait must end."""
    queue = _queue()
    queue.wake()
    with anyio.fail_after(60):
        await queue.wait_for_work(3600)


@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 5), st.integers(1, 9)),
        min_size=1,
        max_size=12,
    )
)
def test_a_queued_batch_names_each_contact_once_and_its_columns_are_checked_ones(
    writes: list[tuple[str, int, int]],
) -> None:
    """Whatever was queued (a contact written again and again), the batch taken names each
    contact once, and the columns made for it (``distinct=True``) are those made with
    the check of that."""
    queue = _queue()
    for contact, value, hlc in writes:
        queue.put(contact, None, value, Stamp(hlc, "x"), None)
    _, batch = queue.take_batch()
    assert len(set(batch.contacts)) == len(batch.contacts)
    checked = queued_columns(
        batch.network,
        batch.groups,
        batch.contacts,
        batch.values,
        batch.stamps,
        batch.justifications,
    )
    assert checked is not None
    assert batch.columns() == checked


def test_contacts_named_twice_are_refused_unless_the_caller_vouches_for_them() -> None:
    args = ("n", ["g", "g"], ["c", "c"], [1, 2], [Stamp(3, "a")] * 2, [None] * 2)
    assert queued_columns(*args) is None
    assert queued_columns(*args, distinct=False) is None


@pytest.mark.anyio
async def test_writes_queued_together_wake_an_idle_flusher() -> None:
    """``put_many`` into an empty queue wakes a flusher waiting for work, as ``put`` does
    (a buffered runtime's batch is written within ``flush_interval``)."""
    queue = _queue()
    done: list[int] = []

    async def flusher() -> None:
        await queue.wait_for_work(0)
        done.append(1)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(flusher)
            await anyio.wait_all_tasks_blocked()
            assert done == []
            queue.put_many(["a", "b"], [1, 2], [Stamp(1, "x"), Stamp(2, "x")], [None, None])
            while not done:  # not woken: fail_after fails the test
                await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_a_wait_woken_by_writes_taken_meanwhile_waits_on() -> None:
    """What arrived was taken before the flusher ran (a durable writer wrote it itself):
    the flusher waits on, for the next write or wake-up, and then returns."""
    queue = _queue()
    done: list[int] = []

    async def flusher() -> None:
        await queue.wait_for_work(0)
        done.append(1)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(flusher)
            await anyio.wait_all_tasks_blocked()
            queue.put_many(["a", "b"], [1, 2], [Stamp(1, "x"), Stamp(2, "x")], [None, None])
            queue.take_batch()
            await anyio.wait_all_tasks_blocked()
            assert done == []
            queue.put("c", None, 3, Stamp(3, "x"))
            while not done:
                await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_writes_queued_together_and_taken_at_once_wake_nobody(anyio_backend: str) -> None:
    """On asyncio the arrival of a run's writes is announced once the writer lets the
    loop run, and only if they are still pending: a durable writer that took them
    meanwhile (writing its batch itself) wakes no flusher."""
    queue = _queue()
    queue.put_many(["a", "b"], [1, 2], [Stamp(1, "x"), Stamp(2, "x")], [None, None])
    queue.take_batch()
    await anyio.lowlevel.checkpoint()
    if anyio_backend == "asyncio":
        assert not queue._arrived.is_set()
    queue.put_many(["a", "b"], [1, 2], [Stamp(1, "x"), Stamp(2, "x")], [None, None])
    with anyio.fail_after(10):
        await queue.wait_for_work(0)  # still pending: announced (the wait ends)
