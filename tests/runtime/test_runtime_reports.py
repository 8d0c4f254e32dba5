"""What the durable write path reports: its events (every field), counters, health, flush.

Exact values, not ``>=``: an extra event, a counter overwritten instead of added to, or a
failure forgotten before anyone was told shows here.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
import attrs
import pytest
from returns.result import Failure

from bassline import PersistenceError, StorageUnavailable
from bassline.runtime import BreakerPolicy, RetryPolicy, RuntimeEvent, StorageBackedRuntime
from bassline.storage import ErrorCode, NetworkStorage, PoolStats, StorageError, open_storage
from bassline.testing.faults import FaultyStorage
from tests.manual_clock import ManualClock

from .conftest import flat_spec

pytestmark = pytest.mark.anyio


async def wait_for_event(events: list[RuntimeEvent], kind: str, count: int = 1) -> None:
    """Until ``count`` events of ``kind`` arrived (a deadline, not a sync)."""
    with anyio.fail_after(10):
        while sum(e.kind == kind for e in events) < count:  # noqa: ASYNC110
            await anyio.sleep(0.005)


def _permanent(runtime: StorageBackedRuntime, caught: PersistenceError) -> StorageError:
    error = caught.error  # type: ignore[attr-defined]
    assert isinstance(error, StorageError) and not error.transient
    assert error.code is ErrorCode.PERMISSION
    return error


async def test_a_permanent_failure_reports_each_event_with_its_detail_and_error(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(
            inner, seed=1, operations={"write"}, permanent_codes=(ErrorCode.PERMISSION,)
        )
        async with StorageBackedRuntime(flat_spec(3), faulty) as runtime:
            events: list[RuntimeEvent] = []
            runtime.add_event_listener(events.append)
            faulty.configure(permanent_rate=1.0)
            with pytest.raises(PersistenceError) as caught:
                await runtime.update_contact("c1", 1)
            error = _permanent(runtime, caught.value)
            assert events == [
                RuntimeEvent("batch-failed", str(error), error),
                RuntimeEvent("breaker-opened", str(error), error),
                RuntimeEvent(
                    "records-dropped",
                    f"1 writes given up after a permanent error: {error}",
                    error,
                ),
            ]
            assert all(e.error is error for e in events)
            health = runtime.health()
            assert (health.status, health.breaker, health.queue_depth) == ("degraded", "open", 0)
            # reported to its writer, so not "unreported": the open breaker is the reason
            assert health.reasons == (f"circuit breaker open: {error}",)
            assert runtime.metrics["breaker"]["last_error"] == str(error)
            faulty.configure(permanent_rate=0.0)


async def test_a_breaker_with_a_threshold_reports_opening_only_when_it_opens(
    memory_url: str,
) -> None:
    clock = ManualClock()
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, operations={"write"})
        async with StorageBackedRuntime(
            flat_spec(6), faulty, breaker=BreakerPolicy(failure_threshold=2, clock=clock)
        ) as runtime:
            events: list[RuntimeEvent] = []
            runtime.add_event_listener(events.append)
            faulty.configure(permanent_rate=1.0)
            with pytest.raises(PersistenceError):
                await runtime.update_contact("c1", 1)
            assert [e.kind for e in events] == ["batch-failed", "records-dropped"]
            assert runtime.health().breaker == "closed"
            with pytest.raises(PersistenceError):
                await runtime.update_contact("c2", 2)
            assert [e.kind for e in events] == [
                "batch-failed",
                "records-dropped",
                "batch-failed",
                "breaker-opened",
                "records-dropped",
            ]
            # dropped writes add up over failures; each failure drops its own batch
            assert runtime.metrics["dropped"] == 2
            assert [e.detail.split(" ")[0] for e in events if e.kind == "records-dropped"] == [
                "1",
                "1",
            ]
            faulty.configure(permanent_rate=0.0)
            clock.advance(2)  # the trial
            await runtime.update_contact("c3", 3)
            assert [e.kind for e in events][-1] == "breaker-closed"
            assert runtime.metrics["dropped"] == 2


async def test_dropped_counts_every_write_of_every_failed_batch(memory_url: str) -> None:
    clock = ManualClock()
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, operations={"write"})
        runtime = StorageBackedRuntime(
            flat_spec(10),
            faulty,
            durability="buffered",
            breaker=BreakerPolicy(clock=clock),
        )
        events: list[RuntimeEvent] = []
        runtime.add_event_listener(events.append)
        async with runtime:
            faulty.configure(permanent_rate=1.0)
            await runtime.update_many({"c0": 0, "c1": 1, "c2": 2})
            with pytest.raises(PersistenceError, match="flush failed"):
                await runtime.flush()
            assert runtime.metrics["dropped"] == 3
            await runtime.update_many({"c3": 3, "c4": 4})
            clock.advance(2)  # the trial batch fails too
            with pytest.raises(PersistenceError, match="flush failed"):
                await runtime.flush()
            metrics = runtime.metrics
            assert metrics["dropped"] == 5
            # nothing read the breaker between the two failures: the flusher itself moved
            # it to half-open for the trial, and the trial's failure opened it again
            assert metrics["breaker"]["transitions"] == {
                "closed->open": 1,
                "open->half-open": 1,
                "half-open->open": 1,
            }
            assert [e.detail.split(" ")[0] for e in events if e.kind == "records-dropped"] == [
                "3",
                "2",
            ]
            faulty.configure(permanent_rate=0.0)


async def test_a_buffered_failure_is_unhealthy_until_a_flush_reports_it_even_after_later_successes(
    memory_url: str,
) -> None:
    clock = ManualClock()
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(
            inner, seed=1, operations={"write"}, permanent_codes=(ErrorCode.PERMISSION,)
        )
        runtime = StorageBackedRuntime(
            flat_spec(10), faulty, durability="buffered", breaker=BreakerPolicy(clock=clock)
        )
        events: list[RuntimeEvent] = []
        runtime.add_event_listener(events.append)
        async with runtime:
            faulty.configure(permanent_rate=1.0)
            await runtime.update_contact("c1", 1)  # returns once queued
            await wait_for_event(events, "records-dropped")
            error = events[0].error
            assert error is not None
            assert f"unreported storage failure: {error}" in runtime.health().reasons
            faulty.configure(permanent_rate=0.0)
            clock.advance(2)  # the trial
            await runtime.update_contact("c2", 2)
            await wait_for_event(events, "breaker-closed")
            # c2's batch committed, yet c1's failure was never reported: still unhealthy,
            # and the next flush raises it (once)
            health = runtime.health()
            assert health.breaker == "closed"
            assert health.reasons == (f"unreported storage failure: {error}",)
            with pytest.raises(PersistenceError, match="flush failed") as caught:
                await runtime.flush()
            assert caught.value.error is error  # type: ignore[attr-defined]
            assert str(caught.value) == (
                f"flush failed: queued changes were not all stored: {error}"
            )
            assert runtime.health().ok
            await runtime.flush()


@pytest.mark.parametrize("durability", ["durable", "buffered"])
async def test_writes_after_idle_spells_are_still_stored(memory_url: str, durability: str) -> None:
    """The flusher wakes every ``flush_interval`` with nothing to do; it must keep waiting
    for work, not stop. The pauses are longer than that interval so that it does wake idle
    (they make the condition, they do not wait for an outcome)."""
    async with open_storage(memory_url) as inner:
        runtime = StorageBackedRuntime(
            flat_spec(3), inner, durability=durability, flush_interval=0.001
        )
        async with runtime:
            for i in range(3):
                await anyio.sleep(0.02)  # idle: the flusher wakes with an empty queue
                with anyio.fail_after(10):
                    await runtime.update_contact(f"c{i}", i)
                    await runtime.flush()
            assert runtime.metrics["flushed"] == 3
        stored = (await inner.load_contents("flat")).unwrap()
        assert {r.contact: r.value for r in stored} == {"c0": 0, "c1": 1, "c2": 2}


class Gate:
    """Once :meth:`hold` is called, holds every write of a real storage until
    :meth:`release` (a stalled server)."""

    def __init__(self, storage: NetworkStorage) -> None:
        self.opened = anyio.Event()
        self.opened.set()
        real = storage.write

        async def write(records: Any) -> Any:
            await self.opened.wait()
            return await real(records)

        storage.write = write  # type: ignore[method-assign]

    def hold(self) -> None:
        self.opened = anyio.Event()

    def release(self) -> None:
        self.opened.set()


async def wait_for_depth(runtime: StorageBackedRuntime, depth: int) -> None:
    with anyio.fail_after(10):
        while runtime.queue_depth != depth:  # noqa: ASYNC110
            await anyio.sleep(0.005)


async def test_health_reports_a_queue_over_80_percent_of_its_bound(memory_url: str) -> None:
    async with open_storage(memory_url) as inner:
        gate = Gate(inner)
        runtime = StorageBackedRuntime(
            flat_spec(12),
            inner,
            durability="buffered",
            queue_bound=10,
            retry=RetryPolicy(budget=30),  # a stalled write is not a reason in this test
        )
        async with runtime:
            gate.hold()
            try:
                await runtime.update_contact("c11", 0)
                await wait_for_depth(runtime, 0)  # the flusher took it, and waits for storage
                for i in range(8):
                    await runtime.update_contact(f"c{i}", i)
                health = runtime.health()
                assert (health.status, health.reasons, health.queue_depth) == ("ok", (), 8)
                await runtime.update_contact("c8", 8)  # 9 of 10: over 80%
                health = runtime.health()
                assert health.status == "degraded" and health.queue_depth == 9
                assert health.reasons == ("queue at 9 of 10 pending contacts",)
                assert health.breaker == "closed"
                gate.release()
                await runtime.flush()
                health = runtime.health()
                assert (health.status, health.reasons, health.queue_depth) == ("ok", (), 0)

            finally:
                gate.release()  # a failed assertion must not stall the exit


async def test_health_reports_a_write_storage_has_not_answered_within_the_retry_budget(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as inner:
        gate = Gate(inner)
        runtime = StorageBackedRuntime(
            flat_spec(3), inner, durability="buffered", retry=RetryPolicy(budget=0.05)
        )
        async with runtime:
            gate.hold()
            try:
                await runtime.update_contact("c0", 0)
                with anyio.fail_after(10):
                    while runtime.health().ok:  # noqa: ASYNC110 - until the budget has passed
                        await anyio.sleep(0.01)
                health = runtime.health()
                assert health.breaker == "closed" and health.queue_depth == 0
                (reason,) = health.reasons
                waited = re.fullmatch(
                    r"a storage write has been waiting for an answer for (\d+\.\d) s, longer "
                    r"than the retry budget \(0\.05 s\): storage is not answering",
                    reason,
                )
                assert waited is not None, reason
                assert float(waited[1]) >= 0.0
                gate.release()
                await runtime.flush()
                assert runtime.health().ok
                assert runtime.metrics["flushed"] == 1
            finally:
                gate.release()  # a failed assertion must not stall the exit


class Scripted:
    """A real storage whose next writes end as scripted: ``"ok"`` (written), a
    :class:`StorageError` (returned) or an exception (raised); then every write is written."""

    def __init__(self, storage: NetworkStorage, *script: object) -> None:
        self.script = list(script)
        self.calls = 0
        real = storage.write

        async def write(records: Any) -> Any:
            self.calls += 1
            step = self.script.pop(0) if self.script else "ok"
            if isinstance(step, StorageError):
                return Failure(step)
            if isinstance(step, BaseException):
                raise step
            return await real(records)

        storage.write = write  # type: ignore[method-assign]


async def test_transient_errors_are_counted_exactly_and_the_batch_then_commits(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as inner:
        timeout = StorageError(ErrorCode.TIMEOUT, "slow", transient=True)
        connection = StorageError(ErrorCode.CONNECTION, "reset", transient=True)
        async with StorageBackedRuntime(
            flat_spec(4),
            inner,
            retry=RetryPolicy(initial_delay=0.001, max_delay=0.002, budget=30),
        ) as runtime:
            assert runtime.health().ok  # before any write
            await runtime.update_many({"c0": 0, "c1": 1})
            script = Scripted(inner, timeout, timeout, connection)
            await runtime.update_contact("c2", 2)
            await runtime.update_contact("c3", 3)
            assert script.calls == 5  # 3 failed attempts, then c2's batch, then c3's
            metrics = runtime.metrics
            assert metrics["retries"] == 3
            assert metrics["errors"] == {"timeout": 2, "connection": 1}
            assert metrics["batches"] == 3 and metrics["flushed"] == 4
            assert metrics["dropped"] == 0
            assert metrics["breaker"]["state"] == "closed"
            assert metrics["latency_seconds"]["write"]["count"] == 6
            p99 = metrics["latency_seconds"]["write"]["p99"]
            assert p99 is not None and 0 <= p99 < 30


async def test_a_storage_that_raises_is_a_permanent_corruption_error_not_retried(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as inner:
        boom = RuntimeError("boom")
        async with StorageBackedRuntime(flat_spec(2), inner) as runtime:
            events: list[RuntimeEvent] = []
            runtime.add_event_listener(events.append)
            script = Scripted(inner, boom)
            with pytest.raises(PersistenceError) as caught:
                await runtime.update_contact("c0", 0)
            error = caught.value.error  # type: ignore[attr-defined]
            assert error == StorageError(
                ErrorCode.CORRUPTION, "storage raised RuntimeError('boom')", transient=False
            )
            assert error.cause is boom
            assert script.calls == 1
            metrics = runtime.metrics
            assert metrics["retries"] == 0 and metrics["errors"] == {"corruption": 1}
            assert metrics["dropped"] == 1
            assert [e.kind for e in events] == ["batch-failed", "breaker-opened", "records-dropped"]


async def test_an_open_breaker_holds_buffered_writes_until_its_trial(memory_url: str) -> None:
    """``reset_timeout`` is the default 1 s: the flusher waits for the breaker, not for a
    second."""
    clock = ManualClock()
    async with open_storage(memory_url) as inner:
        runtime = StorageBackedRuntime(
            flat_spec(3), inner, durability="buffered", breaker=BreakerPolicy(clock=clock)
        )
        events: list[RuntimeEvent] = []
        runtime.add_event_listener(events.append)
        async with runtime:
            script = Scripted(inner, StorageError(ErrorCode.PERMISSION, "no", transient=False))
            await runtime.update_contact("c0", 0)
            with pytest.raises(PersistenceError, match="flush failed"):
                await runtime.flush()
            await runtime.update_contact("c1", 1)  # storage would take it now, but
            with anyio.move_on_after(0.3):  # the breaker is open: nothing is written
                await runtime.flush()
            assert script.calls == 1 and runtime.queue_depth == 1
            clock.advance(1)
            await runtime.flush()
            assert script.calls == 2 and runtime.queue_depth == 0
            assert events[-1] == RuntimeEvent("breaker-closed", "storage recovered")
            assert [e.kind for e in events] == [
                "batch-failed",
                "breaker-opened",
                "records-dropped",
                "breaker-closed",
            ]


async def test_reads_count_hits_and_misses_and_listeners_unsubscribe(memory_url: str) -> None:
    async with open_storage(memory_url) as inner:
        async with StorageBackedRuntime(flat_spec(3), inner) as runtime:
            await runtime.update_contact("c0", 0)
            for _ in range(3):
                assert runtime.value("c0") == 0
                assert runtime.value("c1", "none") == "none"
            assert runtime.metrics["cache"] == {"hits": 3, "misses": 3}
            update = runtime.metrics["latency_seconds"]["update"]
            assert update["count"] == 1
            assert update["p99"] is not None and 0 <= update["p99"] < 30
            seen: list[RuntimeEvent] = []
            unsubscribe = runtime.add_event_listener(seen.append)
            unsubscribe()
            unsubscribe()  # a second time is harmless
            Scripted(inner, StorageError(ErrorCode.PERMISSION, "no", transient=False))
            with pytest.raises(PersistenceError):
                await runtime.update_contact("c1", 1)
            assert seen == []


@pytest.mark.parametrize("durability", ["durable", "buffered"])
async def test_each_write_path_counts_its_update_latency(memory_url: str, durability: str) -> None:
    """One update, one latency sample of a plausible length, on either write path."""
    async with open_storage(memory_url) as inner:
        async with StorageBackedRuntime(flat_spec(1), inner, durability=durability) as runtime:
            await runtime.update_contact("c0", 0)
            update = runtime.metrics["latency_seconds"]["update"]
            assert update["count"] == 1
            assert update["p99"] is not None and 0 <= update["p99"] < 30


async def test_each_refusal_says_what_happened_to_the_write(memory_url: str) -> None:
    async with open_storage(memory_url) as inner:
        runtime = StorageBackedRuntime(flat_spec(3), inner)
        with pytest.raises(RuntimeError, match=r"^the runtime is not running; use 'async with'$"):
            await runtime.flush()
        async with runtime:
            no = StorageError(ErrorCode.PERMISSION, "no", transient=False)
            Scripted(inner, no)
            with pytest.raises(PersistenceError) as stored:
                await runtime.update_contact("c0", 0)
            assert str(stored.value) == f"the update was applied in memory but not stored: {no}"
            assert runtime.value("c0") == 0
            with pytest.raises(StorageUnavailable) as refused:
                await runtime.update_contact("c1", 1)
            assert str(refused.value) == (
                f"storage is unavailable (circuit breaker open: {no}); the write was not applied"
            )
            assert runtime.value("c1", None) is None
        with pytest.raises(RuntimeError, match="not running"):
            await runtime.flush()  # closed


async def test_closing_raises_a_failure_that_no_flush_reported(memory_url: str) -> None:
    """Closing flushes, and a flush raises a failure nobody was told of: a buffered batch
    dropped for a permanent error before the runtime closed is not closed over silently."""
    async with open_storage(memory_url) as inner:
        runtime = StorageBackedRuntime(flat_spec(3), inner, durability="buffered")
        events: list[RuntimeEvent] = []
        runtime.add_event_listener(events.append)
        no = StorageError(ErrorCode.PERMISSION, "no", transient=False)
        with pytest.raises(PersistenceError) as caught:
            async with runtime:
                Scripted(inner, no)
                await runtime.update_contact("c0", 0)
                await wait_for_event(events, "records-dropped")  # dropped before closing
        assert str(caught.value) == f"flush failed: queued changes were not all stored: {no}"


async def test_closing_right_after_a_buffered_write_raises_its_permanent_failure(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as inner:
        no = StorageError(ErrorCode.PERMISSION, "no", transient=False)
        with pytest.raises(PersistenceError) as caught:
            async with StorageBackedRuntime(flat_spec(3), inner, durability="buffered") as rt:
                Scripted(inner, no)
                await rt.update_contact("c0", 0)  # queued; closing writes it, and it fails
        assert str(caught.value) == f"flush failed: queued changes were not all stored: {no}"


@pytest.mark.parametrize(("budget", "reset_timeout"), [(0.5, 5), (0.05, 0.05)])
async def test_closing_stores_what_is_queued_whatever_the_budget_and_reset_timeout(
    memory_url: str, budget: float, reset_timeout: float
) -> None:
    """The close waits for its final flush as long as a retry budget and a breaker trial
    take together, plus a second, however the two compare and however short they are:
    neither a ``reset_timeout`` longer than the budget nor two short ones cut the close
    short while storage is fine."""
    async with open_storage(memory_url) as inner:
        async with StorageBackedRuntime(
            flat_spec(2),
            inner,
            durability="buffered",
            retry=RetryPolicy(budget=budget),
            breaker=BreakerPolicy(reset_timeout=reset_timeout),
        ) as runtime:
            await runtime.update_contact("c0", 0)  # queued: the flusher has not run since
            assert runtime.queue_depth == 1
        stored = (await inner.load_contents("flat")).unwrap()
        assert {r.contact: r.value for r in stored} == {"c0": 0}


async def test_closing_while_storage_does_not_answer_a_write_raises_and_counts_it(
    memory_url: str,
) -> None:
    """A stalled server holds the final flush past the close's deadline: the writes the
    flusher took are not stored, and the close says so instead of returning quietly."""
    async with open_storage(memory_url) as inner:
        gate = Gate(inner)
        runtime = StorageBackedRuntime(
            flat_spec(3),
            inner,
            durability="buffered",
            retry=RetryPolicy(budget=0.05),
            breaker=BreakerPolicy(reset_timeout=0.05),
        )
        with pytest.raises(PersistenceError) as caught:
            async with runtime:
                await runtime.update_many({"c0": 0, "c1": 1})
                await runtime.flush()
                gate.hold()
                await runtime.update_many({"c1": 10, "c2": 2})
        assert str(caught.value) == "closing with 2 changes that storage did not accept"
        gate.release()
        stored = (await inner.load_contents("flat")).unwrap()
        assert {r.contact: r.value for r in stored} == {"c0": 0, "c1": 1}


async def test_a_close_counts_only_the_chunks_storage_did_not_answer(memory_url: str) -> None:
    """One batch of three writes in chunks of two: storage commits the first chunk and
    never answers the second, so the close names the one write left, not all three."""
    async with open_storage(memory_url) as inner:
        answered = [0]
        stalled = anyio.Event()
        real = inner.write

        async def write(records: Any) -> Any:
            if answered[0] >= 1:
                await stalled.wait()
            answered[0] += 1
            return await real(records)

        runtime = StorageBackedRuntime(
            flat_spec(3),
            inner,
            durability="buffered",
            batch_size=2,
            retry=RetryPolicy(budget=0.05),
            breaker=BreakerPolicy(reset_timeout=0.05),
        )
        with pytest.raises(PersistenceError) as caught:
            async with runtime:
                inner.write = write  # type: ignore[method-assign]
                await runtime.update_many({"c0": 0, "c1": 1, "c2": 2})
        assert str(caught.value) == "closing with 1 changes that storage did not accept"
        stalled.set()
        stored = (await inner.load_contents("flat")).unwrap()
        assert {r.contact: r.value for r in stored} == {"c0": 0, "c1": 1}


async def test_closing_with_writes_the_open_breaker_holds_raises_and_names_them(
    memory_url: str,
) -> None:
    clock = ManualClock()  # never advanced: the breaker stays open through the close
    async with open_storage(memory_url) as inner:
        runtime = StorageBackedRuntime(
            flat_spec(3),
            inner,
            durability="buffered",
            retry=RetryPolicy(budget=0.05),
            breaker=BreakerPolicy(reset_timeout=0.05, clock=clock),
        )
        with pytest.raises(PersistenceError) as caught:
            async with runtime:
                Scripted(inner, StorageError(ErrorCode.PERMISSION, "no", transient=False))
                await runtime.update_contact("c0", 0)
                with pytest.raises(PersistenceError, match="flush failed"):
                    await runtime.flush()  # reported: the close does not raise it again
                await runtime.update_contact("c1", 1)  # held by the open breaker
        assert str(caught.value) == "closing with 1 changes that storage did not accept"


async def test_a_pooled_storage_reports_its_pool_in_metrics_and_prometheus(
    memory_url: str,
) -> None:
    pool = PoolStats(
        size=5, max_overflow=2, open=3, in_use=1, overflow=0, waiting=0, waits=4, wait_seconds=0.5
    )
    async with open_storage(memory_url) as inner:
        async with StorageBackedRuntime(flat_spec(1), inner) as plain:
            assert plain.pool_stats() is None and plain.metrics["pool"] is None
            assert "bassline_storage_pool" not in plain.prometheus()
        inner.pool_stats = lambda: pool  # type: ignore[attr-defined]  # now a PooledStorage
        async with StorageBackedRuntime(flat_spec(1), inner) as pooled:
            assert pooled.pool_stats() == pool
            assert pooled.metrics["pool"] == attrs.asdict(pool)
            text = pooled.prometheus()
            assert "bassline_storage_pool_connections_open 3" in text
            assert "bassline_storage_pool_waits_total 4" in text
