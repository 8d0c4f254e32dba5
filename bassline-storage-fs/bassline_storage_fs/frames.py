"""The on-disk frame: a length-prefixed, checksummed record.

Every file the backend writes (the log, network state files, snapshot files) is a
sequence of frames::

    magic (2 bytes) | kind (1) | reserved (1) | length (u32 LE) | crc32 (u32 LE) | payload

The CRC-32 covers the kind, the length and the payload, so a flipped bit anywhere in a
frame (including its length) is detected, except in the reserved byte: it is written as
zero and read by nothing. :func:`read_frame` never raises: it reports a
damaged or incomplete frame as a :class:`FrameError` saying where and why.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

__all__ = ["HEADER_SIZE", "MAGIC", "Frame", "FrameError", "frame", "frame_header", "read_frame"]

MAGIC = b"\xb1\x5e"
_HEADER = struct.Struct("<2sBxII")
_CHECKED = struct.Struct("<BI")
HEADER_SIZE = _HEADER.size
_pack = _HEADER.pack
_pack_checked = _CHECKED.pack
_crc = zlib.crc32


class Frame(NamedTuple):
    """A valid frame found at ``offset``; the next one starts at ``end``."""

    offset: int
    kind: int
    payload: bytes
    end: int


class FrameError(NamedTuple):
    """Why no valid frame starts at ``offset``."""

    offset: int
    reason: str
    incomplete: bool
    """True when the data simply ends too early (a torn write), not when it is wrong."""


def frame_header(kind: int, payload: bytes) -> bytes:
    """The 12 header bytes of a frame of ``kind`` around ``payload``."""
    size = len(payload)
    return _pack(MAGIC, kind, size, _crc(payload, _crc(_pack_checked(kind, size))))


def frame(kind: int, payload: bytes) -> bytes:
    """Encode one frame of ``kind`` around ``payload``."""
    return frame_header(kind, payload) + payload


def read_frame(data: bytes, offset: int) -> Frame | FrameError:
    """The frame starting at ``offset`` of ``data``, or why there is none."""
    available = len(data) - offset
    if available < HEADER_SIZE:
        return FrameError(offset, f"incomplete frame header ({available} bytes)", True)
    magic, kind, size, crc = _HEADER.unpack_from(data, offset)
    if magic != MAGIC:
        return FrameError(offset, "no frame marker (bytes are not a record)", False)
    start = offset + HEADER_SIZE
    end = start + size
    if end > len(data):
        return FrameError(
            offset, f"frame of {size} bytes runs {end - len(data)} bytes past the end", True
        )
    payload = data[start:end]
    if zlib.crc32(payload, zlib.crc32(_CHECKED.pack(kind, size))) != crc:
        return FrameError(offset, "checksum mismatch", False)
    return Frame(offset, kind, payload, end)
