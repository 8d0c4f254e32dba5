"""What :func:`read_frame` says about each way a frame can be missing, torn or wrong.

Every answer is exact: the offset, the reason a reader shows, and whether the data merely
ends too early (a torn write, which recovery truncates) or is wrong (which it reports).
"""

from __future__ import annotations

from bassline_storage_fs.entries import COMMIT, HEADER
from bassline_storage_fs.frames import (
    HEADER_SIZE,
    MAGIC,
    Frame,
    FrameError,
    frame,
    frame_header,
    read_frame,
)

PAYLOAD = b'{"version":2}'


def test_the_header_is_the_frame_without_its_payload() -> None:
    assert HEADER_SIZE == 12
    assert MAGIC == b"\xb1\x5e"
    assert frame_header(HEADER, PAYLOAD) == frame(HEADER, PAYLOAD)[:HEADER_SIZE]
    assert frame_header(COMMIT, b"") == frame(COMMIT, b"")


def test_frames_are_read_at_their_offset_and_say_where_the_next_one_starts() -> None:
    first, second = frame(HEADER, PAYLOAD), frame(COMMIT, b"")
    data = b"junk" + first + second
    assert read_frame(data, 4) == Frame(4, HEADER, PAYLOAD, 4 + len(first))
    assert read_frame(data, 4 + len(first)) == Frame(4 + len(first), COMMIT, b"", len(data))


def test_a_frame_that_exactly_fills_the_data_is_whole() -> None:
    assert read_frame(frame(COMMIT, b""), 0) == Frame(0, COMMIT, b"", HEADER_SIZE)
    built = frame(HEADER, PAYLOAD)
    assert read_frame(built, 0) == Frame(0, HEADER, PAYLOAD, len(built))


def test_a_torn_header_is_incomplete_and_says_how_many_bytes_there_are() -> None:
    built = frame(HEADER, PAYLOAD)
    for available in range(HEADER_SIZE):
        data = b"xy" + built[:available]
        assert read_frame(data, 2) == FrameError(
            2, f"incomplete frame header ({available} bytes)", True
        )


def test_a_torn_payload_is_incomplete_and_says_how_far_it_falls_short() -> None:
    built = b"ab" + frame(HEADER, PAYLOAD)
    assert read_frame(built[:-3], 2) == FrameError(
        2, "frame of 13 bytes runs 3 bytes past the end", True
    )
    assert read_frame(built[:-1], 2) == FrameError(
        2, "frame of 13 bytes runs 1 bytes past the end", True
    )


def test_bytes_that_are_not_a_frame_are_wrong_not_incomplete() -> None:
    data = b"ab" + b"\0" * 20
    assert read_frame(data, 2) == FrameError(2, "no frame marker (bytes are not a record)", False)
    damaged = bytearray(b"ab" + frame(HEADER, PAYLOAD))
    damaged[-1] ^= 1
    assert read_frame(bytes(damaged), 2) == FrameError(2, "checksum mismatch", False)
