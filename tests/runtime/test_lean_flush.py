"""The flusher hands storage its queue's columns (``write_columns``, decision D76)
when the storage's ``write`` is the base class's, and records through ``write`` otherwise
or when a check refuses the columns (``write`` then names the error)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from bassline_storage_memory import open_memory_storage
from bassline_storage_memory.storage import MemoryStorage
from returns.result import Failure

from bassline.clock import Stamp
from bassline.runtime import StorageBackedRuntime
from bassline.runtime.breaker import CircuitBreaker
from bassline.runtime.flusher import Flusher
from bassline.runtime.metrics import RuntimeMetrics
from bassline.runtime.policy import BreakerPolicy, RetryPolicy
from bassline.runtime.queue import StorageQueue
from bassline.storage import ErrorCode, StorageResult, WriteSummary, open_storage
from bassline.storage.fastpath import ContentColumns

from .conftest import flat_spec

pytestmark = pytest.mark.anyio


class _Counting(MemoryStorage):
    """Counts the batches that reach each hook (``write`` itself is the base class's)."""

    def __init__(self) -> None:
        plain = open_memory_storage()
        super().__init__("memory://", plain.store)
        self.columns: list[tuple[str, ...]] = []
        self.records: list[list[str]] = []

    async def do_write_columns(self, columns: ContentColumns) -> StorageResult[WriteSummary]:
        self.columns.append(columns.contacts)
        return await super().do_write_columns(columns)

    async def do_write(self, batch: Any) -> StorageResult[WriteSummary]:
        self.records.append([r.contact for r in batch.contents])
        return await super().do_write(batch)


async def test_a_runtimes_batches_reach_storage_as_columns() -> None:
    """Durable single updates and a batch of several: each reaches ``do_write_columns``,
    none ``do_write`` (the spec's save aside). Planted: the flusher writing records
    through ``write`` -> no columns seen."""
    async with _Counting() as storage:
        async with StorageBackedRuntime(flat_spec(5), storage, durability="durable") as runtime:
            storage.records.clear()  # the spec saved at start
            await runtime.update_contact("c0", 1)
            await runtime.update_many({"c1": 2, "c2": [3], "c3": {"x": 4}})
            await runtime.update_contact("c0", 5)
        assert storage.columns == [("c0",), ("c1", "c2", "c3"), ("c0",)]
        assert storage.records == []
        stored = {r.contact: r.value for r in (await storage.load_contents("flat")).unwrap()}
        assert stored == {"c0": 5, "c1": 2, "c2": [3], "c3": {"x": 4}}


async def test_a_storage_that_overrides_write_gets_records_through_it(tmp_path: Path) -> None:
    """A subclass's own ``write`` sees every batch (a test's counting or failing
    wrapper must not be bypassed). Planted: ``columns_writer`` ignoring an overridden
    ``write`` -> the override sees nothing."""
    seen: list[list[str]] = []

    class Overriding(MemoryStorage):
        async def write(self, batch: Any) -> StorageResult[WriteSummary]:
            seen.append([getattr(r, "contact", "(spec)") for r in batch])
            return await super().write(batch)

    async with Overriding("memory://", open_memory_storage().store) as storage:
        async with StorageBackedRuntime(flat_spec(3), storage, durability="durable") as runtime:
            seen.clear()
            await runtime.update_contact("c1", 1)
            await runtime.update_many({"c0": 1, "c2": 2})
    assert seen == [["c1"], ["c0", "c2"]]  # (the spec saved at start cleared)


async def test_a_batch_the_checks_refuse_goes_through_write_which_names_the_error() -> None:
    """A write queued for a contact without a group: the columns are refused, the
    records go through ``write`` and the batch fails with its INVALID error (given up:
    it is permanent); the next batch is written as columns again."""
    async with _Counting() as storage:
        (await storage.save_network(flat_spec(2))).unwrap()
        queue = StorageQueue(100, "flat", {"c0": "root"})
        flusher = Flusher(
            storage,
            queue,
            batch_size=100,
            flush_interval=0.01,
            retry=RetryPolicy(),
            breaker=CircuitBreaker(BreakerPolicy()),
            metrics=RuntimeMetrics(),
            rng=random.Random(1),
        )
        flusher._idle = True  # as while its task waits for work
        queue.put("c1", None, 1, Stamp(5, "n"))  # c1 has no group in the queue's map
        generation = await flusher.write_inline()
        error = queue.failure_of(generation)
        assert error is not None and error.code is ErrorCode.INVALID
        assert "group id must be a string" in str(error)
        assert storage.columns == []
        queue.put("c0", None, 2, Stamp(6, "n"))
        generation = await flusher.write_inline()
        assert queue.failure_of(generation) is None
        assert storage.columns == [("c0",)]
    refused = await open_memory_storage().write_columns(
        ContentColumns(("flat",), ("root",), ("c0",), (Stamp(1, "n"),), (1,), ("n",), [b"1"])
    )
    assert isinstance(refused, Failure) and refused.failure().code is ErrorCode.CONNECTION


async def test_the_lean_write_on_fs_is_durable(tmp_path: Path) -> None:
    """What a runtime wrote through the columns on fs is there after reopening."""
    url = f"file://{tmp_path}/store"
    async with open_storage(url) as storage:
        async with StorageBackedRuntime(flat_spec(4), storage, durability="durable") as runtime:
            await runtime.update_contact("c0", "a")
            await runtime.update_many({"c1": [1], "c2": {"k": 2}})
            await runtime.update_contact("c0", "b")
    async with open_storage(url) as reopened:
        stored = {r.contact: r.value for r in (await reopened.load_contents("flat")).unwrap()}
    assert stored == {"c0": "b", "c1": [1], "c2": {"k": 2}}
