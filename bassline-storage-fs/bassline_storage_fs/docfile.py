"""Whole-network files: the compacted state of a network, and snapshots.

Both are a header frame (JSON), one SPEC frame, one CONTENT frame per contact, a WHYS
frame with the contents' justifications (version 2, when any has one) and an END frame
with the count, written atomically (temporary file, sync, rename, directory sync).
Reading checks every checksum and the count, so a damaged file is never half-read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

from bassline_storage_fs.entries import (
    CONTENT,
    END,
    HEADER,
    SPEC,
    WHYS,
    EntryError,
    Whys,
    content_frame,
    decode_content,
    decode_end,
    decode_header,
    decode_spec,
    decode_whys,
    end_frame,
    header_frame,
    spec_frame,
    whys_frame,
)
from bassline_storage_fs.frames import HEADER_SIZE, Frame, FrameError, read_frame
from bassline_storage_fs.fsutil import NotRegularFile, open_regular, read_regular, write_atomic
from bassline_storage_fs.table import Content, ContentTable

__all__ = ["DOC_VERSION", "Doc", "DocError", "read_doc", "read_doc_header", "write_doc"]

DOC_VERSION = 2
"""Version 2 adds a WHYS record (the contents' justifications) before the END record;
version 1 files (no justifications) are still read."""
_READABLE_VERSIONS = (1, 2)


class DocError(Exception):
    """A state or snapshot file is damaged or not what it should be."""


@attrs.frozen
class Doc:
    """A decoded state or snapshot file."""

    header: dict[str, Any]
    network: str
    spec: bytes
    contents: ContentTable


def _u(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _chunks(
    header: dict[str, Any], network: str, spec: bytes, contents: Iterable[tuple[str, Content]]
) -> Iterator[bytes]:
    yield header_frame({**header, "version": DOC_VERSION, "network": network})
    yield spec_frame(network, spec)
    net = _u(network)
    count = 0
    whys = Whys(network, [], [], [], [])
    for contact, c in contents:
        yield content_frame(net, _u(c.group), _u(contact), c.hlc, _u(c.node), c.value)
        count += 1
        if c.why is not None:
            whys.contacts.append(contact)
            whys.hlcs.append(c.hlc)
            whys.nodes.append(c.node)
            whys.whys.append(c.why)
    if whys.contacts:
        record = whys_frame(whys)
        if record is not None:  # else an id only CONTENT records can hold: none kept
            yield record
    yield end_frame(count)


def write_doc(
    path: Path,
    header: dict[str, Any],
    network: str,
    spec: bytes,
    contents: Iterable[tuple[str, Content]],
) -> None:
    """Atomically write a state or snapshot file."""
    write_atomic(path, _chunks(header, network, spec, contents))


def _check_header(found: Frame | FrameError, fmt: str) -> dict[str, Any]:
    if isinstance(found, FrameError):
        raise DocError(f"header unreadable ({found.reason})")
    if found.kind != HEADER:
        raise DocError("file does not start with a header record")
    header = decode_header(found.payload)
    if header.get("format") != fmt:
        raise DocError(f"header names format {header.get('format')!r}, expected {fmt!r}")
    if header.get("version") not in _READABLE_VERSIONS:
        raise DocError(f"format version {header.get('version')!r} is not supported")
    if not isinstance(header.get("network"), str):
        raise DocError("header does not name its network")
    return header


def read_doc_header(path: Path, fmt: str) -> dict[str, Any]:
    """Just the header of a state or snapshot file (cheap: reads its first frame)."""
    try:
        f = open_regular(path)
    except NotRegularFile as exc:  # a pipe was waited on, /dev/zero read, for ever
        raise DocError(str(exc)) from None
    with f:
        head = f.read(HEADER_SIZE)
        size = int.from_bytes(head[4:8], "little") if len(head) == HEADER_SIZE else 0
        data = head + f.read(min(size, 1 << 20))
    try:
        return _check_header(read_frame(data, 0), fmt)
    except EntryError as exc:
        raise DocError(str(exc)) from None


def read_doc(path: Path, fmt: str) -> Doc:
    """A whole state or snapshot file, every checksum verified; DocError if damaged."""
    try:
        data = read_regular(path)
    except NotRegularFile as exc:
        raise DocError(str(exc)) from None
    try:
        return _parse(data, fmt)
    except EntryError as exc:
        raise DocError(str(exc)) from None


def _parse(data: bytes, fmt: str) -> Doc:
    first = read_frame(data, 0)
    header = _check_header(first, fmt)
    assert isinstance(first, Frame)
    found = read_frame(data, first.end)
    if isinstance(found, FrameError) or found.kind != SPEC:
        raise DocError("spec record missing or damaged")
    network, spec = decode_spec(found.payload)
    if network != header["network"]:
        raise DocError("spec record names another network than the header")
    contents = ContentTable()
    pos = found.end
    while True:
        found = read_frame(data, pos)
        if isinstance(found, FrameError):
            raise DocError(f"{found.reason} at byte {found.offset}")
        if found.kind == END:
            if decode_end(found.payload) != len(contents) or found.end != len(data):
                raise DocError("content count or file length does not match the end record")
            return Doc(header, network, spec, contents)
        if found.kind == WHYS and header["version"] >= 2:
            whys = decode_whys(found.payload)
            if whys.network != network:
                raise DocError(f"justifications record at byte {pos} names another network")
            contents.set_whys(whys.contacts, whys.hlcs, whys.nodes, whys.whys)
            pos = found.end
            continue
        if found.kind != CONTENT:
            raise DocError(f"unexpected record kind {found.kind} at byte {pos}")
        entry = decode_content(found.payload)
        if entry.network != network:
            raise DocError(f"content record at byte {pos} names another network")
        contents[entry.contact] = Content(entry.group, entry.hlc, entry.node, entry.value)
        pos = found.end
