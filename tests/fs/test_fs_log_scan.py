"""The log scan and its damage counts, record by record.

Logs are built from frames by hand, so each count (commit markers, later batches,
contents of discarded records) and each refusal is exact.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bassline_storage_fs.entries import (
    COMMIT,
    CONTENTS,
    END,
    commit_frame,
    content_frame,
    contents_frame,
    header_frame,
    spec_frame,
)
from bassline_storage_fs.frames import Frame, frame, read_frame
from bassline_storage_fs.fsutil import StoreReplaced
from bassline_storage_fs.logfile import (
    LOG_FORMAT,
    LogCorrupt,
    LogFile,
    LogVersionUnsupported,
    count_commits,
    count_contents,
    cut_for,
    readable_frames,
    scan_log,
)
from bassline_storage_fs.oserrors import from_os_error
from bassline_storage_fs.recovery import LogCut, RecoveryReport

from bassline.storage import ErrorCode

HEAD = header_frame({"format": LOG_FORMAT, "version": 2, "first_seq": 1})
CONTENT = content_frame(b"net", b"g", b"c", 5, b"n", b"1")


def damaged(built: bytes) -> bytes:
    """``built`` with the last byte of its payload flipped (a checksum mismatch)."""
    return built[:-1] + bytes([built[-1] ^ 1])


def only(built: bytes) -> Frame:
    found = read_frame(built, 0)
    assert isinstance(found, Frame)
    return found


def test_count_commits_counts_every_valid_marker_wherever_it_is() -> None:
    assert count_commits(commit_frame(1, 0)) == 1  # a marker at the very start counts
    data = commit_frame(1, 0) + b"junk" + commit_frame(2, 1) + frame(COMMIT, b"bad") + CONTENT
    assert count_commits(data) == 2  # a marker whose payload does not decode does not
    assert count_commits(HEAD + CONTENT) == 0


def test_damage_followed_by_later_batches_counts_each_of_them() -> None:
    data = HEAD + CONTENT + commit_frame(1, 1) + damaged(CONTENT)
    # batch 2 holds the damage (its marker may be part of the same torn write); batches
    # 3, 4 and 5 were acknowledged after it
    for seq in (2, 3, 4, 5):
        data += CONTENT + frame(COMMIT, b"bad") + commit_frame(seq, 1)
    scan = scan_log(data)
    assert scan.next_seq == 2 and len(scan.batches) == 1
    assert scan.problem is not None and scan.problem.startswith("checksum mismatch at byte")
    assert scan.later_commits == 3


def test_a_torn_tail_has_no_later_commits() -> None:
    good = HEAD + CONTENT + commit_frame(1, 1)
    scan = scan_log(good + CONTENT + damaged(commit_frame(2, 1)))
    assert scan.good_end == len(good) and scan.later_commits == 0
    assert scan.uncommitted == 1


def test_readable_frames_looks_past_damage_for_every_intact_frame() -> None:
    data = b"xx" + CONTENT + damaged(CONTENT) + b"\xb1" + commit_frame(1, 1)
    found = readable_frames(data, 0)
    assert [f.offset for f in found] == [2, 2 + 2 * len(CONTENT) + 1]
    assert readable_frames(data, 3) == found[1:]


def test_count_contents_adds_content_and_contents_records_and_skips_the_rest() -> None:
    three = contents_frame("net", ["g"] * 3, ["a", "b", "c"], [1, 2, 3], ["n"] * 3, [b"1"] * 3)
    assert three is not None
    frames = [
        only(CONTENT),
        only(three),
        only(frame(CONTENTS, b"\0")),  # does not decode: counts for nothing
        only(spec_frame("net", b"{}")),
        only(commit_frame(1, 3)),
    ]
    assert count_contents(frames) == 1 + 3
    assert count_contents(frames[1:]) == 3
    assert count_contents([]) == 0


def test_an_unusable_header_is_corruption_with_its_reason() -> None:
    with pytest.raises(LogCorrupt) as refused:
        scan_log(b"nonsense")
    reason = "log header unreadable (incomplete frame header (8 bytes))"
    assert str(refused.value) == reason and refused.value.message == reason


def test_a_newer_log_version_is_refused_and_named() -> None:
    newer = header_frame({"format": LOG_FORMAT, "version": 4, "first_seq": 1})
    with pytest.raises(LogVersionUnsupported) as refused:
        scan_log(newer)
    assert refused.value.version == 4
    assert str(refused.value) == (
        "log format version 4 is not supported (this reads versions 1, 2, 3)"
    )


def test_a_torn_tail_found_read_only_says_how_it_would_be_cut() -> None:
    cut = LogCut(offset=10, bytes=1, reason="checksum mismatch at byte 10", records=1, cut=False)
    assert cut.describe() == (
        "found a torn tail in the log, NOT cut (opened read-only): 1 byte at offset 10: "
        "1 unfinished batch, never acknowledged, with 1 readable record holding 0 contents "
        "(checksum mismatch at byte 10); opening the store for writing cuts it, "
        "`bassline storage repair` cuts it and keeps the bytes"
    )


def test_a_log_held_read_only_keeps_its_position_and_version(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(HEAD)
    log = LogFile.read_only(path, len(HEAD), 7, 1)
    try:
        assert (log.size, log.next_seq, log.version) == (len(HEAD), 7, 1)
    finally:
        log.close()


def test_a_failed_append_that_cannot_be_rolled_back_breaks_the_log(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(HEAD)
    # held read-only, the append cannot write, and cutting back to the (understated)
    # committed size cannot truncate either
    log = LogFile.read_only(path, len(HEAD) - 1, 1, 2)
    try:
        with pytest.raises(OSError):
            log.append(CONTENT, 1)
        assert log.broken is not None
        assert log.broken.startswith(f"a failed write to {path} could not be rolled back (")
        assert log.broken.endswith("); reopen the storage to recover from the log")
        with pytest.raises(OSError) as refused:
            log.append(CONTENT, 1)
        assert refused.value.strerror == log.broken
        # reported as damage (CORRUPTION), not as a permission or a passing problem
        error = from_os_error(refused.value, "append to the log")
        assert (error.code, error.transient) == (ErrorCode.CORRUPTION, False)
        assert error.message == f"cannot append to the log: {log.broken} (?)"
        assert path.read_bytes() == HEAD
    finally:
        log.close()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (commit_frame(1, 0), "log does not start with a header record"),
        (
            frame(1, b"[1]"),  # the header decoder's own words
            "file header is not a JSON object",
        ),
        (
            header_frame({"format": "other", "version": 2, "first_seq": 1}),
            "log header names format 'other', not 'bassline-fs-log'",
        ),
        (
            header_frame({"format": LOG_FORMAT, "version": 2, "first_seq": 0}),
            "log header has a bad first_seq 0",
        ),
        (
            header_frame({"format": LOG_FORMAT, "version": 2, "first_seq": "1"}),
            "log header has a bad first_seq '1'",
        ),
    ],
)
def test_each_unusable_header_says_what_is_wrong(data: bytes, reason: str) -> None:
    with pytest.raises(LogCorrupt) as refused:
        scan_log(data)
    assert refused.value.message == reason


def test_an_intact_log_has_no_problem_and_nothing_to_cut() -> None:
    data = HEAD + CONTENT + commit_frame(1, 1) + CONTENT + CONTENT + commit_frame(2, 2)
    scan = scan_log(data)
    assert (scan.problem, scan.good_end, scan.next_seq, scan.later_commits) == (
        None,
        len(data),
        3,
        0,
    )
    assert [len(b) for b in scan.batches] == [1, 2]
    assert cut_for(scan, len(data)) is None


def test_records_without_their_commit_marker_are_an_unfinished_batch() -> None:
    good = HEAD + CONTENT + commit_frame(1, 1)
    scan = scan_log(good + CONTENT)
    assert scan.problem == "the last batch (1 records) has no commit marker"
    assert cut_for(scan, len(good + CONTENT)) == LogCut(
        offset=len(good),
        bytes=len(CONTENT),
        reason="the last batch (1 records) has no commit marker",
        records=1,
        contents=1,
    )


def test_bytes_beyond_what_was_scanned_are_cut_as_unexpected() -> None:
    data = HEAD + CONTENT + commit_frame(1, 1)
    cut = cut_for(scan_log(data), len(data) + 5)
    assert cut == LogCut(
        offset=len(data), bytes=5, reason="unexpected bytes after the last batch", records=0
    )


def test_a_replaced_log_file_is_named_as_the_log(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = LogFile.create(path, 1)
    try:
        size = log.size
        path.unlink()
        path.write_bytes(HEAD)
        with pytest.raises(StoreReplaced) as refused:
            log.append(CONTENT, 1)
        assert str(refused.value).startswith(f"log {path} is no longer the one this storage")
        # checked after the sync (D70): the batch reached the replaced file only, and was
        # cut back off it; the file now at the path is untouched
        assert path.read_bytes() == HEAD
        assert os.fstat(log._fd).st_size == size and log.size == size
        assert log.broken is None
    finally:
        log.close()


@pytest.mark.parametrize(
    ("tail", "problem", "later"),
    [
        (
            CONTENT + commit_frame(3, 1),
            "commit marker at byte 176 closes batch 3 of 1 records, expected batch 2 of 1",
            1,  # the marker of a later batch: acknowledged data follows the damage
        ),
        (
            CONTENT + commit_frame(2, 2),
            "commit marker at byte 176 closes batch 2 of 2 records, expected batch 2 of 1",
            0,
        ),
        (CONTENT + frame(COMMIT, b"bad"), "commit record has the wrong size at byte 176", 0),
        (frame(99, b"x"), "unknown record kind 99 at byte 133", 0),
        (frame(END, b"x"), "unknown record kind 6 at byte 133", 0),  # snapshots only
    ],
)
def test_a_scan_stops_at_the_first_wrong_record_and_says_why(
    tail: bytes, problem: str, later: int
) -> None:
    good = HEAD + CONTENT + commit_frame(1, 1)
    assert len(good) == 133
    scan = scan_log(good + tail)
    assert (scan.first_seq, scan.version, scan.next_seq, scan.good_end) == (1, 2, 2, 133)
    assert (scan.problem, scan.later_commits) == (problem, later)
    assert len(scan.batches) == 1


def test_closing_a_log_twice_closes_it_once(tmp_path: Path) -> None:
    log = LogFile.create(tmp_path / "log", 1)
    log.close()
    log.close()
    os.fstat(1)  # the second close closed nothing else
    os.fstat(2)


def test_a_recovery_report_lists_every_leftover_and_unreadable_snapshot() -> None:
    found = RecoveryReport(
        batches_replayed=2,
        log_bytes=100,
        removed=("a.tmp", "b.tmp"),
        unreadable_snapshots=("s1", "s2"),
        read_only=True,
    )
    assert found.describe() == (
        "replayed 2 batches (100 log bytes); found (not removed: read-only) 2 leftovers of "
        "interrupted work: a.tmp, b.tmp; 2 unreadable snapshot files left in place: s1, s2"
    )
    assert found.damage and not found.clean
    removed = RecoveryReport(batches_replayed=1, log_bytes=10, removed=("a.tmp",))
    assert removed.describe() == (
        "replayed 1 batches (10 log bytes); removed 1 leftover of interrupted work: a.tmp"
    )
    assert not removed.damage and not removed.clean
