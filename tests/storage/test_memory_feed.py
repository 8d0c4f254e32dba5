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
