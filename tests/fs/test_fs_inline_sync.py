"""Small writes are appended on the event loop thread while syncs are fast (D52).

The data sync is wrapped (it still syncs) to record which thread ran it; a slow disk is
injected by making the wrapped sync take longer than ``inline_sync_ms``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from bassline_storage_fs import FileStorage, logfile, open_fs_storage
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import ContentRecord, ErrorCode, GroupRecord, NetworkRecord

pytestmark = pytest.mark.anyio


class SyncSpy:
    """Wraps the log's data sync: records the thread of each call, optionally slowed."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.delay = 0.0
        self.fail: OSError | None = None
        """Raised by the next sync only."""

    def __call__(self, fd: int) -> None:
        self.threads.append(threading.get_ident())
        if self.fail is not None:
            failure, self.fail = self.fail, None  # once: the roll-back's own sync works
            raise failure
        if self.delay:
            time.sleep(self.delay)  # the injected slow disk, not a synchronisation
        real_sync(fd)

    def on_loop(self) -> list[bool]:
        """Per sync so far: whether it ran on the event loop thread."""
        return [t == threading.get_ident() for t in self.threads]


real_sync = logfile.sync_data
FOREVER = 1000
"""The largest ``inline_sync_ms``: a real sync is never that slow, however busy the
machine, so whether a write is inline depends only on what a test injects."""


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncSpy]:
    found = SyncSpy()
    monkeypatch.setattr(logfile, "sync_data", found)
    yield found


def _content(i: int, value: Any = None) -> ContentRecord:
    return ContentRecord("calc", "g", f"c{i}", i if value is None else value, Stamp(10 + i, "n"))


async def _write_each(storage: Any, first: int, count: int) -> None:
    for i in range(first, first + count):
        (await storage.write([_content(i)])).unwrap()


async def test_small_writes_sync_on_the_loop_once_a_sync_was_fast(
    store_url: str, spec: Bassline, spy: SyncSpy
) -> None:
    async with open_fs_storage(store_url, inline_sync_ms=FOREVER) as storage:
        (await storage.write([NetworkRecord(spec)])).unwrap()
        await _write_each(storage, 0, 3)
        # the spec write goes to a worker (no sync measured yet, and it is no content);
        # then every small content write is appended where the caller is
        assert spy.on_loop() == [False, True, True, True]
        stored = (await storage.load_contents("calc")).unwrap()
        assert {(c.contact, c.value) for c in stored} >= {("c0", 0), ("c1", 1), ("c2", 2)}
    async with open_fs_storage(store_url) as again:
        stored = (await again.load_contents("calc")).unwrap()
        assert {(c.contact, c.value) for c in stored} >= {("c0", 0), ("c1", 1), ("c2", 2)}


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_slow_sync_sends_writes_to_a_worker_until_one_is_fast(
    store_url: str, spec: Bassline, spy: SyncSpy
) -> None:
    async with open_fs_storage(store_url, inline_sync_ms=FOREVER) as storage:
        (await storage.write([NetworkRecord(spec)])).unwrap()
        await _write_each(storage, 0, 1)
        spy.delay = FOREVER / 1000 + 0.05  # beyond inline_sync_ms
        await _write_each(storage, 1, 2)
        spy.delay = 0.0
        await _write_each(storage, 3, 2)
    # write 1 ran inline (the sync before it was fast) and was slow; write 2 went to a
    # worker and was slow too; write 3 went to a worker and was fast; write 4 inline
    assert spy.on_loop() == [False, True, True, False, False, True]


async def test_inline_sync_ms_zero_keeps_every_write_in_a_worker(
    store_url: str, spec: Bassline, spy: SyncSpy
) -> None:
    async with open_fs_storage(f"{store_url}?inline_sync_ms=0") as storage:
        (await storage.write([NetworkRecord(spec)])).unwrap()
        await _write_each(storage, 0, 3)
    assert spy.on_loop() == [False] * 4


async def test_big_batches_and_spec_changes_go_to_a_worker(
    store_url: str, spec: Bassline, spy: SyncSpy
) -> None:
    async with open_fs_storage(store_url, inline_sync_ms=FOREVER) as storage:
        (await storage.write([NetworkRecord(spec)])).unwrap()
        await _write_each(storage, 0, 1)
        (await storage.write([_content(1, "x" * 70_000)])).unwrap()  # > 64 KiB of values
        (await storage.write([_content(i) for i in range(2, 2 + 257)])).unwrap()  # > 256
        (await storage.write([GroupRecord("calc", GroupSpec("k"))])).unwrap()
        (await storage.write([_content(i) for i in range(300, 300 + 256)])).unwrap()
    assert spy.on_loop() == [False, True, False, False, False, True]


async def test_a_failed_sync_on_the_loop_is_a_storage_error_and_loses_nothing(
    store_url: str, spec: Bassline, spy: SyncSpy
) -> None:
    async with open_fs_storage(store_url, inline_sync_ms=FOREVER) as storage:
        (await storage.write([NetworkRecord(spec)])).unwrap()
        await _write_each(storage, 0, 2)
        size = storage.log_bytes
        spy.fail = OSError(5, "Input/output error")
        failed = await storage.write([_content(7)])
        assert spy.on_loop()[-1] is True
        assert isinstance(failed, Failure)
        error = failed.failure()
        assert error.code is ErrorCode.CORRUPTION and "cannot append to log" in error.message
        assert "EIO" in error.message
        assert storage.log_bytes == size  # cut back to the last committed batch
        await _write_each(storage, 8, 1)
        stored = {c.contact for c in (await storage.load_contents("calc")).unwrap()}
        assert {"c0", "c1", "c8"} <= stored and "c7" not in stored
    async with open_fs_storage(store_url) as again:
        stored = {c.contact for c in (await again.load_contents("calc")).unwrap()}
        assert {"c0", "c1", "c8"} <= stored and "c7" not in stored


async def test_a_small_write_waits_while_a_write_in_a_worker_holds_the_lock(
    store_url: str, spec: Bassline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small write skips the writers' lock only when nobody holds it (D70): while a
    spec change is being synced in a worker, a small write does not append meanwhile."""
    loop_thread = threading.get_ident()
    entered, release = threading.Event(), threading.Event()
    armed: list[bool] = []
    order: list[str] = []

    def gated(fd: int) -> None:
        if armed and threading.get_ident() != loop_thread:
            order.append("worker")
            entered.set()
            release.wait(30)  # a gate the test opens, not a synchronisation by time
        else:
            order.append("small" if armed else "setup")
        real_sync(fd)

    monkeypatch.setattr(logfile, "sync_data", gated)
    async with open_fs_storage(store_url, inline_sync_ms=FOREVER) as storage:
        (await storage.write([NetworkRecord(spec)])).unwrap()
        await _write_each(storage, 0, 1)  # a fast sync: small writes go inline from now on
        armed.append(True)

        async def change_spec() -> None:
            (await storage.write([GroupRecord("calc", GroupSpec("k"))])).unwrap()

        async with anyio.create_task_group() as tg:
            tg.start_soon(change_spec)
            deadline = time.monotonic() + 30
            while not entered.is_set():
                assert time.monotonic() < deadline, "the spec change never reached its sync"
                await anyio.sleep(0.001)
            tg.start_soon(_write_each, storage, 1, 1)
            await anyio.wait_all_tasks_blocked()
            assert order == ["setup", "setup", "worker"], "a small write went past the lock"
            release.set()
        assert order == ["setup", "setup", "worker", "small"]
    async with open_fs_storage(store_url) as again:
        assert isinstance(again, FileStorage)
        assert again.recovery is not None and again.recovery.cut is None
        stored = {c.contact for c in (await again.load_contents("calc")).unwrap()}
        assert stored >= {"c0", "c1"}
        assert "k" in {g.id for g in (await again.load_network("calc")).unwrap().groups}


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("inline_sync_ms=-1", "must be a whole number"),
        ("inline_sync_ms=1001", "must be in [0, 1000]"),
        ("inline_sync_ms=0.5", "must be a whole number"),
        ("inline_sync_ms=", "must be a whole number"),
    ],
)
def test_a_bad_inline_sync_ms_is_refused(store_url: str, query: str, problem: str) -> None:
    with pytest.raises(ValueError, match="inline_sync_ms") as caught:
        open_fs_storage(f"{store_url}?{query}")
    assert problem in str(caught.value)


def test_inline_sync_ms_must_be_an_int_as_a_keyword(store_url: str) -> None:
    with pytest.raises(ValueError, match=r"option inline_sync_ms .* must be int, got float"):
        open_fs_storage(store_url, inline_sync_ms=0.5)
    assert open_fs_storage(store_url, inline_sync_ms=0).options.inline_sync_ms == 0
    assert open_fs_storage(store_url).options.inline_sync_ms == 2
