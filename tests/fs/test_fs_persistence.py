"""Round trips, and everything surviving a reopen: networks, contents, stamps, snapshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from bassline_storage_fs import open_fs_storage, planner
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec, WireSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    NetworkRecord,
    WireRecord,
)

pytestmark = pytest.mark.anyio


def _contents(network: str, n: int, hlc: int = 10) -> list[ContentRecord]:
    return [
        ContentRecord(
            network, "g" if i % 2 else "h", f"c{i}", {"i": i, "s": "é" * i}, Stamp(hlc, "n")
        )
        for i in range(n)
    ]


async def _everything(storage: Any, network: str) -> dict[str, Any]:
    """All observable state of one network, for before/after comparisons."""
    spec = (await storage.load_network(network)).unwrap()
    contents = (await storage.load_contents(network)).unwrap()
    snapshots = (await storage.list_snapshots(network)).unwrap()
    loaded = [(await storage.load_snapshot(network, s.id)).unwrap() for s in snapshots]
    return {
        "spec": spec.to_dict(),
        "contents": [(c.group, c.contact, c.value, c.stamp) for c in contents],
        "snapshots": [(s.info, s.spec.to_dict(), s.contents) for s in loaded],
    }


async def test_capabilities_and_url(store_url: str) -> None:
    storage = open_fs_storage(store_url)
    caps = storage.capabilities
    assert (caps.persistent, caps.transactions, caps.shared) == (True, True, False)
    assert storage.url == store_url


async def test_everything_survives_a_reopen(store_url: str, spec: Bassline) -> None:
    async with open_fs_storage(store_url) as storage:
        summary = (
            await storage.write(
                [
                    NetworkRecord(spec),
                    GroupRecord("calc", GroupSpec("k", attributes={"tags": ["x"]})),
                    WireRecord("calc", WireSpec("w2", "a", "b")),
                    *_contents("calc", 20),
                ]
            )
        ).unwrap()
        assert (summary.networks, summary.groups, summary.wires, summary.contents) == (1, 1, 1, 20)
        await storage.write([ContentRecord("calc", "k", "c0", [1, 2], Stamp(11, "m"))])
        first = (await storage.save_snapshot("calc", "first")).unwrap()
        await storage.write([ContentRecord("calc", "g", "late", None, Stamp(12, "m"))])
        second = (await storage.save_snapshot("calc")).unwrap()
        await storage.save_network(spec.__class__(id="other"))
        before = await _everything(storage, "calc")
    assert [g["id"] for g in before["spec"]["groups"]] == ["g", "h", "k", "root"]
    assert [w["id"] for w in before["spec"]["wires"]] == ["w", "w2"]
    assert [s[0].id for s in before["snapshots"]] == [second.id, first.id]
    assert len(before["snapshots"][1][2]) == 20 and len(before["snapshots"][0][2]) == 21

    async with open_fs_storage(store_url) as storage:
        assert await _everything(storage, "calc") == before
        assert (await storage.list_networks()).unwrap() == ["calc", "other"]
        record = (await storage.load_contact_content("calc", "k", "c0")).unwrap()
        assert (record.value, record.stamp) == ([1, 2], Stamp(11, "m"))
        assert storage.recovery is not None and storage.recovery.clean
        assert storage.recovery.batches_replayed == 4  # four writes; snapshots are files


async def test_stamps_never_regress_across_reopen(store_url: str, spec: Bassline) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.save_network(spec)
        await storage.write([ContentRecord("calc", "g", "a", "new", Stamp(5, "b"))])
    async with open_fs_storage(store_url) as storage:
        stale = (
            await storage.write([ContentRecord("calc", "g", "a", "old", Stamp(5, "a"))])
        ).unwrap()
        assert (stale.contents, stale.stale) == (0, 1)
        same = (
            await storage.write([ContentRecord("calc", "g", "a", "tie", Stamp(5, "b"))])
        ).unwrap()
        assert same.contents == 1
        await storage.save_contact_content("calc", "g", "a", "unstamped")
        loaded = (await storage.load_contact_content("calc", "g", "a")).unwrap()
        assert loaded.value == "unstamped" and loaded.stamp > Stamp(5, "b")


async def test_reads_come_from_the_index_not_the_log(store_url: str, spec: Bassline) -> None:
    """After open, reading does not touch the log: it can vanish and reads still answer."""
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec), *_contents("calc", 5)])
    async with open_fs_storage(store_url) as storage:
        os.rename(Path(storage.options.path) / "log", Path(storage.options.path) / "log.moved")
        assert len((await storage.load_contents("calc")).unwrap()) == 5
        health = (await storage.health()).unwrap()
        assert not health.ok and "log" in health.detail
        os.rename(Path(storage.options.path) / "log.moved", Path(storage.options.path) / "log")
        assert (await storage.health()).unwrap().ok


async def test_compaction_keeps_contents_identical(store_url: str, spec: Bassline) -> None:
    url = f"{store_url}?compact_bytes=4096"
    async with open_fs_storage(url) as storage:
        await storage.save_network(spec)
        for round_ in range(30):
            batch = [
                ContentRecord("calc", "g", f"c{i}", {"round": round_, "i": i}, Stamp(round_, "n"))
                for i in range(10)
            ]
            (await storage.write(batch)).unwrap()
            assert storage.log_bytes <= 4096 + 2048  # compacted whenever it grew past 4 KiB
        await storage.save_snapshot("calc", "s")
        before = await _everything(storage, "calc")
        (await storage.compact()).unwrap()
        assert storage.log_bytes < 200  # only the new log's header
        assert await _everything(storage, "calc") == before
        state = Path(storage.options.path) / "networks"
        assert [p.name for p in state.glob("*/state")] == ["state"]
    async with open_fs_storage(url) as storage:
        assert await _everything(storage, "calc") == before
        assert storage.recovery is not None and storage.recovery.batches_replayed == 0


async def test_delete_survives_compaction_and_reopen(store_url: str, spec: Bassline) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec), *_contents("calc", 3)])
        await storage.save_snapshot("calc")
        (await storage.compact()).unwrap()
        net_dirs = list((Path(storage.options.path) / "networks").iterdir())
        assert len(net_dirs) == 1
        (await storage.delete_network("calc")).unwrap()
        assert not net_dirs[0].exists()
        (await storage.delete_network("calc")).unwrap()
    async with open_fs_storage(store_url) as storage:
        assert (await storage.list_networks()).unwrap() == []
        await storage.save_network(spec)
        assert (await storage.load_contents("calc")).unwrap() == []
        assert (await storage.list_snapshots("calc")).unwrap() == []


async def test_a_rejected_batch_writes_nothing_to_the_log(store_url: str, spec: Bassline) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.save_network(spec)
        size = storage.log_bytes
        bad = await storage.write(
            [*_contents("calc", 3), ContentRecord("calc", "nope", "x", 1, Stamp(1, "n"))]
        )
        assert isinstance(bad, Failure) and bad.failure().code is ErrorCode.GROUP_NOT_FOUND
        unencodable = await storage.write([ContentRecord("calc", "g", "x", {1, 2}, Stamp(1, "n"))])
        assert unencodable.failure().code is ErrorCode.SERIALIZATION
        assert storage.log_bytes == size
        assert (await storage.load_contents("calc")).unwrap() == []


async def test_query_groups_sees_merged_groups(store_url: str, spec: Bassline) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.save_network(spec)
        await storage.write([GroupRecord("calc", GroupSpec("z", attributes={"author": "ann"}))])
    async with open_fs_storage(store_url) as storage:
        found = (await storage.query_groups("calc", GroupQuery(author="ann"))).unwrap()
        assert [g.id for g in found] == ["g", "z"]
        missing = await storage.query_groups("nope", GroupQuery())
        assert missing.failure().code is ErrorCode.NETWORK_NOT_FOUND


async def test_a_value_over_the_record_limit_is_limit_exceeded(
    store_url: str, spec: Bassline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(The 256 MiB limit is lowered for the test so it does not allocate gigabytes.)"""
    assert planner.MAX_RECORD_BYTES == 256 * 1024 * 1024
    monkeypatch.setattr(planner, "MAX_RECORD_BYTES", 10_000)
    big = "x" * 10_000
    async with open_fs_storage(store_url) as storage:
        await storage.save_network(spec)
        result = await storage.write([ContentRecord("calc", "g", "big", big, Stamp(1, "n"))])
        error = result.failure()
        assert error.code is ErrorCode.LIMIT_EXCEEDED and "'big'" in error.message
        assert (await storage.load_contents("calc")).unwrap() == []


async def test_concurrent_opens_of_one_storage_open_it_once(store_url: str) -> None:
    storage = open_fs_storage(store_url)
    results: list[Any] = []

    async def open_it() -> None:
        results.append(await storage.open())

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(open_it)
    assert all(r.unwrap() is None for r in results) and len(results) == 5
    await storage.close()
    await storage.close()
    async with storage:  # reopening the same object works
        assert (await storage.health()).unwrap().ok
