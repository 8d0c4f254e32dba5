"""Real I/O failures come back as StorageErrors with the right code, and lose nothing.

The tests run as root in CI, where ``chmod`` stops nobody, so permission failures are
provoked in a child process running as ``nobody`` (or, when not root, with ``chmod``);
file size limits with ``RLIMIT_FSIZE`` in a child (the kernel's EFBIG); a full disk with
a tiny tmpfs when the test may mount one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bassline_storage_fs import FileStorage
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import ContentRecord, ErrorCode, NetworkRecord, open_storage
from tests.fs.tmpfs import tiny_tmpfs
from tests.root_support import IS_ROOT, cannot_run

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
NOBODY = 65534


@pytest.fixture
def anyio_backend() -> str:
    """Failure mapping does not depend on the event loop."""
    return "asyncio"


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A fresh directory any user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="bassline-fs-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _child(script: str, *args: str, as_nobody: bool) -> dict[str, Any]:
    drop = [f"--as-uid={NOBODY}"] if as_nobody else []
    done = subprocess.run(
        [sys.executable, str(HERE / script), *drop, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def _make_store(url: str) -> None:
    async with open_storage(url) as storage:
        spec = Bassline(id="net", groups=(GroupSpec("g"),))
        await storage.write([NetworkRecord(spec)])
        (await storage.save_snapshot("net", "kept")).unwrap()


async def test_a_store_the_user_may_not_write_is_a_permission_error(open_dir: Path) -> None:
    store = open_dir / "store"
    await _make_store(f"file://{store}")
    if not IS_ROOT:
        store.chmod(0o555)
        (store / "lock").chmod(0o444)
    try:
        outcome = _child("lock_probe.py", f"file://{store}", as_nobody=IS_ROOT)
    finally:
        store.chmod(0o755)
        (store / "lock").chmod(0o644)
    assert outcome["ok"] is False and outcome["code"] == ErrorCode.PERMISSION.value
    assert "Permission denied" in outcome["message"] and str(store) in outcome["message"]


async def test_permission_denied_mid_operation_loses_nothing(open_dir: Path) -> None:
    store = open_dir / "store"
    url = f"file://{store}"
    await _make_store(url)
    (snapshots,) = store.glob("networks/*/snapshots")
    if IS_ROOT:
        for root, dirs, files in os.walk(store):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.chown(name, NOBODY, NOBODY)
        os.chown(snapshots, 0, 0)  # the one directory nobody may not write
    else:
        snapshots.chmod(0o555)
    try:
        outcome = _child("io_child.py", "snapshot", url, as_nobody=IS_ROOT)
    finally:
        snapshots.chmod(0o755)
    assert outcome["snapshot"]["code"] == ErrorCode.PERMISSION.value
    assert "write snapshot of network 'net'" in outcome["snapshot"]["message"]
    assert outcome["write"] == {"ok": True}
    async with open_storage(url) as storage:
        assert [s.label for s in (await storage.list_snapshots("net")).unwrap()] == ["kept"]
        assert len((await storage.load_contents("net")).unwrap()) == 2


async def test_a_file_size_limit_fails_the_batch_and_rolls_the_log_back(
    store_url: str,
) -> None:
    outcome = _child("io_child.py", "fsize", store_url, as_nobody=False)
    assert outcome["first"] == {"ok": True}
    assert outcome["big"]["ok"] is False
    assert outcome["big"]["code"] == ErrorCode.LIMIT_EXCEEDED.value
    assert "File too large (EFBIG)" in outcome["big"]["message"]
    assert outcome["small"] == {"ok": True} and outcome["healthy"] is True
    async with open_storage(store_url) as storage:
        assert isinstance(storage, FileStorage)
        contacts = [c.contact for c in (await storage.load_contents("net")).unwrap()]
        assert contacts == ["A0", "A1", "A2", "C0", "C1"]
        assert storage.recovery is not None and storage.recovery.clean


async def test_a_full_disk_is_limit_exceeded_and_every_acknowledged_batch_survives(
    tmp_path: Path,
) -> None:
    with tiny_tmpfs(tmp_path / "disk", "256k") as disk:
        url = f"file://{disk / 'store'}"
        acknowledged: list[int] = []
        failure = None
        async with open_storage(url) as storage:
            await storage.write([NetworkRecord(Bassline(id="net", groups=(GroupSpec("g"),)))])
            for n in range(1000):
                batch = [
                    ContentRecord("net", "g", f"b{n}-{i}", "x" * 500, Stamp(n, "t"))
                    for i in range(4)
                ]
                result = await storage.write(batch)
                if isinstance(result, Failure):
                    failure = result.failure()
                    break
                acknowledged.append(n)
            assert failure is not None, "a 256 KiB disk must fill up"
            assert failure.code is ErrorCode.LIMIT_EXCEEDED
            assert "No space left on device (ENOSPC)" in failure.message
            # reads keep working, and the failed batch left nothing behind
            stored = (await storage.load_contents("net")).unwrap()
            assert len(stored) == 4 * len(acknowledged)
        async with open_storage(url) as storage:
            assert isinstance(storage, FileStorage)
            assert storage.recovery is not None and storage.recovery.cut is None
            stored = (await storage.load_contents("net")).unwrap()
            assert {c.contact for c in stored} == {
                f"b{n}-{i}" for n in acknowledged for i in range(4)
            }


def _snapshot_file(store_dir: Path, snapshot_id: str) -> Path:
    (found,) = store_dir.glob(f"networks/*/snapshots/{snapshot_id}.snap")
    return found


def _chattr(flag: str, path: Path) -> bool:
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


async def test_a_deleted_networks_directory_that_cannot_go_is_reported_and_retried(
    store_url: str, store_dir: Path
) -> None:
    """An immutable file (``chattr +i``; even root may not remove it) pins the directory."""
    spec = Bassline(id="net", groups=(GroupSpec("g"),))
    async with open_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec)])
        old = (await storage.save_snapshot("net", "old")).unwrap()
        pinned = _snapshot_file(store_dir, old.id)
        if not _chattr("+i", pinned):
            cannot_run("this file system or user cannot set the immutable attribute")
        try:
            (await storage.delete_network("net")).unwrap()  # committed, directory stays
            health = (await storage.health()).unwrap()
            assert not health.ok and "removal is retried" in health.detail
            assert (await storage.list_networks()).unwrap() == []
            again = await storage.save_network(spec)
            assert again.failure().code is ErrorCode.PERMISSION
            assert (await storage.list_networks()).unwrap() == []
        finally:
            _chattr("-i", pinned)
        (await storage.save_network(spec)).unwrap()
        assert (await storage.list_snapshots("net")).unwrap() == []
        assert not pinned.exists()
    async with open_storage(store_url) as storage:
        assert (await storage.list_networks()).unwrap() == ["net"]
        assert (await storage.list_snapshots("net")).unwrap() == []


async def test_a_log_that_may_not_be_written_is_named_in_the_open_error(
    store_url: str, store_dir: Path
) -> None:
    """An immutable log (``chattr +i``) was "cannot open store DIR: Operation not
    permitted (EPERM)", leaving the user to find which of its files."""
    async with open_storage(store_url):
        pass
    log = store_dir / "log"
    if not _chattr("+i", log):
        cannot_run("this file system or user cannot set the immutable attribute")
    try:
        storage = open_storage(store_url)
        error = (await storage.open()).failure()
        assert error.code is ErrorCode.PERMISSION, error
        assert error.message.startswith(
            f"cannot open store {store_dir} ({log}): Operation not permitted (EPERM)"
        ), error.message
        async with open_storage(f"{store_url}?read_only=true") as reader:  # reading is fine
            assert (await reader.list_networks()).unwrap() == []
    finally:
        _chattr("-i", log)
