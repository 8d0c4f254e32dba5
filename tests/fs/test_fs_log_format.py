"""The log's CONTENTS records (log version 2) and reading and extending version 1 logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from bassline_storage_fs import logfile, open_fs_storage, planner
from bassline_storage_fs.entries import (
    COMMIT,
    CONTENT,
    CONTENTS,
    HEADER,
    EntryError,
    commit_frame,
    contents_frame,
    decode_contents,
    decode_header,
    header_frame,
)
from bassline_storage_fs.frames import Frame, frame, read_frame
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.codec import encode
from bassline.spec import Bassline
from bassline.storage import ContentRecord, ErrorCode, NetworkRecord, StorageOpenError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """File format work: one event loop is enough."""
    return "asyncio"


def _frames(log: Path) -> list[Frame]:
    data, pos, out = log.read_bytes(), 0, []
    while pos < len(data):
        found = read_frame(data, pos)
        assert isinstance(found, Frame), found
        out.append(found)
        pos = found.end
    return out


def _kinds(log: Path) -> list[int]:
    return [f.kind for f in _frames(log)]


def _batch(marker: str, n: int = 5, hlc: int = 5, value: Any = None) -> list[ContentRecord]:
    return [
        ContentRecord("calc", "g", f"{marker}{i}", value or {"m": marker, "i": i}, Stamp(hlc, "n"))
        for i in range(n)
    ]


async def test_a_batch_of_contents_is_one_contents_record(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec)])
        summary = (await storage.write(_batch("A", 50))).unwrap()
        assert summary.contents == 50
    assert _kinds(store_dir / "log")[-2:] == [CONTENTS, COMMIT]
    async with open_fs_storage(store_url) as storage:
        loaded = (await storage.load_contents("calc")).unwrap()
    assert [(c.contact, c.value, c.stamp) for c in loaded] == sorted(
        (r.contact, r.value, r.stamp) for r in _batch("A", 50)
    )


async def test_stale_contents_are_dropped_from_a_contents_record(
    store_url: str, spec: Bassline
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec)])
        (await storage.write(_batch("A", 4, hlc=10, value="new"))).unwrap()
        mixed = _batch("A", 2, hlc=3, value="old") + _batch("B", 2, hlc=3, value="fresh")
        summary = (await storage.write(mixed)).unwrap()
        assert (summary.contents, summary.stale) == (2, 2)
        summary = (await storage.write(_batch("A", 4, hlc=9, value="old"))).unwrap()
        assert (summary.contents, summary.stale) == (0, 4)
    async with open_fs_storage(store_url) as storage:
        loaded = {c.contact: c.value for c in (await storage.load_contents("calc")).unwrap()}
    assert loaded == {
        "A0": "new",
        "A1": "new",
        "A2": "new",
        "A3": "new",
        "B0": "fresh",
        "B1": "fresh",
    }


async def test_ids_only_per_record_frames_can_hold_still_round_trip(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    lone_surrogate = "contact-\udc80"
    records = [ContentRecord("calc", "g", lone_surrogate, 1, Stamp(1, "n"))]
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec)])
        (await storage.write(records)).unwrap()
    assert _kinds(store_dir / "log")[-2:] == [CONTENT, COMMIT]
    async with open_fs_storage(store_url) as storage:
        (found,) = (await storage.load_contents("calc")).unwrap()
    assert found.contact == lone_surrogate


async def test_a_version_1_log_is_read_extended_and_upgraded_by_compaction(
    store_url: str, store_dir: Path, spec: Bassline, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = store_dir / "log"
    with monkeypatch.context() as patch:
        patch.setattr(logfile, "LOG_VERSION", 1)  # what the first release wrote
        async with open_fs_storage(store_url) as storage:
            await storage.write([NetworkRecord(spec)])
            (await storage.write(_batch("A"))).unwrap()
    assert decode_header(_frames(log)[0].payload)["version"] == 1
    assert CONTENTS not in _kinds(log)

    async with open_fs_storage(store_url) as storage:
        (await storage.write(_batch("B"))).unwrap()
    assert CONTENTS not in _kinds(log), "a version 1 log only gets records version 1 knows"

    async with open_fs_storage(store_url) as storage:
        assert len((await storage.load_contents("calc")).unwrap()) == 10
        (await storage.compact()).unwrap()
        (await storage.write(_batch("C"))).unwrap()
    assert decode_header(_frames(log)[0].payload)["version"] == logfile.LOG_VERSION
    assert CONTENTS in _kinds(log)
    async with open_fs_storage(store_url) as storage:
        contacts = [c.contact for c in (await storage.load_contents("calc")).unwrap()]
    assert contacts == [f"{marker}{i}" for marker in "ABC" for i in range(5)]


@pytest.mark.parametrize("read_only", [False, True])
async def test_a_log_of_a_newer_version_is_refused_and_never_repaired(
    store_url: str, store_dir: Path, spec: Bassline, read_only: bool
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec)])
        (await storage.write(_batch("A"))).unwrap()
    log = store_dir / "log"
    header = _frames(log)[0]
    fields = decode_header(header.payload) | {"version": 4}
    newer = header_frame(fields) + log.read_bytes()[header.end :]
    log.write_bytes(newer)
    with pytest.raises(StorageOpenError) as caught:
        async with open_fs_storage(store_url, read_only=read_only):
            pass
    error = caught.value.error
    assert error.code is ErrorCode.UNSUPPORTED
    assert "log format version 4 is not supported (this reads versions 1, 2, 3)" in error.message
    assert "repair" not in error.message
    assert log.read_bytes() == newer, "a newer release's log must be left exactly as it was"


async def test_a_committed_contents_record_that_does_not_decode_refuses_to_open(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec)])
        (await storage.write(_batch("A"))).unwrap()
    log = store_dir / "log"
    frames = _frames(log)
    assert [f.kind for f in frames[-2:]] == [CONTENTS, COMMIT]
    damaged = frame(CONTENTS, b"\x02\x00\x00\x00[]")  # intact checksum, wrong columns
    data = log.read_bytes()
    log.write_bytes(data[: frames[-2].offset] + damaged + data[frames[-1].offset :])
    with pytest.raises(StorageOpenError) as caught:
        async with open_fs_storage(store_url):
            pass
    assert caught.value.error.code is ErrorCode.CORRUPTION
    assert f"committed record at byte {frames[-2].offset} is malformed" in (
        caught.value.error.message
    )


def _columns(n: int = 2) -> tuple[Any, ...]:
    values = [encode({"v": i}) for i in range(n)]
    return ("net", ["g"] * n, [f"c{i}" for i in range(n)], list(range(n)), ["n"] * n, values)


def test_contents_frames_round_trip() -> None:
    network, groups, contacts, hlcs, nodes, values = _columns(3)
    built = contents_frame(network, groups, contacts, hlcs, nodes, values)
    assert built is not None
    found = read_frame(built, 0)
    assert isinstance(found, Frame) and found.kind == CONTENTS
    entries = decode_contents(found.payload)
    assert [(e.network, e.group, e.contact, e.hlc, e.node, e.value) for e in entries] == list(
        zip([network] * 3, groups, contacts, hlcs, nodes, values, strict=True)
    )


def _payload(columns: bytes, values: bytes = b"") -> bytes:
    return len(columns).to_bytes(4, "little") + columns + values


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x01", "too short"),
        (b"\xff\x00\x00\x00[]", "run past its end"),
        (b"\x02\x00\x00\x00{]", "not JSON"),
        (b"\x02\x00\x00\x00{}", "not a list of six"),
        (_payload(b'["n",["g"],[],[1],["n"],[0]]'), "malformed"),
        (_payload(b'["n",["g"],["c"],[-1],["n"],[0]]'), "malformed"),
        (_payload(b'["n",["g"],["c"],[1],[7],[0]]'), "malformed"),
        (_payload(b'["n",["g"],["c"],[1],["n"],[-1]]'), "malformed"),
        (_payload(b'["n",["g"],["c"],[1],["n"],[5]]', b"1"), "do not add up"),
    ],
)
def test_malformed_contents_payloads_are_entry_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(EntryError, match=reason):
        decode_contents(payload)


def test_the_header_and_commit_frames_are_unchanged() -> None:
    # version 2 only adds a record kind: headers and commit markers read as before
    assert read_frame(header_frame({"version": 1}), 0).kind == HEADER  # type: ignore[union-attr]
    assert read_frame(commit_frame(1, 1), 0).kind == COMMIT  # type: ignore[union-attr]


async def test_a_batch_too_big_for_one_record_is_logged_a_record_at_a_time(
    store_url: str, store_dir: Path, spec: Bassline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(The 256 MiB record limit is lowered so the test does not allocate gigabytes.)"""
    monkeypatch.setattr(planner, "MAX_RECORD_BYTES", 10_000)
    async with open_fs_storage(store_url) as storage:
        await storage.write([NetworkRecord(spec)])
        summary = (await storage.write(_batch("A", 8, value="x" * 3_000))).unwrap()
        assert summary.contents == 8
        too_big = _batch("B", 8)
        too_big[3] = ContentRecord("calc", "g", "B3", "y" * 10_000, Stamp(5, "n"))
        error = (await storage.write(too_big)).failure()
        assert error.code is ErrorCode.LIMIT_EXCEEDED and "'B3'" in error.message
    kinds = _kinds(store_dir / "log")
    assert CONTENTS not in kinds and kinds.count(CONTENT) == 8
    async with open_fs_storage(store_url) as storage:
        loaded = (await storage.load_contents("calc")).unwrap()
    assert [c.contact for c in loaded] == [f"A{i}" for i in range(8)]


@given(
    st.binary(max_size=200) | st.builds(_payload, st.binary(max_size=80), st.binary(max_size=40))
)
def test_any_contents_payload_decodes_or_is_an_entry_error(payload: bytes) -> None:
    try:
        entries = decode_contents(payload)
    except EntryError:
        return
    for entry in entries:
        assert type(entry.value) is bytes and 0 <= entry.hlc < 2**63


_column_lists = st.lists(st.text(max_size=4), max_size=3)


@given(
    st.tuples(
        st.text(max_size=4) | st.integers(-(2**63), 2**63),
        _column_lists,
        _column_lists,
        st.lists(st.integers(-5, 2**64 - 1) | st.booleans(), max_size=3),
        _column_lists,
        st.lists(st.integers(-3, 5), max_size=3),
    ),
    st.binary(max_size=12),
)
def test_well_formed_json_columns_that_disagree_are_entry_errors(
    columns: tuple[Any, ...], values: bytes
) -> None:
    payload = _payload(orjson.dumps(list(columns)), values)
    try:
        entries = decode_contents(payload)
    except EntryError:
        return
    assert len(entries) == len(columns[2])
    assert b"".join(e.value for e in entries) == values
