"""A durable writer that finds the flusher idle writes its own batch (``write_inline``).

What must hold: the write is stored before the update returns, a transient failure of
that one attempt goes on to the flusher's retries instead of failing the update, and a
writer cancelled during its attempt leaves the batch to the flusher, never a batch
nobody completes. Real memory storage, with ``FaultyStorage`` for the failures.
"""

from __future__ import annotations

import anyio
import pytest

from bassline import PersistenceError
from bassline.runtime import BreakerPolicy, RetryPolicy, StorageBackedRuntime
from bassline.storage import open_storage
from bassline.testing.faults import FaultyStorage

from .conftest import flat_spec

pytestmark = pytest.mark.anyio


async def test_a_lone_durable_writer_writes_its_own_batches(memory_url: str) -> None:
    """Planted: ``write_inline`` not completing the batch -> the first update never
    returns (the deadline fails the test)."""
    async with (
        open_storage(memory_url) as storage,
        open_storage(memory_url) as reader,
        StorageBackedRuntime(flat_spec(20), storage) as runtime,
    ):
        with anyio.fail_after(30):
            for i in range(20):
                await runtime.update_contact(f"c{i}", i)
                got = (await reader.load_contact_content("flat", "root", f"c{i}")).unwrap()
                assert got.value == i  # stored when the update returned
        assert runtime._flusher.inline_writes == 20
        assert runtime.metrics["batches"] == 20 and runtime.metrics["flushed"] == 20


async def test_a_lone_writer_keeps_writing_its_own_batches_when_writes_are_slow(
    memory_url: str,
) -> None:
    """A write slower than ``flush_interval`` wakes the flusher's timer during it; the
    flusher stays idle all the same, so the next update is written by its writer too.
    Planted: the flusher counted as busy from its timer's wakeup until it runs again ->
    every other update handed to it (3 of 6 written by the writer)."""
    async with open_storage(memory_url) as inner:
        slow = FaultyStorage(inner, seed=1, latency=0.03, operations={"write"})
        async with StorageBackedRuntime(flat_spec(6), slow, flush_interval=0.005) as runtime:
            for i in range(6):
                await runtime.update_contact(f"c{i}", i)
            assert runtime._flusher.inline_writes == 6


async def test_a_transient_failure_of_a_writers_own_attempt_is_retried(memory_url: str) -> None:
    """Planted: a transient failure of the inline attempt finished as the batch's outcome
    (not handed to the flusher) -> the update raises PersistenceError."""
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, operations={"write"})
        retry = RetryPolicy(initial_delay=0.001, max_delay=0.01, budget=30.0)
        async with StorageBackedRuntime(flat_spec(5), faulty, retry=retry) as runtime:
            faulty.down()
            failed_once = anyio.Event()

            async def lift() -> None:
                with anyio.fail_after(30):
                    while faulty.stats.outage < 2:  # noqa: ASYNC110 - a poll with a deadline
                        await anyio.sleep(0.001)
                faulty.up()
                failed_once.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(lift)
                with anyio.fail_after(30):
                    await runtime.update_contact("c0", 7)  # durable: must not raise
            assert failed_once.is_set()
            assert runtime._flusher.inline_writes == 0  # the flusher finished it
            assert runtime.metrics["retries"] >= 1
        assert (await inner.load_contact_content("flat", "root", "c0")).unwrap().value == 7


async def test_a_writer_cancelled_during_its_attempt_leaves_the_batch_to_the_flusher(
    memory_url: str,
) -> None:
    """Planted: the cancelled writer's batch dropped (not carried) -> ``flush`` never
    returns (the deadline fails the test)."""
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, latency=0.2, operations={"write"})
        async with StorageBackedRuntime(flat_spec(5), faulty) as runtime:
            with anyio.move_on_after(0.05) as scope:
                await runtime.update_contact("c1", 11)  # cancelled within the 0.2 s write
            assert scope.cancelled_caught
            faulty.configure(latency=0.0)
            with anyio.fail_after(30):
                await runtime.flush()
            await runtime.update_contact("c2", 12)  # and the next writer goes on as usual
        got = {r.contact: r.value for r in (await inner.load_contents("flat")).unwrap()}
        assert got["c1"] == 11 and got["c2"] == 12


async def test_a_permanent_failure_of_a_writers_own_attempt_reaches_it(memory_url: str) -> None:
    """The inline attempt's permanent error is the update's error, reported once."""
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, permanent_rate=1.0, operations={"write"})
        breaker = BreakerPolicy(failure_threshold=1_000)  # this is not about the breaker
        async with StorageBackedRuntime(flat_spec(5), faulty, breaker=breaker) as runtime:
            with pytest.raises(PersistenceError):
                await runtime.update_contact("c0", 1)
            assert runtime._flusher.unreported is None  # reported to this writer
            assert runtime.metrics["dropped"] == 1
            faulty.configure(permanent_rate=0.0)
            await runtime.update_contact("c0", 2)
            await runtime.flush()  # nothing left to report


async def test_concurrent_durable_writers_share_the_flushers_batches(memory_url: str) -> None:
    """With many durable writers in flight none writes a batch of its own (it would
    write one record while the others queue behind it). Planted: the lone-writer check
    dropped -> the first writer to run after each batch writes itself, several times."""
    async with (
        open_storage(memory_url) as storage,
        StorageBackedRuntime(flat_spec(200), storage) as runtime,
    ):

        async def writer(k: int) -> None:
            for j in range(4):
                await runtime.update_contact(f"c{k * 4 + j}", j)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for k in range(50):
                    tg.start_soon(writer, k)
        # the first writer to start is alone for a moment, and so may the last to finish
        assert runtime._flusher.inline_writes <= 2, runtime._flusher.inline_writes
        assert runtime.metrics["flushed"] == 200
