"""The on-disk frame, byte by byte: its exact bytes are pinned, and damage is detected."""

from __future__ import annotations

import zlib

import pytest
from bassline_storage_fs.entries import COMMIT, HEADER
from bassline_storage_fs.frames import HEADER_SIZE, MAGIC, Frame, FrameError, frame, read_frame

PAYLOAD = b'{"version":2}'


def test_a_frames_bytes_are_pinned() -> None:
    # magic b15e | kind 01 | reserved 00 | length 13 (u32 LE) | crc32 (u32 LE) | payload
    assert frame(HEADER, PAYLOAD) == bytes.fromhex("b15e01000d000000cc559ecf") + PAYLOAD
    assert frame(COMMIT, b"") == bytes.fromhex("b15e0500000000006d78c20e")


@pytest.mark.parametrize(("kind", "payload"), [(HEADER, PAYLOAD), (COMMIT, b""), (255, b"\0" * 9)])
def test_the_checksum_covers_the_kind_the_length_and_the_payload(kind: int, payload: bytes) -> None:
    built = frame(kind, payload)
    checked = bytes([kind]) + len(payload).to_bytes(4, "little") + payload
    assert built[:4] == MAGIC + bytes([kind, 0])
    assert built[8:HEADER_SIZE] == zlib.crc32(checked).to_bytes(4, "little")
    assert read_frame(built, 0) == Frame(0, kind, payload, len(built))


@pytest.mark.parametrize("kind", [HEADER, COMMIT])
def test_a_flipped_bit_in_the_marker_kind_length_checksum_or_payload_is_detected(
    kind: int,
) -> None:
    built = frame(kind, PAYLOAD) + frame(COMMIT, b"")  # a next frame, as in a log
    reserved = 3  # written as zero, read by nothing
    for position in range(len(PAYLOAD) + HEADER_SIZE):
        if position == reserved:
            continue
        for bit in range(8):
            damaged = bytearray(built)
            damaged[position] ^= 1 << bit
            found = read_frame(bytes(damaged), 0)
            assert isinstance(found, FrameError), (position, bit, found)
            assert found.offset == 0


def test_a_flipped_kind_is_a_checksum_mismatch_not_a_frame_of_another_kind() -> None:
    damaged = bytearray(frame(HEADER, PAYLOAD))
    damaged[2] = COMMIT
    assert read_frame(bytes(damaged), 0) == FrameError(0, "checksum mismatch", False)
