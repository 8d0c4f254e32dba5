"""Opening after damage: torn tails are cut and reported, corruption is never silent."""

from __future__ import annotations

import logging
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
            assert report.cut is not None and report.cut.cut
            assert (report.cut.offset, report.cut.bytes) == (committed, offset - committed)
            detail = (await storage.health()).unwrap().detail
            assert (
                f"cut a torn tail from the log: {offset - committed} byte"
                f"{'' if offset - committed == 1 else 's'} at offset {committed}: 1 unfinished "
                "batch, never acknowledged"
            ) in detail
        assert log.stat().st_size == committed
    # and the store goes on working after a cut
    log.write_bytes(data[: full - 1])
    async with open_fs_storage(store_url) as storage:
        (await storage.write(_batch("C"))).unwrap()
    assert await _contacts(store_url) == ["A0", "A1", "A2", "C0", "C1", "C2"]


async def test_a_cut_says_what_it_cut_in_health_and_in_a_logged_warning(
    store_url: str, store_dir: Path, spec: Bassline, caplog: pytest.LogCaptureFixture
) -> None:
    *_, committed, full = await _write_batches(store_url, spec, "AB")
    log = store_dir / "log"
    log.write_bytes(log.read_bytes()[: full - 5])  # the commit marker is torn
    with caplog.at_level(logging.WARNING, logger="bassline.storage.fs"):
        async with open_fs_storage(store_url) as storage:
            assert storage.recovery is not None and storage.recovery.cut is not None
            cut = storage.recovery.cut
            assert (cut.bytes, cut.records, cut.contents) == (full - 5 - committed, 3, 3)
            health = (await storage.health()).unwrap()
            assert health.ok and cut.describe() in health.detail
    (warning,) = [r for r in caplog.records if r.name == "bassline.storage.fs"]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == (
        f"file store {store_dir}: at open: replayed 2 batches ({committed} log bytes); "
        f"cut a torn tail from the log: {full - 5 - committed} bytes at offset {committed}: "
        "1 unfinished batch, never acknowledged, with 3 readable records holding 3 contents "
        f"(frame of 12 bytes runs 5 bytes past the end at byte {full - 24})"
    )


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
        assert (cut.offset, cut.bytes) == (committed, full - committed)
        assert any(word in cut.reason for word in ("checksum", "marker", "past the end"))
    assert await _contacts(store_url) == ["A0", "A1", "A2"]


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


async def test_read_only_changes_nothing_on_disk_and_reports_the_damage(
    store_url: str, store_dir: Path, spec: Bassline, caplog: pytest.LogCaptureFixture
) -> None:
    *_, full = await _write_batches(store_url, spec, "AB")
    log = store_dir / "log"
    log.write_bytes(log.read_bytes()[: full - 5])
    (store_dir / "log.tmp").write_bytes(b"half-written")
    before = _tree(store_dir)
    with caplog.at_level(logging.INFO, logger="bassline.storage.fs"):
        async with open_fs_storage(store_url, read_only=True, compact_bytes=1) as storage:
            assert [c.contact for c in (await storage.load_contents("calc")).unwrap()] == [
                "A0",
                "A1",
                "A2",
            ]
            report = storage.recovery
            assert report is not None and report.cut is not None and not report.cut.cut
            assert report.removed == (str(store_dir / "log.tmp"),)
            health = (await storage.health()).unwrap()
            assert not health.ok
            assert "found a torn tail in the log, NOT cut (opened read-only)" in health.detail
            assert "found (not removed: read-only) 1 leftover" in health.detail
            assert "damage found at open (above); nothing was changed" in health.detail
            for refused in (
                await storage.write(_batch("C")),
                await storage.save_network(spec),
                await storage.delete_network("calc"),
                await storage.save_snapshot("calc"),
                await storage.compact(),
            ):
                assert refused.failure().code is ErrorCode.PERMISSION
                assert "open read-only" in refused.failure().message
    assert _tree(store_dir) == before, "a read-only open changed the store"
    assert not caplog.records, "read-only reports through health, not the log"


async def test_read_only_creates_no_store(tmp_path: Path) -> None:
    for directory in (tmp_path / "missing", tmp_path):
        with pytest.raises(StorageOpenError) as caught:
            async with open_fs_storage(f"file://{directory}", read_only=True):
                pass
        assert caught.value.error.code is ErrorCode.INVALID
        assert "read_only=true" in caught.value.error.message
    assert _tree(tmp_path) == {}


async def test_corruption_before_committed_batches_refuses_to_open(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    sizes = await _write_batches(store_url, spec, "ABC")
    log = store_dir / "log"
    data = bytearray(log.read_bytes())
    data[sizes[1] + 40] ^= 0x01  # inside batch B; batch C follows it
    log.write_bytes(bytes(data))
    for read_only in (False, True):
        with pytest.raises(StorageOpenError) as caught:
            async with open_fs_storage(store_url, read_only=read_only):
                pass
        error = caught.value.error
        assert error.code is ErrorCode.CORRUPTION
        assert "checksum mismatch" in error.message
        assert "but 1 committed batch follows it" in error.message
        assert f"`bassline storage repair {store_dir.as_uri()}`" in error.message
        assert f"from byte {sizes[1]} on (2 committed batches" in error.message
        assert log.read_bytes() == bytes(data), "nothing may be cut"


async def test_a_damaged_log_header_refuses_to_open(
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
    message = caught.value.error.message
    assert "log header" in message and "none of its 2 committed batches can be read" in message
    assert "bassline storage repair" in message
    assert log.read_bytes() == bytes(data)


async def test_a_store_that_lost_its_log_refuses_to_open(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    await _write_batches(store_url, spec, "AB")
    (store_dir / "log").unlink()
    before = _tree(store_dir)
    for read_only in (False, True):
        with pytest.raises(StorageOpenError) as caught:
            async with open_fs_storage(store_url, read_only=read_only):
                pass
        error = caught.value.error
        assert error.code is ErrorCode.CORRUPTION and not error.transient
        assert f"store {store_dir} has no log file" in error.message
        assert "Restore the log from a backup" in error.message
        assert f"bassline storage repair {store_dir.as_uri()}" in error.message
    assert _tree(store_dir) == before, "nothing may be created in its place"


async def test_a_creation_interrupted_before_the_marker_finishes_on_the_next_open(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    async with open_fs_storage(store_url):
        pass
    # as a crash between writing the log and the marker leaves it
    (store_dir / "bassline-store.json").unlink()
    (store_dir / "networks").rmdir()
    async with open_fs_storage(store_url) as storage:
        (await storage.save_network(spec)).unwrap()
    assert (store_dir / "bassline-store.json").exists()
    # a log with batches in it and no marker is not an unfinished creation: not ours
    (store_dir / "bassline-store.json").unlink()
    with pytest.raises(StorageOpenError) as caught:
        async with open_fs_storage(store_url):
            pass
    assert "is not a Bassline store" in caught.value.error.message


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
