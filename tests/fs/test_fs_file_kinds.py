"""A store's files replaced by something else: a named pipe, a device, a directory.

The backend only ever makes regular files; one put there by hand or by an attacker was
read as one: a named pipe for the marker, the log or a snapshot hung every open (and
`bassline storage check`) waiting for a writer, ``/dev/zero`` was read until memory ran
out, and a directory for the log crashed `bassline storage repair` (IsADirectoryError). Each
is now damage that names the file and what it is, found before a byte is read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bassline_storage_fs import repair

from bassline.clock import Stamp
from bassline.spec import parse_spec
from bassline.storage import ContentRecord, ErrorCode, StorageOpenError, open_storage

pytestmark = pytest.mark.anyio

SPEC = parse_spec({"id": "kinds", "contacts": [{"id": "c"}]})


def _fifo(path: Path) -> Callable[[], None]:
    """Make ``path`` a named pipe. A helper thread waits to open its other end, so that a
    reader who opens it (a regression) gets an empty pipe rather than hanging the suite;
    the returned function releases the helper when nobody did."""
    os.mkfifo(path)
    writer = threading.Thread(target=lambda: os.close(os.open(path, os.O_WRONLY)), daemon=True)
    writer.start()

    def release() -> None:
        # the read end stays open until the helper has opened its end: a helper thread
        # that starts late (a loaded machine) would otherwise wait for a reader forever
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            writer.join()
        finally:
            os.close(reader)

    return release


@pytest.fixture
async def store(tmp_path: Path) -> Path:
    """A store holding one network, one content and one snapshot."""
    root = tmp_path / "store"
    async with open_storage(f"file://{root}") as storage:
        (await storage.save_network(SPEC)).unwrap()
        (await storage.write([ContentRecord("kinds", "root", "c", 7, Stamp(1, "n"))])).unwrap()
        (await storage.save_snapshot("kinds", "before")).unwrap()
    return root


@pytest.fixture
def releases() -> Iterator[list[Callable[[], None]]]:
    waiting: list[Callable[[], None]] = []
    yield waiting
    for release in waiting:
        release()


def _replace(path: Path, kind: str, releases: list[Callable[[], None]]) -> str:
    """Put a ``kind`` where ``path`` was; what the error calls it."""
    if path.is_dir():
        raise AssertionError(path)
    path.unlink()
    if kind == "pipe":
        releases.append(_fifo(path))
        return "a named pipe"
    if kind == "device":  # /dev/null: a regression reads it empty, fails, and ends
        path.symlink_to("/dev/null")
        return "a character device"
    path.mkdir()
    return "a directory"


def _snapshots(store: Path) -> list[Path]:
    return list(store.glob("networks/*/snapshots/*.snap"))


async def _open_error(url: str) -> Any:
    with pytest.raises(StorageOpenError) as caught:
        async with open_storage(url):
            pass
    return caught.value.error


@pytest.mark.parametrize("kind", ["pipe", "device", "directory"])
async def test_a_log_that_is_no_file_is_damage_named_and_never_read(
    store: Path, kind: str, releases: list[Callable[[], None]]
) -> None:
    what = _replace(store / "log", kind, releases)
    for url in (f"file://{store}", f"file://{store}?read_only=true"):
        error = await _open_error(url)
        assert error.code is ErrorCode.CORRUPTION, error
        assert error.message.startswith(
            f"log {store / 'log'} is {what}, not a regular file: a store's log is a file "
            "this backend writes, so it was replaced."
        ), error.message
    with pytest.raises(StorageOpenError) as caught:
        repair(f"file://{store}", dry_run=True)
    assert caught.value.error.code is ErrorCode.CORRUPTION
    assert f"log {store / 'log'} is {what}, not a regular file: repair" in str(caught.value)


@pytest.mark.parametrize("kind", ["pipe", "device", "directory"])
async def test_a_marker_that_is_no_file_is_damage_named_and_never_read(
    store: Path, kind: str, releases: list[Callable[[], None]]
) -> None:
    marker = store / "bassline-store.json"
    what = _replace(marker, kind, releases)
    error = await _open_error(f"file://{store}")
    assert error.code is ErrorCode.CORRUPTION, error
    named = (
        f"store marker {marker} is {what}, not a regular file: a store's marker is a file "
        "this backend writes, so it was replaced. Restore it from a backup"
    )
    assert error.message == named
    # repair named the damage too, not "is not a Bassline store (it has no marker)"
    with pytest.raises(StorageOpenError) as caught:
        repair(f"file://{store}", dry_run=False)
    assert caught.value.error.code is ErrorCode.CORRUPTION
    assert caught.value.error.message == (
        f"{named} (repair mends only the log: nothing was changed)"
    )


async def test_a_marker_that_is_a_link_leading_nowhere_is_damage_named(store: Path) -> None:
    """Taken for no marker, it made the store "not a Bassline store ... (it holds
    bassline-store.json, ...)" and repair "nothing to repair"."""
    marker = store / "bassline-store.json"
    marker.unlink()
    marker.symlink_to(store / "gone.json")
    named = (
        f"store marker {marker} is a symbolic link to {store / 'gone.json'}, which does not "
        "exist, not a regular file: a store's marker is a file this backend writes, so it "
        "was replaced. Restore it from a backup"
    )
    for url in (f"file://{store}", f"file://{store}?read_only=true"):
        error = await _open_error(url)
        assert (error.code, error.message) == (ErrorCode.CORRUPTION, named)
    with pytest.raises(StorageOpenError) as caught:
        repair(f"file://{store}")
    assert caught.value.error.message.startswith(named)
    assert os.readlink(marker) == str(store / "gone.json")  # left as it was


async def test_a_marker_too_large_to_be_one_is_damage(store: Path) -> None:
    marker = store / "bassline-store.json"
    os.truncate(marker, 1 << 30)  # sparse: a gibibyte of zeros was read to find it is no JSON
    error = await _open_error(f"file://{store}")
    assert error.code is ErrorCode.CORRUPTION, error
    assert error.message == (
        f"store marker {marker} holds more than 65,536 bytes; the marker this backend writes "
        "is about 100"
    )


@pytest.mark.parametrize("kind", ["pipe", "device"])
async def test_a_snapshot_that_is_no_file_is_left_alone_and_reported(
    store: Path, kind: str, releases: list[Callable[[], None]]
) -> None:
    (snapshot,) = _snapshots(store)
    _replace(snapshot, kind, releases)
    async with open_storage(f"file://{store}?read_only=true") as storage:
        assert (await storage.list_snapshots("kinds")).unwrap() == []
        health = (await storage.health()).unwrap()
        assert f"1 unreadable snapshot files left in place: {snapshot}" in health.detail
        assert (await storage.load_contact_content("kinds", "root", "c")).unwrap().value == 7


def _states(store: Path) -> list[Path]:
    return list(store.glob("networks/*/state"))


async def test_a_state_file_that_is_no_file_is_damage_named_and_never_read(
    tmp_path: Path, releases: list[Callable[[], None]]
) -> None:
    root = tmp_path / "compacted"
    async with open_storage(f"file://{root}?compact_bytes=1") as storage:  # every batch
        (await storage.save_network(SPEC)).unwrap()
        (await storage.write([ContentRecord("kinds", "root", "c", 7, Stamp(1, "n"))])).unwrap()
    (state,) = _states(root)
    _replace(state, "pipe", releases)
    error = await _open_error(f"file://{root}?read_only=true")
    assert error.code is ErrorCode.CORRUPTION, error
    assert f"state file {state} is damaged ({state} is a named pipe, not a regular file)" in (
        error.message
    )
