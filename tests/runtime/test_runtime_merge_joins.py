"""Runtimes sharing a store never lose an acknowledged write to a merge contact
(D62): storage joins each write with what it holds (memory named stores here;
PostgreSQL in tests/postgres/test_merge_joins.py)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from bassline_storage_memory import drop_store
from returns.result import Failure, Success

from bassline.clock import Stamp
from bassline.errors import PersistenceError
from bassline.lattices import GrowSet, Interval
from bassline.runtime import StorageBackedRuntime
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    JoinsMerges,
    NetworkStorage,
    StorageError,
    StorageResult,
    WriteSummary,
    open_storage,
)
from bassline.storage.joins import JoinConflict, Joins, spec_joins
from bassline.testing.storage import merge_spec

pytestmark = pytest.mark.anyio


@pytest.fixture
async def url() -> AsyncIterator[str]:
    name = f"joins-{uuid.uuid4().hex}"
    yield f"memory://{name}"
    drop_store(name)


async def _stored_set(url: str) -> Any:
    async with open_storage(url) as storage:
        return (await storage.load_contact_content("joins", "g", "set")).unwrap().value


async def test_runtimes_that_have_not_seen_each_other_keep_every_element(url: str) -> None:
    """The old loss, deterministically: three runtimes that do not follow the feed (so
    none has seen another's element) each durably add one; then all close. Before the
    join, storage kept the newest stamp's set only."""
    spec = merge_spec()
    async with open_storage(url) as s1, open_storage(url) as s2, open_storage(url) as s3:
        (await s1.save_network(spec)).unwrap()
        async with contextlib.AsyncExitStack() as stack:
            for i, s in enumerate((s1, s2, s3)):
                runtime = await stack.enter_async_context(
                    StorageBackedRuntime(spec, s, node_id=f"n{i}", follow=False)
                )
                await runtime.update_contact("set", [f"e{i}"])
    assert await _stored_set(url) == GrowSet(["e0", "e1", "e2"])


async def test_the_writer_learns_what_storage_joined(url: str) -> None:
    """A write whose join holds more than the writer had: the runtime takes the join
    (the feed would not bring its own write back)."""
    spec = merge_spec()
    async with open_storage(url) as other, open_storage(url) as mine:
        (await other.save_network(spec)).unwrap()
        async with StorageBackedRuntime(spec, mine, node_id="mine", follow=False) as runtime:
            newer = Stamp(runtime.network.clock.tick().hlc + 1000, "other")
            record = ContentRecord("joins", "g", "set", GrowSet(["theirs"]), newer)
            assert isinstance(other, JoinsMerges)
            (await other.write_joining([record], spec_joins(spec))).unwrap()
            await runtime.update_contact("set", ["mine"])
            assert runtime.value("set") == GrowSet(["mine", "theirs"])
            await runtime.flush()
    assert await _stored_set(url) == GrowSet(["mine", "theirs"])


class _Counting:
    """Counts which write a runtime uses (a memory storage underneath)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.plain: list[list[str]] = []
        self.joining: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, batch: Any) -> StorageResult[WriteSummary]:
        self.plain.append([r.contact for r in batch])
        result: StorageResult[WriteSummary] = await self.inner.write(batch)
        return result

    async def write_joining(self, batch: Any, joins: Joins) -> StorageResult[WriteSummary]:
        self.joining.append([r.contact for r in batch])
        result: StorageResult[WriteSummary] = await self.inner.write_joining(batch, joins)
        return result


async def test_only_batches_holding_a_merge_contact_are_joined(url: str) -> None:
    spec = merge_spec()
    async with open_storage(url) as inner:
        (await inner.save_network(spec)).unwrap()
        counting = _Counting(inner)
        storage: NetworkStorage = counting  # type: ignore[assignment]
        async with StorageBackedRuntime(spec, storage, follow=False) as runtime:
            await runtime.update_contact("plain", 1)
            await runtime.update_contact("set", ["a"])
        assert (counting.plain, counting.joining) == ([["plain"]], [["set"]])


async def test_a_storage_without_the_ability_is_written_as_before(url: str) -> None:
    """A third-party storage that does not join: every batch goes through ``write``."""

    class Plain(_Counting):
        write_joining = None  # type: ignore[assignment]

    spec = merge_spec()
    async with open_storage(url) as inner:
        (await inner.save_network(spec)).unwrap()
        plain = Plain(inner)
        async with StorageBackedRuntime(spec, plain, follow=False) as runtime:  # type: ignore[arg-type]
            await runtime.update_contact("set", ["a"])
        assert plain.plain == [["set"]]
        result = await inner.load_contact_content("joins", "g", "set")
        assert isinstance(result, Success) and result.unwrap().value == GrowSet(["a"])


async def test_a_merge_contact_the_feed_changed_is_not_written_back(url: str) -> None:
    """Storage that joins holds everything the engine had (stored or queued) and what
    the feed brought: the follower queues no write-back of the merge contact (one
    racing the runtime's close made it fail: "closing with 1 changes that storage did
    not accept")."""
    spec = merge_spec()
    async with open_storage(url) as other, open_storage(url) as mine:
        (await other.save_network(spec)).unwrap()
        async with StorageBackedRuntime(spec, mine, node_id="mine") as runtime:
            await runtime.update_contact("set", ["mine"])
            assert isinstance(other, JoinsMerges)
            record = ContentRecord("joins", "g", "set", GrowSet(["theirs"]), Stamp(1, "other"))
            (await other.write_joining([record], spec_joins(spec))).unwrap()
            await runtime.catch_up()
            assert runtime.value("set") == GrowSet(["mine", "theirs"])
            assert runtime.queue_depth == 0


async def test_a_contradiction_with_what_storage_holds_is_reported_not_lost(url: str) -> None:
    """Another writer stored an interval this runtime's disjoint one contradicts: the
    durable update raises (CONFLICT), the batch is given up and reported, and storage
    keeps the value it had."""
    spec = merge_spec()
    events: list[str] = []
    async with open_storage(url) as other, open_storage(url) as mine:
        (await other.save_network(spec)).unwrap()
        assert isinstance(other, JoinsMerges)
        async with StorageBackedRuntime(spec, mine, node_id="mine", follow=False) as runtime:
            # stored after the runtime opened, and not followed: the engine has not seen it
            theirs = ContentRecord("joins", "g", "range", Interval(0, 5), Stamp(1, "other"))
            (await other.write_joining([theirs], spec_joins(spec))).unwrap()
            runtime.add_event_listener(lambda event: events.append(event.kind))
            with pytest.raises(PersistenceError, match="conflict"):
                await runtime.update_contact("range", [7, 9])
            # given up as any permanent error is (the breaker opens for reset_timeout)
            assert "records-dropped" in events
            assert runtime.queue_depth == 0
        stored = (await other.load_contents("joins")).unwrap()
    assert [(r.contact, r.value) for r in stored] == [("range", Interval(0, 5))]


@pytest.mark.parametrize("batch_size", [100, 1])  # one chunk, and a chunk per write
async def test_a_contradiction_gives_up_only_the_contradicted_contacts_writes(
    url: str, batch_size: int
) -> None:
    """A buffered batch holding a write the stored value contradicts, beside writes to
    other contacts (plain and merge): those are stored, the contradicted write alone is
    given up and reported, and the breaker stays closed (storage is healthy). The whole
    batch was dropped, and the breaker opened, refusing durable writes for a while."""
    spec = merge_spec()
    events: list[str] = []
    async with open_storage(url) as other, open_storage(url) as mine:
        (await other.save_network(spec)).unwrap()
        assert isinstance(other, JoinsMerges)
        async with StorageBackedRuntime(
            spec,
            mine,
            node_id="mine",
            follow=False,
            durability="buffered",
            batch_size=batch_size,
        ) as runtime:
            theirs = ContentRecord("joins", "g", "range", Interval(0, 5), Stamp(1, "other"))
            (await other.write_joining([theirs], spec_joins(spec))).unwrap()
            runtime.add_event_listener(lambda event: events.append(event.kind))
            await runtime.update_contact("plain", 42)
            await runtime.update_contact("range", [7, 9])
            await runtime.update_contact("set", ["a"])
            with pytest.raises(PersistenceError, match="conflict"):
                await runtime.flush()
            assert runtime.metrics["dropped"] == 1
            assert "records-dropped" in events and "breaker-opened" not in events
            assert runtime.breaker.state.value == "closed"
        stored = (await other.load_contents("joins")).unwrap()
    assert [(r.contact, r.value) for r in stored] == [
        ("plain", 42),
        ("range", Interval(0, 5)),
        ("set", GrowSet(["a"])),
    ]


async def test_a_contradiction_naming_no_write_of_the_batch_fails_it(url: str) -> None:
    """A storage whose CONFLICT names a contact the batch does not write (a third-party
    backend's mistake): the batch fails as on any permanent error, without writing the
    same batch again and again."""

    class Confused(_Counting):
        async def write_joining(self, batch: Any, joins: Joins) -> StorageResult[WriteSummary]:
            self.joining.append([r.contact for r in batch])
            return Failure(
                StorageError(
                    ErrorCode.CONFLICT,
                    "contradiction",
                    transient=False,
                    cause=JoinConflict("joins", "elsewhere", "made up"),
                )
            )

    spec = merge_spec()
    async with open_storage(url) as inner:
        (await inner.save_network(spec)).unwrap()
        confused = Confused(inner)
        storage: NetworkStorage = confused  # type: ignore[assignment]
        async with StorageBackedRuntime(spec, storage, follow=False) as runtime:
            with pytest.raises(PersistenceError, match="contradiction"):
                await runtime.update_contact("set", ["a"])
            assert runtime.metrics["dropped"] == 1
        assert confused.joining == [["set"]]


async def test_a_writer_whose_write_was_stored_is_not_told_of_anothers_contradiction(
    url: str,
) -> None:
    """Two durable writers whose writes share a batch, one to a contact the stored value
    contradicts and one to another: the other's record is stored and its writer returns;
    the contradicted contact's writer alone raises, with its own contact's CONFLICT. Both
    raised: every writer waiting on the batch was told of its first contradiction."""
    spec = merge_spec()
    gate = anyio.Event()

    class Gated(_Counting):
        async def write(self, batch: Any) -> StorageResult[WriteSummary]:
            self.plain.append([r.contact for r in batch])
            await gate.wait()  # the first batch waits: the next two writes share one
            result: StorageResult[WriteSummary] = await self.inner.write(batch)
            return result

    outcomes: dict[str, str] = {}
    async with open_storage(url) as other, open_storage(url) as inner:
        (await other.save_network(spec)).unwrap()
        assert isinstance(other, JoinsMerges)
        gated = Gated(inner)
        storage: NetworkStorage = gated  # type: ignore[assignment]
        async with StorageBackedRuntime(spec, storage, node_id="mine", follow=False) as runtime:
            theirs = ContentRecord("joins", "g", "range", Interval(0, 5), Stamp(1, "other"))
            (await other.write_joining([theirs], spec_joins(spec))).unwrap()

            async def write(contact: str, value: Any) -> None:
                try:
                    await runtime.update_contact(contact, value)
                    outcomes[contact] = "stored"
                except PersistenceError as exc:
                    outcomes[contact] = str(exc)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(write, "plain", 1)
                while not gated.plain:  # its batch is in storage's hands, held at the gate
                    await anyio.lowlevel.checkpoint()
                tasks.start_soon(write, "set", ["a"])
                tasks.start_soon(write, "range", [7, 9])
                while runtime.queue_depth < 2:
                    await anyio.lowlevel.checkpoint()
                gate.set()
            # one batch, then its rest (the two writers' tasks start in either order: trio
            # picks, and a set's order follows the hash seed)
            assert [sorted(batch) for batch in gated.joining] == [["range", "set"], ["set"]]
            assert runtime.breaker.state.value == "closed"
        stored = (await other.load_contents("joins")).unwrap()
    assert outcomes["plain"] == outcomes["set"] == "stored"
    assert "merge contact 'range'" in outcomes["range"]
    assert "contradicts the one stored" in outcomes["range"]
    # and says what happened: it said "nothing of the batch was stored", and 'set' was
    assert outcomes["range"].endswith(
        "the stored value stays and this write of the contact is refused"
    )
    assert [(r.contact, r.value) for r in stored] == [
        ("plain", 1),
        ("range", Interval(0, 5)),
        ("set", GrowSet(["a"])),
    ]
