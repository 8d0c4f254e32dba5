"""Outages under an open store: a full disk, and the directory deleted or replaced.

Everything is real: a tiny tmpfs filled to the last byte gives the kernel's ENOSPC, and
the store directory is removed or swapped with ``shutil`` while the storage has it open.
The promise checked each time: a write that returned Success is there after reopening,
a failed write leaves nothing, and a failure is an error (never a silent Success).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from bassline_storage_fs import FileStorage
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import ContentRecord, ErrorCode, NetworkRecord, open_storage
from tests.fs.tmpfs import fill_disk, tiny_tmpfs
from tests.root_support import cannot_run

pytestmark = pytest.mark.anyio

SPEC = Bassline(id="net", groups=(GroupSpec("g"),))


@pytest.fixture
def anyio_backend() -> str:
    """The failures are the kernel's; the event loop does not matter."""
    return "asyncio"


def _batch(tag: str, n: int, hlc: int, size: int = 300) -> list[ContentRecord]:
    return [ContentRecord("net", "g", f"{tag}-{i}", tag * size, Stamp(hlc, "t")) for i in range(n)]


async def _contacts(url: str) -> set[str]:
    async with open_storage(url) as storage:
        return {r.contact for r in (await storage.load_contents("net")).unwrap()}


# ------------------------------------------------------------------ a full disk


async def test_a_store_on_a_full_disk_opens_reads_and_writes_again_once_space_is_freed(
    tmp_path: Path,
) -> None:
    """Opening needs no free space: not to take the lock, nor when compaction is due."""
    with tiny_tmpfs(tmp_path / "disk") as disk:
        store = disk / "store"
        acknowledged: set[str] = set()
        async with open_storage(f"file://{store}") as storage:
            (await storage.write([NetworkRecord(SPEC)])).unwrap()
            for n in range(20):
                (await storage.write(_batch(f"a{n}", 4, n + 1))).unwrap()
                acknowledged |= {f"a{n}-{i}" for i in range(4)}
        filler = fill_disk(disk)
        # the log (about 26 KB) is over compact_bytes: opening would compact, which needs space
        url = f"file://{store}?compact_bytes=4096"
        for _ in range(2):  # a failed open must not leave the lock held behind it
            async with open_storage(url) as storage:
                assert isinstance(storage, FileStorage)
                assert {r.contact for r in (await storage.load_contents("net")).unwrap()} == (
                    acknowledged
                )
                health = (await storage.health()).unwrap()
                assert not health.ok and "No space left on device (ENOSPC)" in health.detail
                failed = await storage.write(_batch("full", 4, 100))
                assert isinstance(failed, Failure)
                assert failed.failure().code is ErrorCode.LIMIT_EXCEEDED
                assert not failed.failure().transient
        filler.unlink()
        async with open_storage(url) as storage:
            (await storage.write(_batch("after", 4, 200))).unwrap()
            acknowledged |= {f"after-{i}" for i in range(4)}
            assert (await storage.health()).unwrap().ok
        assert await _contacts(url) == acknowledged


async def test_compaction_and_snapshots_that_hit_a_full_disk_leave_the_store_whole(
    tmp_path: Path,
) -> None:
    with tiny_tmpfs(tmp_path / "disk") as disk:
        store = disk / "store"
        url = f"file://{store}"
        acknowledged: set[str] = set()
        async with open_storage(url) as storage:
            assert isinstance(storage, FileStorage)
            (await storage.write([NetworkRecord(SPEC)])).unwrap()
            kept = (await storage.save_snapshot("net", "kept")).unwrap()
            for n in range(10):
                (await storage.write(_batch(f"a{n}", 4, n + 1))).unwrap()
                acknowledged |= {f"a{n}-{i}" for i in range(4)}
            log_before = (store / "log").read_bytes()
            filler = fill_disk(disk)

            compacted = await storage.compact()
            assert isinstance(compacted, Failure)
            assert compacted.failure().code is ErrorCode.LIMIT_EXCEEDED
            snap = await storage.save_snapshot("net", "lost")
            assert isinstance(snap, Failure)
            assert snap.failure().code is ErrorCode.LIMIT_EXCEEDED
            # nothing half-written: no temporary files, the log and the snapshot list as before
            assert [p.name for p in store.rglob("*.tmp")] == []
            assert (store / "log").read_bytes() == log_before
            assert [s.id for s in (await storage.list_snapshots("net")).unwrap()] == [kept.id]
            health = (await storage.health()).unwrap()
            assert not health.ok and "compaction failed" in health.detail

            filler.unlink()
            (await storage.compact()).unwrap()
            assert (await storage.health()).unwrap().ok
            (await storage.save_snapshot("net", "later")).unwrap()
            (await storage.write(_batch("b", 4, 50))).unwrap()
            acknowledged |= {f"b-{i}" for i in range(4)}
        assert await _contacts(url) == acknowledged
        async with open_storage(url) as storage:
            labels = [s.label for s in (await storage.list_snapshots("net")).unwrap()]
            assert labels == ["later", "kept"]


# ------------------------------------------------------------------ the directory goes away


async def test_a_store_directory_deleted_while_open_fails_writes_instead_of_acknowledging_them(
    store_dir: Path, store_url: str
) -> None:
    async with open_storage(store_url) as storage:
        (await storage.write([NetworkRecord(SPEC), *_batch("a", 2, 1)])).unwrap()
        shutil.rmtree(store_dir)
        # the log's file descriptor still works: an append would reach a deleted file
        written = await storage.write(_batch("b", 2, 2))
        assert isinstance(written, Failure), "a write into a deleted store was acknowledged"
        error = written.failure()
        assert error.code is ErrorCode.CORRUPTION and not error.transient
        assert "removed or replaced" in error.message and str(store_dir) in error.message
        health = (await storage.health()).unwrap()
        assert not health.ok
        assert isinstance(await storage.save_snapshot("net"), Failure)
        assert isinstance(await storage.delete_network("net"), Failure)
        gone = not store_dir.exists()  # noqa: ASYNC240 - a check between awaits
        assert gone, "nothing may be written where the store was"


async def test_a_store_directory_replaced_while_open_writes_nothing_into_either(
    store_dir: Path, store_url: str, tmp_path: Path
) -> None:
    """Moved aside (a restore from backup, an operator's mistake) and an empty one put back."""
    moved = tmp_path / "moved"
    async with open_storage(store_url) as storage:
        (await storage.write([NetworkRecord(SPEC), *_batch("a", 2, 1)])).unwrap()
        store_dir.rename(moved)  # noqa: ASYNC240 - the outage itself, between awaits
        store_dir.mkdir()  # noqa: ASYNC240
        for attempt in (
            lambda: storage.write(_batch("b", 2, 2)),
            lambda: storage.save_snapshot("net"),
            storage.compact,
        ):
            result = await attempt()
            assert isinstance(result, Failure), result
            assert result.failure().code is ErrorCode.CORRUPTION
        assert not (await storage.health()).unwrap().ok
    assert list(store_dir.iterdir()) == []  # noqa: ASYNC240 - a check after the storage closed
    # the moved store holds exactly what was acknowledged, and opens cleanly
    assert await _contacts(f"file://{moved}") == {"a-0", "a-1"}
    async with open_storage(f"file://{moved}") as storage:
        assert isinstance(storage, FileStorage)
        assert storage.recovery is not None and storage.recovery.cut is None


async def test_a_store_directory_put_back_after_a_failed_write_reopens_cleanly(
    store_dir: Path, store_url: str, tmp_path: Path
) -> None:
    """A batch that met a moved store is not left in its log to clash with later ones."""
    moved = tmp_path / "moved"
    async with open_storage(store_url) as storage:
        (await storage.write([NetworkRecord(SPEC), *_batch("a", 2, 1)])).unwrap()
        store_dir.rename(moved)  # noqa: ASYNC240 - the outage itself, between awaits
        assert isinstance(await storage.write(_batch("b", 2, 2)), Failure)
        moved.rename(store_dir)
        (await storage.write(_batch("c", 2, 3))).unwrap()  # the store is back: writes resume
    async with open_storage(store_url) as storage:
        assert isinstance(storage, FileStorage)
        assert storage.recovery is not None and storage.recovery.cut is None
        stored = {r.contact for r in (await storage.load_contents("net")).unwrap()}
        assert stored == {"a-0", "a-1", "c-0", "c-1"}


# ------------------------------------------------------------------ permissions change


def _chattr(flag: str, path: Path) -> bool:
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


async def test_a_log_made_immutable_while_open_fails_writes_until_it_is_lifted(
    store_dir: Path, store_url: str
) -> None:
    """``chattr +i`` (even root may not write): PERMISSION, and the store is not left broken."""
    async with open_storage(store_url) as storage:
        (await storage.write([NetworkRecord(SPEC), *_batch("a", 2, 1)])).unwrap()
        log = store_dir / "log"
        if not _chattr("+i", log):
            cannot_run("this file system or user cannot set the immutable attribute")
        try:
            refused = await storage.write(_batch("b", 2, 2))
            assert isinstance(refused, Failure)
            assert refused.failure().code is ErrorCode.PERMISSION
            assert "Operation not permitted (EPERM)" in refused.failure().message
        finally:
            _chattr("-i", log)
        (await storage.write(_batch("c", 2, 3))).unwrap()
        assert (await storage.health()).unwrap().ok
    assert await _contacts(store_url) == {"a-0", "a-1", "c-0", "c-1"}
