"""What the frames hold: the record kinds and their binary payloads.

Ids and stamp nodes are stored as length-prefixed UTF-8 (lone surrogates pass through,
so every Python string round-trips exactly); content values are the canonical JSON
bytes from :func:`bassline.codec.encode`, stored as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, NamedTuple

import orjson

from bassline_storage_fs.frames import frame, frame_header

__all__ = [
    "COMMIT",
    "CONTENT",
    "CONTENTS",
    "DELETE",
    "END",
    "HEADER",
    "SPEC",
    "WHYS",
    "ContentEntry",
    "EntryError",
    "Whys",
    "commit_frame",
    "content_frame",
    "contents_frame",
    "decode_commit",
    "decode_content",
    "decode_contents",
    "decode_end",
    "decode_header",
    "decode_network",
    "decode_spec",
    "decode_whys",
    "delete_frame",
    "end_frame",
    "header_frame",
    "spec_frame",
    "whys_frame",
]

HEADER = 1
"""A file's first frame: JSON saying what the file is."""
SPEC = 2
"""Set a network's spec (creating the network): network id + canonical spec JSON."""
DELETE = 3
"""Delete a network with everything it holds."""
CONTENT = 4
"""One contact's content with its stamp."""
COMMIT = 5
"""Ends a batch in the log: its sequence number and how many records it holds."""
END = 6
"""Ends a state or snapshot file: how many content records it holds."""
CONTENTS = 7
"""Many contents of one network in columns (log version 2): what a batch writes."""
WHYS = 8
"""The justifications of contents of one network stored just before it, in the same
batch or file (log version 3, state and snapshot files version 2)."""

_CONTENT = struct.Struct("<IIIIQ")
_COMMIT = struct.Struct("<QI")
_COUNT = struct.Struct("<I")
_LEN = struct.Struct("<I")


class EntryError(ValueError):
    """A frame's payload does not decode as the record its kind promises."""


class ContentEntry(NamedTuple):
    """A decoded content record."""

    network: str
    group: str
    contact: str
    hlc: int
    node: str
    value: bytes


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise EntryError(f"id is not UTF-8: {exc}") from None


def header_frame(data: dict[str, Any]) -> bytes:
    """A file header frame."""
    return frame(HEADER, orjson.dumps(data, option=orjson.OPT_SORT_KEYS))


def decode_header(payload: bytes) -> dict[str, Any]:
    """A file header's fields."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EntryError(f"file header is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EntryError("file header is not a JSON object")
    return data


def spec_frame(network: str, spec: bytes) -> bytes:
    """Set ``network``'s spec to the canonical JSON ``spec``."""
    name = _utf8(network)
    return frame(SPEC, _LEN.pack(len(name)) + name + spec)


def decode_spec(payload: bytes) -> tuple[str, bytes]:
    """``(network, spec JSON)`` of a SPEC frame."""
    if len(payload) < _LEN.size:
        raise EntryError("spec record too short")
    (size,) = _LEN.unpack_from(payload)
    end = _LEN.size + size
    if end > len(payload):
        raise EntryError("spec record id runs past its end")
    return _text(payload[_LEN.size : end]), payload[end:]


def delete_frame(network: str) -> bytes:
    """Delete ``network``."""
    return frame(DELETE, _utf8(network))


def decode_network(payload: bytes) -> str:
    """The network id of a DELETE frame."""
    return _text(payload)


def content_frame(
    network: bytes, group: bytes, contact: bytes, hlc: int, node: bytes, value: bytes
) -> bytes:
    """One content record; the ids and node are already UTF-8 encoded."""
    body = b"".join(
        (
            _CONTENT.pack(len(network), len(group), len(contact), len(node), hlc),
            network,
            group,
            contact,
            node,
            value,
        )
    )
    return frame_header(CONTENT, body) + body


def decode_content(payload: bytes) -> ContentEntry:
    """A CONTENT frame's record."""
    if len(payload) < _CONTENT.size:
        raise EntryError("content record too short")
    a, b, c, d, hlc = _CONTENT.unpack_from(payload)
    i = _CONTENT.size
    j, k, m, n = i + a, i + a + b, i + a + b + c, i + a + b + c + d
    if n > len(payload):
        raise EntryError("content record ids run past its end")
    return ContentEntry(
        _text(payload[i:j]),
        _text(payload[j:k]),
        _text(payload[k:m]),
        hlc,
        _text(payload[m:n]),
        payload[n:],
    )


def contents_frame(
    network: str,
    groups: Sequence[str],
    contacts: Sequence[str],
    hlcs: Sequence[int],
    nodes: Sequence[str],
    values: list[bytes],
) -> bytes | None:
    """Contents of one network as columns; None if an id is not valid UTF-8 (a lone
    surrogate), which only per-record CONTENT frames can hold.

    The payload is the JSON list ``[network, groups, contacts, hlcs, nodes, sizes]``
    (its length first, as a u32) followed by the canonical JSON values back to back,
    ``sizes`` giving each value's length.
    """
    try:
        columns = orjson.dumps([network, groups, contacts, hlcs, nodes, list(map(len, values))])
    except TypeError:
        return None
    return frame(CONTENTS, b"".join((_LEN.pack(len(columns)), columns, *values)))


def _strings(column: Any, size: int) -> bool:
    return type(column) is list and len(column) == size and set(map(type, column)) <= {str}


def decode_contents(payload: bytes) -> list[ContentEntry]:
    """A CONTENTS frame's records, in order."""
    if len(payload) < _LEN.size:
        raise EntryError("contents record too short")
    (size,) = _LEN.unpack_from(payload)
    start = _LEN.size + size
    if start > len(payload):
        raise EntryError("contents record columns run past its end")
    try:
        columns = orjson.loads(payload[_LEN.size : start])
    except orjson.JSONDecodeError as exc:
        raise EntryError(f"contents record columns are not JSON: {exc}") from None
    if type(columns) is not list or len(columns) != 6:
        raise EntryError("contents record columns are not a list of six")
    network, groups, contacts, hlcs, nodes, sizes = columns
    n = len(contacts) if type(contacts) is list else -1
    if not (
        type(network) is str
        and _strings(groups, n)
        and _strings(contacts, n)
        and _strings(nodes, n)
        and type(hlcs) is list
        and len(hlcs) == n
        and set(map(type, hlcs)) <= {int}
        and type(sizes) is list
        and len(sizes) == n
        and set(map(type, sizes)) <= {int}
        and all(s >= 0 for s in sizes)
        and all(0 <= h < 2**63 for h in hlcs)
    ):
        raise EntryError("contents record columns are malformed")
    if start + sum(sizes) != len(payload):
        raise EntryError("contents record values do not add up to its length")
    ends = list(accumulate(sizes, initial=start))
    return [
        ContentEntry(network, group, contact, hlc, node, payload[a:b])
        for group, contact, hlc, node, a, b in zip(
            groups, contacts, hlcs, nodes, ends, ends[1:], strict=False
        )
    ]


class Whys(NamedTuple):
    """A decoded WHYS record: each content's justification, with the stamp it goes with."""

    network: str
    contacts: list[str]
    hlcs: list[int]
    nodes: list[str]
    whys: list[str]


def whys_frame(whys: Whys) -> bytes | None:
    """The justification texts of contents of one network stored just before it: the
    JSON list ``[network, contacts, hlcs, nodes, whys]`` (a justification applies only
    while its contact holds the content of that stamp); None if an id is not UTF-8."""
    try:
        return frame(WHYS, orjson.dumps(list(whys)))
    except TypeError:
        return None


def decode_whys(payload: bytes) -> Whys:
    """A WHYS frame's justifications."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EntryError(f"justifications record is not JSON: {exc}") from None
    if not (type(data) is list and len(data) == 5 and type(data[0]) is str):
        raise EntryError("justifications record is not [network, contacts, hlcs, nodes, whys]")
    _, contacts, hlcs, nodes, whys = data
    n = len(contacts) if type(contacts) is list else -1
    if not (
        _strings(contacts, n)
        and _strings(nodes, n)
        and _strings(whys, n)
        and type(hlcs) is list
        and len(hlcs) == n
        and set(map(type, hlcs)) <= {int}
    ):
        raise EntryError("justifications record columns are malformed")
    return Whys(*data)


def commit_frame(seq: int, count: int) -> bytes:
    """The marker that commits batch ``seq`` of ``count`` records."""
    return frame(COMMIT, _COMMIT.pack(seq, count))


def decode_commit(payload: bytes) -> tuple[int, int]:
    """``(seq, count)`` of a COMMIT frame."""
    if len(payload) != _COMMIT.size:
        raise EntryError("commit record has the wrong size")
    seq, count = _COMMIT.unpack(payload)
    return int(seq), int(count)


def end_frame(count: int) -> bytes:
    """The last frame of a state or snapshot file holding ``count`` contents."""
    return frame(END, _COUNT.pack(count))


def decode_end(payload: bytes) -> int:
    """The content count of an END frame."""
    if len(payload) != _COUNT.size:
        raise EntryError("end record has the wrong size")
    return int(_COUNT.unpack(payload)[0])
