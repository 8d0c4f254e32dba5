"""StorageBackedRuntime on real backends (memory, fs) and under injected faults."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families
from returns.result import Success

from bassline import PersistenceError, StorageUnavailable
from bassline.clock import Stamp
from bassline.runtime import (
    BreakerPolicy,
    RetryPolicy,
    RuntimeEvent,
    SpecMismatch,
    StorageBackedRuntime,
)
from bassline.spec import parse_spec
from bassline.storage import ErrorCode, NetworkStorage, open_storage
from bassline.testing.faults import FaultStats, FaultyStorage
from tests.manual_clock import ManualClock

from .conftest import flat_spec

EXAMPLES = Path(__file__).parents[2] / "examples"
pytestmark = pytest.mark.anyio


async def stored(storage: NetworkStorage, network: str) -> dict[str, tuple[Any, Stamp]]:
    contents = (await storage.load_contents(network)).unwrap()
    return {r.contact: (r.value, r.stamp) for r in contents}


def engine_state(runtime: StorageBackedRuntime) -> dict[str, tuple[Any, Stamp]]:
    return {cid: (v, s) for cid, v, s in runtime.network.state()}


async def test_durable_update_is_readable_by_another_storage_when_it_returns(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as storage, open_storage(memory_url) as reader:
        async with StorageBackedRuntime(EXAMPLES / "calculator.json", storage) as runtime:
            await runtime.update_contact("input-a", 5)
            got = (await reader.load_contact_content("calculator", "root", "result")).unwrap()
            assert got.value == 25
            assert got.stamp == runtime.network.stamp("result")


@pytest.mark.parametrize("durability", ["durable", "buffered"])
async def test_a_thousand_concurrent_writers_lose_nothing(memory_url: str, durability: str) -> None:
    spec = flat_spec(10_000)
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(spec, storage, durability=durability) as runtime:

            async def writer(k: int) -> None:
                rng = random.Random(k)
                for j in range(10):
                    await runtime.update_contact(f"c{rng.randrange(10_000)}", [k, j])

            async with anyio.create_task_group() as tg:
                for k in range(1000):
                    tg.start_soon(writer, k)
            await runtime.flush()
            assert await stored(storage, "flat") == engine_state(runtime)
            metrics = runtime.metrics
            assert metrics["flushed"] >= len(engine_state(runtime))
            assert metrics["queue_depth"] == 0


async def test_a_buffered_writer_that_never_waits_still_lets_the_flusher_keep_up(
    memory_url: str,
) -> None:
    """A tight loop of buffered updates never blocks, so it must yield to the flusher
    itself once a batch is full (not on every update after that)."""
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(
            flat_spec(5000), storage, durability="buffered", batch_size=100, flush_interval=3600
        ) as runtime:
            deepest = 0
            for i in range(5000):
                await runtime.update_contact(f"c{i}", i)
                deepest = max(deepest, runtime.queue_depth)
            written = runtime.metrics["flushed"]
            await runtime.flush()
            assert await stored(storage, "flat") == engine_state(runtime)
    assert written >= 4000  # the flusher ran during the loop, not only at the flush
    assert deepest < 1000  # and the queue never held more than a few batches


async def test_transient_faults_lose_no_acknowledged_write_and_retries_are_counted(
    memory_url: str,
) -> None:
    spec = flat_spec(200)
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=3, transient_rate=0.3, operations={"write"})
        retry = RetryPolicy(initial_delay=0.001, max_delay=0.01, budget=5.0)
        acknowledged: dict[str, Any] = {}
        async with StorageBackedRuntime(spec, faulty, retry=retry) as runtime:

            async def writer(k: int) -> None:
                for j in range(20):
                    contact = f"c{(k * 20 + j) % 200}"
                    await runtime.update_contact(contact, [k, j])
                    acknowledged[contact] = runtime.network.stamp(contact)

            async with anyio.create_task_group() as tg:
                for k in range(20):
                    tg.start_soon(writer, k)
            assert runtime.metrics["retries"] > 0
            assert faulty.stats.transient > 0
        contents = await stored(inner, "flat")
        for contact, stamp in acknowledged.items():
            assert contact in contents and contents[contact][1] >= stamp


async def test_permanent_failure_reaches_every_durable_writer(memory_url: str) -> None:
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, operations={"write"})
        # The breaker never opens here: the scheduler may split the ten writes into several
        # batches, and a writer arriving while an opened breaker waits out its reset would be
        # refused up front (StorageUnavailable), which is not what this test is about.
        async with StorageBackedRuntime(
            flat_spec(50), faulty, breaker=BreakerPolicy(failure_threshold=1_000)
        ) as runtime:
            faulty.configure(permanent_rate=1.0)
            faulty.reset_stats()
            events: list[RuntimeEvent] = []
            runtime.add_event_listener(events.append)
            errors: list[BaseException] = []

            async def writer(i: int) -> None:
                try:
                    await runtime.update_contact(f"c{i}", i)
                except PersistenceError as exc:
                    errors.append(exc)

            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(writer, i)
            assert len(errors) == 10
            assert all(e.error is not None and not e.error.transient for e in errors)  # type: ignore[attr-defined]
            # a permanent error is never retried: one storage call per failed batch, each
            # write given up exactly once
            metrics = runtime.metrics
            failed_batches = sum(e.kind == "batch-failed" for e in events)
            assert metrics["retries"] == 0 and metrics["dropped"] == 10
            assert faulty.stats.calls == faulty.stats.permanent == failed_batches
            assert sum(metrics["errors"].values()) == failed_batches
            faulty.configure(permanent_rate=0.0)


async def test_a_permanent_error_is_not_retried(memory_url: str) -> None:
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(
            inner, seed=1, operations={"write"}, permanent_codes=(ErrorCode.PERMISSION,)
        )
        events: list[RuntimeEvent] = []
        async with StorageBackedRuntime(flat_spec(3), faulty) as runtime:
            runtime.add_event_listener(events.append)
            faulty.configure(permanent_rate=1.0)
            faulty.reset_stats()
            with pytest.raises(PersistenceError, match="injected permanent permission"):
                await runtime.update_contact("c1", 1)
            assert faulty.stats == FaultStats(calls=1, permanent=1)
            metrics = runtime.metrics
            assert metrics["retries"] == 0
            assert metrics["errors"] == {"permission": 1}
            assert metrics["dropped"] == 1 and metrics["flushed"] == 0
            assert [e.kind for e in events] == ["batch-failed", "breaker-opened", "records-dropped"]
            faulty.configure(permanent_rate=0.0)


async def test_buffered_permanent_failure_shows_in_health_metrics_events_and_flush(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, operations={"write"})
        events: list[RuntimeEvent] = []
        runtime = StorageBackedRuntime(flat_spec(10), faulty, durability="buffered")
        runtime.add_event_listener(events.append)
        async with runtime:
            faulty.configure(permanent_rate=1.0)
            await runtime.update_contact("c1", 1)  # returns once queued
            with pytest.raises(PersistenceError, match="flush failed"):
                await runtime.flush()
            assert [e.kind for e in events] == ["batch-failed", "breaker-opened", "records-dropped"]
            metrics = runtime.metrics
            assert sum(metrics["errors"].values()) == 1 and metrics["retries"] == 0
            assert metrics["dropped"] == 1
            faulty.configure(permanent_rate=0.0)
            await runtime.update_contact("c2", 2)
            await runtime.flush()
            assert runtime.health().ok


async def test_breaker_opens_while_storage_is_down_and_closes_when_it_recovers(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1)
        clock = ManualClock()  # the breaker stays open until the test lets time pass
        runtime = StorageBackedRuntime(
            flat_spec(10),
            faulty,
            retry=RetryPolicy(initial_delay=0.001, max_delay=0.005, budget=0.05),
            breaker=BreakerPolicy(reset_timeout=0.05, clock=clock),
        )
        events: list[str] = []
        runtime.add_event_listener(lambda e: events.append(e.kind))
        async with runtime:
            faulty.down()
            with pytest.raises(PersistenceError):
                await runtime.update_contact("c1", 1)
            assert runtime.health().breaker == "open"
            assert not runtime.health().ok
            with pytest.raises(StorageUnavailable):
                await runtime.update_contact("c2", 2)  # fails fast, not applied
            assert runtime.network.value("c2", None) is None
            assert runtime.health().breaker == "open" and runtime.queue_depth == 1  # c1 waits
            faulty.up()
            clock.advance(1)  # past reset_timeout
            assert runtime.health().breaker == "half-open"
            await runtime.update_contact("c3", 3)  # the trial batch: c1 (queued) and c3
            assert runtime.health().breaker == "closed"
            # the failure reached its durable writer as an exception: it is reported, so
            # once storage is back the runtime is healthy and flush has nothing to raise
            assert runtime.health().ok, runtime.health().reasons
            await runtime.flush()
            assert events == ["batch-failed", "breaker-opened", "breaker-closed"]
            transitions = runtime.metrics["breaker"]["transitions"]
            assert transitions == {"closed->open": 1, "open->half-open": 1, "half-open->closed": 1}
        assert {k: v for k, (v, _) in (await stored(inner, "flat")).items()} == {"c1": 1, "c3": 3}


async def test_restart_recovers_values_and_stamps_so_stale_values_lose(memory_url: str) -> None:
    spec = flat_spec(5)
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(spec, storage, node_id="n1") as first:
            await first.update_contact("c1", "new")
            stamp = first.network.stamp("c1")
        async with StorageBackedRuntime(spec, storage, node_id="n1") as second:
            assert second.value("c1") == "new"
            assert second.network.stamp("c1") == stamp
            assert second.recovered == 1
            await second.apply([("c1", "stale", Stamp(stamp.hlc - 1, "n2"))])
            assert second.value("c1") == "new"
            await second.update_contact("c2", 2)
            assert second.network.clock.last > stamp.hlc


async def test_a_different_stored_spec_is_refused_unless_replaced(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(flat_spec(3), storage) as rt:
            await rt.update_contact("c0", "kept")
        changed = parse_spec({"id": "flat", "contacts": [{"id": "c0"}, {"id": "extra"}]})
        with pytest.raises(SpecMismatch, match="replace_spec=True"):
            async with StorageBackedRuntime(changed, storage):
                pass
        async with StorageBackedRuntime(changed, storage, replace_spec=True) as rt:
            assert rt.value("c0") == "kept"
        assert (await storage.load_network("flat")).unwrap().hash == changed.hash


async def test_replacing_the_spec_takes_its_new_initial_contents(memory_url: str) -> None:
    first = parse_spec({"id": "init", "contacts": [{"id": "a", "content": 1}, {"id": "b"}]})
    second = parse_spec({"id": "init", "contacts": [{"id": "a", "content": 2}, {"id": "b"}]})
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(first, storage) as rt:
            await rt.update_contact("b", "written")
        async with StorageBackedRuntime(second, storage, replace_spec=True) as rt:
            assert rt.value("a") == 2  # the new spec's content, not the old one's
            assert rt.value("b") == "written"  # real writes survive
        stored_a = (await storage.load_contact_content("init", "root", "a")).unwrap()
        assert stored_a.value == 2


async def test_storage_equals_engine_after_open_even_for_initial_and_derived_values(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(EXAMPLES / "temperature.json", storage) as rt:
            assert await stored(storage, "temperature") == engine_state(rt)


async def test_metrics_snapshot_and_prometheus_text(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(flat_spec(3), storage) as rt:
            await rt.update_contact("c0", 1)
            rt.value("c0")
            rt.value("c1")
            m = rt.metrics
            assert m["latency_seconds"]["write"]["count"] == 1  # one durable update: one batch
            assert m["latency_seconds"]["update"]["p99"] is not None
            assert m["cache"] == {"hits": 1, "misses": 1}
            assert m["breaker"]["state"] == "closed"
            text = rt.prometheus()
            families = {f.name: f for f in text_string_to_metric_families(text)}
            latency = families["bassline_runtime_operation_seconds"]
            assert latency.type == "histogram"  # adds up across nodes; a summary does not
            writes = [s for s in latency.samples if s.labels.get("operation") == "write"]
            buckets = [s for s in writes if s.name.endswith("_bucket")]
            assert [b.labels["le"] for b in buckets][-1] == "+Inf"
            assert [b.value for b in buckets] == sorted(b.value for b in buckets)
            count = next(s.value for s in writes if s.name.endswith("_count"))
            assert buckets[-1].value == count == m["latency_seconds"]["write"]["count"]
            assert 'bassline_runtime_breaker_state{state="closed"} 1' in text
            assert "bassline_runtime_queue_depth 0" in text


async def test_load_failure_at_open_is_a_persistence_error(memory_url: str) -> None:
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, permanent_rate=1.0, operations={"load_network_hash"})
        with pytest.raises(PersistenceError, match="cannot read network"):
            async with StorageBackedRuntime(flat_spec(1), faulty):
                pass


async def test_closing_with_unstorable_changes_raises(memory_url: str) -> None:
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, operations={"write"})
        with pytest.raises(PersistenceError):
            async with StorageBackedRuntime(
                flat_spec(3),
                faulty,
                durability="buffered",
                retry=RetryPolicy(initial_delay=0.001, budget=0.02),
                breaker=BreakerPolicy(reset_timeout=0.01),
            ) as rt:
                faulty.down()
                await rt.update_contact("c0", 1)
        assert isinstance(await inner.load_network("flat"), Success)
        assert (
            await inner.load_contact_content("flat", "root", "c0")
        ).failure().code == ErrorCode.CONTACT_NOT_FOUND


async def test_a_tuple_written_is_held_stored_and_restored_as_a_list(memory_url: str) -> None:
    """``update_contact("c0", (1, 2))`` kept the tuple: the runtime held ``(1, 2)`` while
    storage, peers and a restart gave ``[1, 2]``, which ``!=`` it."""
    spec = flat_spec(2)
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(spec, storage) as rt:
            result = await rt.update_contact("c0", (1, 2))
            await rt.update_many({"c1": {"k": (3, (4,))}})
            held = rt.network.values()
            assert [type(change.value) for change in result.changes] == [list]
        stored = {r.contact: r.value for r in (await storage.load_contents("flat")).unwrap()}
        async with StorageBackedRuntime(spec, storage) as again:
            restored = again.network.values()
    assert held == stored == restored == {"c0": [1, 2], "c1": {"k": [3, [4]]}}
    assert type(held["c0"]) is list and type(held["c1"]["k"][1]) is list
