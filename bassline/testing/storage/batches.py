"""The storage conformance suite, batches: stamps that never regress, and batches: atomic, ordered, collapsed, concurrent."""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from bassline.codec import to_json
from bassline.lattices import GrowSet
from bassline.spec import GroupSpec, WireSpec, parse_spec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupRecord,
    NetworkRecord,
    NetworkStorage,
    Record,
    WireRecord,
    WriteSummary,
)
from bassline.testing.storage.support import (
    StorageSuite,
    assert_failure,
    assert_spec_equal,
    assert_success,
    make_stamp,
    sample_bassline,
)

__all__ = ["BatchTests"]


@pytest.mark.anyio
class BatchTests(StorageSuite):
    """Stamps that never regress, and batches: atomic, ordered, collapsed, concurrent."""

    async def test_an_older_stamp_never_overwrites(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "new", make_stamp(10)))
        summary = assert_success(
            await storage.write([ContentRecord("calc", "ui", "x", "old", make_stamp(5))])
        )
        assert (summary.contents, summary.stale) == (0, 1)
        assert_success(
            await storage.save_contact_content("calc", "ui", "x", "older", make_stamp(9))
        )
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == ("new", make_stamp(10))

    async def test_equal_stamps_replace_and_the_node_breaks_ties(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 1, make_stamp(5, "b")))
        summary = assert_success(
            await storage.write([ContentRecord("calc", "ui", "x", 2, make_stamp(5, "b"))])
        )
        assert (summary.contents, summary.stale) == (1, 0)
        assert assert_success(await storage.load_contact_content("calc", "ui", "x")).value == 2
        summary = assert_success(
            await storage.write([ContentRecord("calc", "ui", "x", 3, make_stamp(5, "a"))])
        )
        assert (summary.contents, summary.stale) == (0, 1)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 4, make_stamp(5, "c")))
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == (4, make_stamp(5, "c"))

    async def test_the_highest_stamp_wins_under_concurrent_writes(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        stamps = list(range(1, 41))
        random.Random(7).shuffle(stamps)

        async def put(n: int) -> None:
            assert_success(
                await storage.save_contact_content("calc", "ui", "x", f"v{n}", make_stamp(n))
            )

        async with anyio.create_task_group() as tg:
            for n in stamps:
                tg.start_soon(put, n)
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == ("v40", make_stamp(40))

    async def test_a_batch_orders_parents_before_children(self, storage: NetworkStorage) -> None:
        spec = sample_bassline("fresh")
        extra = GroupSpec("late", "late", "root", None, {})
        wire = WireSpec("x->total", "x", "total")
        summary = assert_success(
            await storage.write(
                [
                    ContentRecord("fresh", "late", "only-in-late", "c", make_stamp(1)),
                    ContentRecord("fresh", "ui", "x", "x", make_stamp(1)),
                    WireRecord("fresh", wire),
                    GroupRecord("fresh", extra),
                    NetworkRecord(spec),
                ]
            )
        )
        assert summary == WriteSummary(networks=1, groups=1, wires=1, contents=2)
        loaded = assert_success(await storage.load_network("fresh"))
        assert loaded.group("late") == extra and wire in loaded.wires
        record = assert_success(await storage.load_contact_content("fresh", "late", "only-in-late"))
        assert record.value == "c"

    async def test_a_failing_batch_leaves_nothing(self, storage: NetworkStorage) -> None:
        spec = await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "kept", make_stamp(1)))
        good: list[Any] = [
            NetworkRecord(sample_bassline("new-net")),
            ContentRecord("new-net", "ui", "x", 1, make_stamp(2)),
            ContentRecord("calc", "ui", "x", "overwritten?", make_stamp(2)),
            GroupRecord("calc", GroupSpec("added", "added", "root", None, {})),
            WireRecord("calc", WireSpec("x->total", "x", "total")),
            ContentRecord("calc", "ui", "y", GrowSet([9]), make_stamp(2)),
        ]
        bad_tails: list[tuple[Any, ErrorCode]] = [
            (
                ContentRecord("calc", "no-such-group", "z", 1, make_stamp(2)),
                ErrorCode.GROUP_NOT_FOUND,
            ),
            (
                ContentRecord("no-such-net", "ui", "z", 1, make_stamp(2)),
                ErrorCode.NETWORK_NOT_FOUND,
            ),
            (GroupRecord("no-such-net", GroupSpec("g")), ErrorCode.NETWORK_NOT_FOUND),
            (
                ContentRecord("calc", "ui", "z", float("nan"), make_stamp(2)),
                ErrorCode.SERIALIZATION,
            ),
            (ContentRecord("calc", "ui", "z\x00", 1, make_stamp(2)), ErrorCode.INVALID),
            (object(), ErrorCode.INVALID),
        ]
        for tail, code in bad_tails:
            assert_failure(await storage.write([*good, tail]), code, f"batch ending in {tail!r}")
            assert assert_success(await storage.list_networks()) == ["calc"]
            assert_spec_equal(assert_success(await storage.load_network("calc")), spec)
            contents = assert_success(await storage.load_contents("calc"))
            assert [(r.contact, r.value) for r in contents] == [("x", "kept")]

    async def test_duplicate_keys_in_one_batch_collapse(self, storage: NetworkStorage) -> None:
        first = sample_bassline("dup")
        second = parse_spec(to_json({**first.to_dict(), "version": "second"}))
        summary = assert_success(
            await storage.write(
                [
                    NetworkRecord(first),
                    NetworkRecord(second),
                    GroupRecord("dup", GroupSpec("g", "one", "root")),
                    GroupRecord("dup", GroupSpec("g", "two", "root")),
                    ContentRecord("dup", "ui", "x", "three", make_stamp(3)),
                    ContentRecord("dup", "ui", "x", "one", make_stamp(1)),
                    ContentRecord("dup", "ui", "x", "two", make_stamp(2)),
                    ContentRecord("dup", "ui", "y", GrowSet([1]), make_stamp(1)),
                    ContentRecord("dup", "ui", "y", GrowSet([2]), make_stamp(1)),
                ]
            )
        )
        assert summary == WriteSummary(networks=1, groups=1, wires=0, contents=2, stale=0)
        loaded = assert_success(await storage.load_network("dup"))
        assert loaded.version == "second" and loaded.group("g").name == "two"
        x = assert_success(await storage.load_contact_content("dup", "ui", "x"))
        assert (x.value, x.stamp) == ("three", make_stamp(3))
        y = assert_success(await storage.load_contact_content("dup", "ui", "y"))
        assert y.value == GrowSet([2]), "on a stamp tie the later record of the batch wins"

    async def test_an_empty_batch_is_a_no_op(self, storage: NetworkStorage) -> None:
        assert assert_success(await storage.write([])) == WriteSummary()
        assert assert_success(await storage.list_networks()) == []

    async def test_concurrent_writers_lose_nothing(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        writers = self.concurrent_writers

        async def put(n: int) -> None:
            assert_success(
                await storage.save_contact_content(
                    "calc", "ui", f"c{n}", {"n": n}, make_stamp(n + 1)
                ),
                f"writer {n}",
            )

        async with anyio.create_task_group() as tg:
            for n in range(writers):
                tg.start_soon(put, n)
        contents = assert_success(await storage.load_contents("calc"))
        assert {r.contact: r.value for r in contents} == {f"c{n}": {"n": n} for n in range(writers)}

    async def test_concurrent_batches_lose_nothing(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)

        async def put(n: int) -> None:
            batch: list[Record] = [
                ContentRecord("calc", "ui", f"b{n}-{i}", [n, i], make_stamp(1)) for i in range(5)
            ]
            batch.append(GroupRecord("calc", GroupSpec(f"g{n}", f"g{n}", "root", None, {})))
            assert_success(await storage.write(batch), f"batch {n}")

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(put, n)
        contents = assert_success(await storage.load_contents("calc"))
        assert len(contents) == 100
        loaded = assert_success(await storage.load_network("calc"))
        assert {f"g{n}" for n in range(20)} <= {g.id for g in loaded.groups}
