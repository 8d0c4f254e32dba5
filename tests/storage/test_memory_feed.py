"""The memory backend's change feed: within one process, for a named store; fs has none."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from bassline_storage_memory import drop_store
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import parse_spec
from bassline.storage import ContentRecord, ErrorCode, FeedsChanges, open_storage
from bassline.storage.fastpath import MIN_RECORDS
from bassline.testing.faults import FaultyStorage

SPEC = parse_spec(
    {
        "id": "feed",
        "groups": [{"id": "root"}],
        "contacts": [{"id": c, "group": "root"} for c in ("a", "b", "c")],
    }
)


def _record(contact: str, value: Any, hlc: int) -> ContentRecord:
    return ContentRecord("feed", "root", contact, value, Stamp(hlc, "w"))


@pytest.mark.anyio
async def test_two_storages_on_a_named_store_see_each_others_writes() -> None:
    name = f"feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(f"memory://{name}") as one, open_storage(f"memory://{name}") as two:
            assert isinstance(one, FeedsChanges)
            (await one.save_network(SPEC)).unwrap()
            start = (await two.feed_position("feed")).unwrap()
            async with two.watch_changes("feed", member="two") as watch:
                assert [w.member for w in (await one.watchers("feed")).unwrap()] == ["two"]
                await two.write([_record("c", 0, 1)])  # its own write wakes nobody here
                await one.write([_record("a", 1, 5), _record("b", 2, 5)])
                with anyio.fail_after(5):
                    await watch.wait()
            batch = (await two.read_changes("feed", start)).unwrap()
            assert [(r.contact, r.value) for r in batch.records] == [("c", 0), ("a", 1), ("b", 2)]
            assert batch.position == (await one.feed_position("feed")).unwrap()
            await one.write([_record("a", 3, 6), _record("b", 1, 1)])  # b is stale
            later = (await two.read_changes("feed", batch.position)).unwrap()
            assert [(r.contact, r.value) for r in later.records] == [("a", 3)]
            assert (await one.watchers("feed")).unwrap() == []
            bad = await one.read_changes("feed", -1)
            assert isinstance(bad, Failure) and bad.failure().code is ErrorCode.INVALID
            # a network deleted and saved again continues the sequence: no cursor goes back
            (await one.delete_network("feed")).unwrap()
            (await one.save_network(SPEC)).unwrap()
            await one.write([_record("a", 9, 9)])
            again = (await two.read_changes("feed", later.position)).unwrap()
            assert [(r.contact, r.value) for r in again.records] == [("a", 9)]
    finally:
        drop_store(name)


@pytest.mark.anyio
async def test_the_feed_reads_each_content_with_its_justification() -> None:
    why = '{"kind": "wire", "from": "b"}'
    async with open_storage("memory://") as storage:
        (await storage.save_network(SPEC)).unwrap()
        written = ContentRecord("feed", "root", "a", 1, Stamp(5, "w"), why)
        (await storage.write([written, _record("b", 2, 5)])).unwrap()
        batch = (await storage.read_changes("feed", 0)).unwrap()
    assert [(r.contact, r.justification) for r in batch.records] == [("a", why), ("b", None)]
    assert batch.records[0] == written


@pytest.mark.anyio
async def test_faulty_storage_passes_the_feed_through_and_can_fault_it() -> None:
    async with open_storage("memory://") as inner:
        faulty = FaultyStorage(inner, seed=1, operations=["read_changes"], transient_rate=1.0)
        assert isinstance(faulty, FeedsChanges)
        (await faulty.save_network(SPEC)).unwrap()
        result = await faulty.read_changes("feed", 0)
        assert isinstance(result, Failure) and result.failure().transient
        assert (await faulty.feed_position("feed")).unwrap() == 0


def test_fs_does_not_declare_the_feed(tmp_path: Path) -> None:
    from bassline_storage_fs import open_fs_storage

    assert not isinstance(open_fs_storage((tmp_path / "store").as_uri()), FeedsChanges)


WIDE = parse_spec(
    {
        "id": "feed",
        "groups": [{"id": "root"}],
        "contacts": [{"id": f"k{i}", "group": "root"} for i in range(8)],
    }
)


def _wide(contact: str, value: Any, hlc: int, group: str = "root") -> ContentRecord:
    why = f'{{"kind":"write","via":"v{value}","local":true}}'
    return ContentRecord("feed", group, contact, value, Stamp(hlc, "w"), why)


@pytest.mark.anyio
async def test_content_only_batches_are_checked_and_stored_as_record_by_record() -> None:
    """Batches of MIN_RECORDS or more content records, each contact once, take the
    validation's fast path; the store checks their groups and stores them a column at a
    time when every contact is new to it. What it stores, refuses and reports is what the
    one-record batches (the general path) give."""
    assert MIN_RECORDS == 4
    fresh = [_wide(f"k{i}", i, 10) for i in range(4)]
    again = [_wide("k0", 20, 5), _wide("k1", 21, 11), _wide("k5", 25, 11), _wide("k2", 22, 10)]
    async with open_storage("memory://") as fast, open_storage("memory://") as slow:
        for storage in (fast, slow):
            (await storage.save_network(WIDE)).unwrap()
        summaries = [(await fast.write(fresh)).unwrap(), (await fast.write(again)).unwrap()]
        one_by_one = [(await slow.write([r])).unwrap() for r in [*fresh, *again]]
        assert [(s.contents, s.stale) for s in summaries] == [(4, 0), (3, 1)]
        assert sum(s.contents for s in one_by_one) == 7
        assert sum(s.stale for s in one_by_one) == 1
        assert (await fast.load_contents("feed")).unwrap() == (
            await slow.load_contents("feed")
        ).unwrap()
        changes = (await fast.read_changes("feed", 0)).unwrap().records
        assert [(r.contact, r.value, r.justification) for r in changes] == [
            (c, v, _wide(c, v, 0).justification)
            for c, v in [
                ("k0", 0),  # k0's newer stamp kept: stale in the second batch
                ("k3", 3),
                ("k1", 21),  # rewritten by the second batch (a change of its sequence)
                ("k2", 22),  # an equal stamp: the later write wins
                ("k5", 25),
            ]
        ]
        before = (await fast.load_contents("feed")).unwrap()
        bad_group = [_wide("k6", 6, 30), _wide("k7", 7, 30, "nope"), *fresh[:2]]
        failed = await fast.write(bad_group)
        assert isinstance(failed, Failure)
        assert failed.failure().code is ErrorCode.GROUP_NOT_FOUND
        assert "'k7'" in str(failed.failure()) and "'nope'" in str(failed.failure())
        other = [ContentRecord("nowhere", "root", f"k{i}", i, Stamp(30, "w")) for i in range(4)]
        failed = await fast.write(other)
        assert isinstance(failed, Failure)
        assert failed.failure().code is ErrorCode.NETWORK_NOT_FOUND
        assert "'k0'" in str(failed.failure()) and "'nowhere'" in str(failed.failure())
        assert (await fast.load_contents("feed")).unwrap() == before
