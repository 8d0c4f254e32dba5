"""Opening after damage: torn tails are cut and reported, corruption is never silent."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from bassline_storage_fs import open_fs_storage

from bassline.clock import Stamp
from bassline.spec import Bassline
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    NetworkRecord,
    StorageOpenError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Recovery is file format work: one event loop is enough (and keeps this fast)."""
    return "asyncio"


def _batch(marker: str, n: int = 3) -> list[ContentRecord]:
    return [
        ContentRecord("calc", "g", f"{marker}{i}", {"batch": marker}, Stamp(1, "n"))
        for i in range(n)
    ]


async def _write_batches(url: str, spec: Bassline, markers: str) -> list[int]:
    """Save the network, then one batch per marker; the log size after each write."""
    sizes = []
    async with open_fs_storage(url) as storage:
        await storage.write([NetworkRecord(spec)])
        sizes.append(storage.log_bytes)
        for marker in markers:
            (await storage.write(_batch(marker))).unwrap()
            sizes.append(storage.log_bytes)
    return sizes


async def _contacts(url: str) -> list[str]:
    async with open_fs_storage(url) as storage:
        return [c.contact for c in (await storage.load_contents("calc")).unwrap()]


async def test_a_torn_last_batch_is_cut_at_every_offset(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    *_, committed, full = await _write_batches(store_url, spec, "AB")
    log = store_dir / "log"
    data = log.read_bytes()
    assert len(data) == full and full - committed > 100
    for offset in range(committed, full):
        log.write_bytes(data[:offset])
        async with open_fs_storage(store_url) as storage:
            contents = (await storage.load_contents("calc")).unwrap()
            assert [c.contact for c in contents] == ["A0", "A1", "A2"], offset
            report = storage.recovery
            assert report is not None
            if offset == committed:
                assert report.clean
                continue
            assert report.cut is not None
            assert (report.cut.offset, report.cut.bytes) == (committed, offset - committed)
            detail = (await storage.health()).unwrap().detail
            assert f"cut {offset - committed} bytes from the log at offset {committed}" in detail
        assert log.stat().st_size == committed
    # and the store goes on working after a cut
    log.write_bytes(data[: full - 1])
    async with open_fs_storage(store_url) as storage:
        (await storage.write(_batch("C"))).unwrap()
    assert await _contacts(store_url) == ["A0", "A1", "A2", "C0", "C1", "C2"]


@pytest.mark.parametrize("where", [0, 5, 13, 30, -20, -3])
async def test_a_flipped_byte_in_the_last_batch_cuts_that_batch(
    store_url: str, store_dir: Path, spec: Bassline, where: int
) -> None:
    *_, committed, full = await _write_batches(store_url, spec, "AB")
    log = store_dir / "log"
    data = bytearray(log.read_bytes())
    position = committed + where if where >= 0 else full + where
    data[position] ^= 0x40
    log.write_bytes(bytes(data))
    async with open_fs_storage(store_url) as storage:
        assert storage.recovery is not None and storage.recovery.cut is not None
        cut = storage.recovery.cut
        assert (cut.offset, cut.bytes, cut.committed_batches_lost) == (
            committed,
            full - committed,
            0,
        )
        assert any(word in cut.reason for word in ("checksum", "marker", "past the end"))
    assert await _contacts(store_url) == ["A0", "A1", "A2"]


async def test_corruption_before_committed_batches_refuses_to_open(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    sizes = await _write_batches(store_url, spec, "ABC")
    log = store_dir / "log"
    data = bytearray(log.read_bytes())
    data[sizes[1] + 40] ^= 0x01  # inside batch B; batch C follows it
    log.write_bytes(bytes(data))
    with pytest.raises(StorageOpenError) as caught:
        async with open_fs_storage(store_url):
            pass
    error = caught.value.error
    assert error.code is ErrorCode.CORRUPTION
    assert "checksum mismatch" in error.message and "1 committed batches follow" in error.message
    assert "repair=true" in error.message
    assert log.read_bytes() == bytes(data), "nothing may be cut without repair"

    async with open_fs_storage(f"{store_url}?repair=true") as storage:
        assert storage.recovery is not None and storage.recovery.cut is not None
        assert storage.recovery.cut.offset == sizes[1]
        assert storage.recovery.cut.committed_batches_lost == 1
        assert "REPAIR discarded 1 committed batches" in (await storage.health()).unwrap().detail
    assert await _contacts(store_url) == ["A0", "A1", "A2"]


async def test_a_damaged_log_header_refuses_to_open_unless_repaired(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    await _write_batches(store_url, spec, "A")
    log = store_dir / "log"
    data = bytearray(log.read_bytes())
    data[20] ^= 0xFF
    log.write_bytes(bytes(data))
    with pytest.raises(StorageOpenError) as caught:
        async with open_fs_storage(store_url):
            pass
    assert caught.value.error.code is ErrorCode.CORRUPTION
    assert "log header" in caught.value.error.message
    async with open_fs_storage(store_url, repair=True) as storage:
        assert storage.recovery is not None and storage.recovery.cut is not None
        assert storage.recovery.cut.committed_batches_lost == 2
        assert (await storage.list_networks()).unwrap() == []


async def test_leftovers_of_interrupted_work_are_removed_and_reported(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec), *_batch("A")])
        await storage.save_snapshot("calc")
        (await storage.compact()).unwrap()
    net_dir = next((store_dir / "networks").iterdir())
    temps = [store_dir / "log.tmp", net_dir / "state.tmp", net_dir / "snapshots" / "x.snap.tmp"]
    for temp in temps:
        temp.write_bytes(b"half-written")
    async with open_fs_storage(store_url) as storage:
        assert storage.recovery is not None
        assert sorted(storage.recovery.removed) == sorted(str(t) for t in temps)
        assert "removed 3 leftovers" in (await storage.health()).unwrap().detail
    assert not any(t.exists() for t in temps)


async def test_a_deletion_interrupted_before_its_directory_went_is_finished(
    store_url: str, store_dir: Path, tmp_path: Path, spec: Bassline
) -> None:
    """The disk as a crash leaves it between logging a delete and removing the directory."""
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec), *_batch("A")])
        await storage.save_snapshot("calc")
        (await storage.compact()).unwrap()
        net_dir = next((store_dir / "networks").iterdir())
        shutil.copytree(net_dir, tmp_path / "saved")
        (await storage.delete_network("calc")).unwrap()
    shutil.copytree(tmp_path / "saved", net_dir)
    async with open_fs_storage(store_url) as storage:
        assert (await storage.list_networks()).unwrap() == []
        assert storage.recovery is not None and storage.recovery.removed == (str(net_dir),)
    assert not net_dir.exists()


async def test_damaged_snapshots_are_reported_never_returned(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec), *_batch("A")])
        body = (await storage.save_snapshot("calc", "body")).unwrap()
        head = (await storage.save_snapshot("calc", "head")).unwrap()
    snaps = next((store_dir / "networks").iterdir()) / "snapshots"
    for info, position in ((body, -30), (head, 15)):
        path = snaps / f"{info.id}.snap"
        data = bytearray(path.read_bytes())
        data[position] ^= 0x10
        path.write_bytes(bytes(data))
    async with open_fs_storage(store_url) as storage:
        assert [s.id for s in (await storage.list_snapshots("calc")).unwrap()] == [body.id]
        assert storage.recovery is not None
        assert storage.recovery.unreadable_snapshots == (str(snaps / f"{head.id}.snap"),)
        failed = await storage.load_snapshot("calc", body.id)
        assert failed.failure().code is ErrorCode.CORRUPTION
        assert "checksum mismatch" in failed.failure().message


async def test_a_damaged_state_file_refuses_to_open(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec), *_batch("A")])
        (await storage.compact()).unwrap()
    state = next((store_dir / "networks").iterdir()) / "state"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0x01
    state.write_bytes(bytes(data))
    with pytest.raises(StorageOpenError) as caught:
        async with open_fs_storage(store_url):
            pass
    assert caught.value.error.code is ErrorCode.CORRUPTION
    assert str(state) in caught.value.error.message


async def test_a_batch_spanning_networks_is_cut_as_a_whole(
    store_url: str, store_dir: Path, make_spec: Any
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(make_spec("one")), NetworkRecord(make_spec("two"))])
        committed = storage.log_bytes
        both = [
            ContentRecord(net, "g", f"{net}-{i}", i, Stamp(1, "n"))
            for net in ("one", "two")
            for i in range(3)
        ]
        (await storage.write(both)).unwrap()
        full = storage.log_bytes
    log = store_dir / "log"
    data = log.read_bytes()
    log.write_bytes(data[: committed + (full - committed) * 3 // 4])  # "two" partly written
    async with open_fs_storage(store_url) as storage:
        assert storage.recovery is not None and storage.recovery.cut is not None
        assert storage.recovery.cut.records >= 3
        assert (await storage.load_contents("one")).unwrap() == []
        assert (await storage.load_contents("two")).unwrap() == []
