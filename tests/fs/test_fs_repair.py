"""``repair(url)``: the only way to discard damaged log data; a dry run changes nothing, and
what a real one discards is kept in a side file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from bassline_storage_fs import open_fs_storage, repair
from bassline_storage_fs.entries import decode_header, header_frame
from bassline_storage_fs.frames import Frame, read_frame
from bassline_storage_fs.logfile import LOG_VERSION

from bassline.clock import Stamp
from bassline.spec import Bassline
from bassline.storage import ContentRecord, ErrorCode, NetworkRecord, StorageOpenError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Repair is synchronous file work: one event loop is enough for the setup."""
    return "asyncio"


def _batch(marker: str) -> list[ContentRecord]:
    return [ContentRecord("calc", "g", f"{marker}{i}", i, Stamp(1, "n")) for i in range(3)]


async def _write(url: str, spec: Bassline, markers: str, *, compact: bool = False) -> list[int]:
    """The network, then a batch per marker; the log size after each write."""
    sizes = []
    async with open_fs_storage(url) as storage:
        (await storage.write([NetworkRecord(spec)])).unwrap()
        if compact:
            (await storage.compact()).unwrap()
        sizes.append(storage.log_bytes)
        for marker in markers:
            (await storage.write(_batch(marker))).unwrap()
            sizes.append(storage.log_bytes)
    return sizes


async def _contacts(url: str) -> list[str]:
    async with open_fs_storage(url) as storage:
        return [c.contact for c in (await storage.load_contents("calc")).unwrap()]


def _tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def _bytes(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def _damage(log: Path, position: int) -> bytes:
    data = bytearray(log.read_bytes())
    data[position] ^= 0x01
    log.write_bytes(bytes(data))
    return bytes(data)


async def test_a_dry_run_lists_what_would_go_and_changes_nothing(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    sizes = await _write(store_url, spec, "ABC")
    data = _damage(store_dir / "log", sizes[1] + 40)  # inside batch B; C follows
    before = _tree(store_dir)
    report = repair(store_url, dry_run=True)
    assert _tree(store_dir) == before
    assert report.dry_run and report.needed and report.saved_to is None
    assert (report.offset, report.bytes) == (sizes[1], len(data) - sizes[1])
    assert (report.committed_batches, report.unfinished_batch) == (2, False)
    assert report.contents == 5  # B's two undamaged records and C's three
    assert report.describe() == (
        f"the log is damaged (checksum mismatch at byte {sizes[1]}) in the batch that starts "
        f"at byte {sizes[1]}, with 1 committed batch after it; would discard {len(data) - sizes[1]} bytes of the log "
        f"from offset {sizes[1]}: 2 committed batches (acknowledged writes), holding 5 "
        f"readable contents; the bytes would be kept in {store_dir}/discarded/"
    )


async def test_a_repair_keeps_what_it_discards_and_the_store_opens_again(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    sizes = await _write(store_url, spec, "ABC")
    log = store_dir / "log"
    data = _damage(log, sizes[1] + 40)
    report = repair(store_url)
    assert not report.dry_run and report.committed_batches == 2
    assert report.saved_to is not None
    saved = Path(report.saved_to)
    assert saved.parent == store_dir / "discarded"
    assert _bytes(saved) == data[sizes[1] :], "the discarded bytes, exactly"
    account = orjson.loads(_bytes(saved.with_suffix(".json")))
    assert account["sha256"] == hashlib.sha256(data[sizes[1] :]).hexdigest()
    assert (account["offset"], account["bytes"], account["committed_batches"]) == (
        sizes[1],
        len(data) - sizes[1],
        2,
    )
    assert log.read_bytes() == data[: sizes[1]]
    assert await _contacts(store_url) == ["A0", "A1", "A2"]
    async with open_fs_storage(store_url) as storage:  # and it goes on working
        assert storage.recovery is not None and storage.recovery.clean
        (await storage.write(_batch("D"))).unwrap()
    assert await _contacts(store_url) == ["A0", "A1", "A2", "D0", "D1", "D2"]
    assert not repair(store_url).needed


async def test_a_torn_tail_is_discarded_as_one_unfinished_batch(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    sizes = await _write(store_url, spec, "AB")
    log = store_dir / "log"
    data = log.read_bytes()[: sizes[-1] - 5]
    log.write_bytes(data)
    report = repair(store_url)
    assert (report.committed_batches, report.unfinished_batch, report.contents) == (0, True, 3)
    assert "the log ends in a torn tail" in report.describe()
    assert report.saved_to is not None and _bytes(report.saved_to) == data[sizes[1] :]
    assert await _contacts(store_url) == ["A0", "A1", "A2"]


async def test_a_log_with_a_damaged_header_is_set_aside_whole(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    await _write(store_url, spec, "A")
    data = _damage(store_dir / "log", 20)
    report = repair(store_url)
    assert (report.offset, report.bytes, report.committed_batches) == (0, len(data), 2)
    assert report.new_log and report.contents == 3
    assert report.saved_to is not None and _bytes(report.saved_to) == data
    async with open_fs_storage(store_url) as storage:
        assert (await storage.list_networks()).unwrap() == []  # it lived in that log only


async def test_a_missing_log_is_replaced_by_an_empty_one_and_the_compacted_state_stays(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    await _write(store_url, spec, "AB", compact=True)  # the spec is compacted, A and B not
    (store_dir / "log").unlink()
    assert repair(store_url, dry_run=True).new_log and not (store_dir / "log").exists()
    report = repair(store_url)
    assert report.new_log and report.bytes == 0 and report.saved_to is None
    assert "the log is missing" in report.describe()
    assert await _contacts(store_url) == []
    async with open_fs_storage(store_url) as storage:
        assert (await storage.list_networks()).unwrap() == ["calc"]


async def test_an_intact_store_needs_nothing_and_gets_nothing(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    await _write(store_url, spec, "A")
    before = _tree(store_dir)
    report = repair(store_url)
    assert not report.needed and report.describe() == "the log is intact: nothing to repair"
    assert _tree(store_dir) == before


async def test_repair_refuses_what_it_must_not_touch(
    store_url: str, store_dir: Path, tmp_path: Path, spec: Bassline
) -> None:
    with pytest.raises(StorageOpenError) as caught:
        repair(f"file://{tmp_path}")
    assert caught.value.error.code is ErrorCode.INVALID
    assert "is not a Bassline store" in caught.value.error.message

    sizes = await _write(store_url, spec, "AB")
    log = store_dir / "log"
    log.write_bytes(log.read_bytes()[: sizes[-1] - 5])
    async with open_fs_storage(store_url, read_only=True):
        before = _tree(store_dir)
        with pytest.raises(StorageOpenError) as caught:
            repair(store_url)
        assert caught.value.error.code is ErrorCode.CONFLICT
        assert _tree(store_dir) == before

    header = read_frame(log.read_bytes(), 0)
    assert isinstance(header, Frame)
    fields = decode_header(header.payload) | {"version": LOG_VERSION + 1}
    newer = header_frame(fields) + log.read_bytes()[header.end :]
    log.write_bytes(newer)
    with pytest.raises(StorageOpenError) as caught:
        repair(store_url)
    assert caught.value.error.code is ErrorCode.UNSUPPORTED
    assert "never discards a newer release's log" in caught.value.error.message
    assert log.read_bytes() == newer


async def test_damage_repair_does_not_touch_is_named_with_its_remedy(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    await _write(store_url, spec, "A", compact=True)
    state = next((store_dir / "networks").iterdir()) / "state"
    _damage(state, len(state.read_bytes()) // 2)
    report = repair(store_url)
    assert not report.needed
    assert report.remaining is not None and str(state) in report.remaining
    assert "restore it from a backup" in report.remaining
