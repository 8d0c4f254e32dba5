"""Checks every backend applies before touching its store: ids, contents, batch shape."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from bassline.clock import Stamp, is_stamp_node
from bassline.codec import encode
from bassline.errors import ContentError
from bassline.spec import Bassline, GroupSpec, WireSpec
from bassline.storage.errors import ErrorCode, StorageError
from bassline.storage.fastpath import ContentColumns, fast_contents
from bassline.storage.justification import justification_problem, justifications_ok
from bassline.storage.records import (
    ContentRecord,
    GroupRecord,
    NetworkRecord,
    WireRecord,
)

__all__ = [
    "MAX_STORAGE_ID_LENGTH",
    "NormalisedBatch",
    "as_record_list",
    "check_group",
    "check_id",
    "check_label",
    "check_record",
    "check_spec",
    "check_stamp",
    "check_wire",
    "encode_content",
    "invalid",
    "normalise_batch",
    "normalise_fast",
]

MAX_STORAGE_ID_LENGTH = 512
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


def check_id(kind: str, value: Any) -> StorageError | None:
    """None if ``value`` is an acceptable id; else an INVALID error saying why.

    Any non-empty string up to 512 characters without control characters is accepted:
    ``/``, ``..``, spaces and non-ASCII are fine (backends must store them safely).
    """
    if not isinstance(value, str):
        return StorageError(
            ErrorCode.INVALID, f"{kind} id must be a string, got {type(value).__name__}"
        )
    if not value:
        return StorageError(ErrorCode.INVALID, f"{kind} id must not be empty")
    if len(value) > MAX_STORAGE_ID_LENGTH:
        return StorageError(
            ErrorCode.INVALID,
            f"{kind} id is {len(value)} characters long (at most {MAX_STORAGE_ID_LENGTH})",
        )
    m = _FORBIDDEN.search(value)
    if m:
        return StorageError(
            ErrorCode.INVALID, f"{kind} id {value!r} contains control character {m.group()!r}"
        )
    return None


def invalid(message: str) -> StorageError:
    """An INVALID (permanent) error: the request itself is malformed."""
    return StorageError(ErrorCode.INVALID, message, transient=False)


_MAX_HLC = 2**63 - 1


_NODE_PROBLEM = (
    "stamp node {!r:.80} is no node id (1 to 200 characters without control characters or "
    "lone surrogates; '' for a spec's contents): no peer would take a value stamped so"
)


def check_stamp(stamp: Any, where: str) -> StorageError | None:
    """None if ``stamp`` is a Stamp with an integer hlc in [0, 2**63) and a node that can
    stamp a value (:func:`~bassline.clock.is_stamp_node`: a node id, or ``""``)."""
    if not isinstance(stamp, Stamp):
        return invalid(f"{where}: stamp must be a Stamp(hlc, node), got {type(stamp).__name__}")
    if type(stamp.hlc) is not int or not 0 <= stamp.hlc <= _MAX_HLC:
        return invalid(f"{where}: stamp hlc must be an integer in [0, 2**63), got {stamp.hlc!r}")
    if not isinstance(stamp.node, str):
        return invalid(f"{where}: stamp node must be a string, got {type(stamp.node).__name__}")
    if not is_stamp_node(stamp.node):
        return invalid(f"{where}: {_NODE_PROBLEM.format(stamp.node)}")
    return None


def check_group(network: str, group: Any) -> StorageError | None:
    """None if ``group`` is a GroupSpec with valid ids."""
    if not isinstance(group, GroupSpec):
        return invalid(f"group of network {network!r}: expected a GroupSpec, got {group!r}")
    err = check_id("group", group.id)
    if err is None and group.parent is not None:
        err = check_id("parent group", group.parent)
    return err


def check_wire(network: str, wire: Any) -> StorageError | None:
    """None if ``wire`` is a WireSpec with valid ids."""
    if not isinstance(wire, WireSpec):
        return invalid(f"wire of network {network!r}: expected a WireSpec, got {wire!r}")
    return (
        check_id("wire", wire.id)
        or check_id("wire source contact", wire.source)
        or check_id("wire target contact", wire.target)
    )


def check_spec(spec: Any) -> StorageError | None:
    """None if ``spec`` is a Bassline whose every id is a valid storage id."""
    if not isinstance(spec, Bassline):
        return invalid(f"expected a Bassline spec, got {type(spec).__name__}")
    errors = [
        check_id("network", spec.id),
        *(check_group(spec.id, g) for g in spec.groups),
        *(check_id("contact", c.id) for c in spec.contacts),
        *(check_wire(spec.id, w) for w in spec.wires),
    ]
    return next((e for e in errors if e is not None), None)


def encode_content(record: ContentRecord) -> bytes | StorageError:
    """Canonical JSON of a content record's value, or a SERIALIZATION error naming the contact."""
    try:
        return encode(record.value)
    except ContentError as exc:
        return StorageError(
            ErrorCode.SERIALIZATION,
            f"content of contact {record.contact!r} in network {record.network!r} cannot be encoded: {exc}",
        )


@attrs.frozen
class NormalisedBatch:
    """A batch split by kind, in write order, with duplicate keys collapsed."""

    networks: tuple[NetworkRecord, ...]
    groups: tuple[GroupRecord, ...]
    wires: tuple[WireRecord, ...]
    contents: tuple[ContentRecord, ...]
    encoded: tuple[bytes, ...]
    """Canonical JSON of each content value, aligned with ``contents``."""
    columns: ContentColumns | None = None
    """The contents as parallel columns, when the batch took the fast path (content
    records only, each contact once): backends may use them to skip per-record work."""


_MAX_LABEL = 4096


def check_label(label: Any) -> StorageError | None:
    """None if ``label`` is None or valid Unicode text of at most 4096 characters without
    control characters (U+0000-U+001F, U+007F), as ids: a label names a snapshot on one
    line of a listing, where a newline would split it and an escape drive the terminal."""
    if label is None:
        return None
    if not isinstance(label, str):
        return invalid(f"snapshot label must be a string or None, got {type(label).__name__}")
    if len(label) > _MAX_LABEL:
        return invalid(f"snapshot label is {len(label)} characters long (at most {_MAX_LABEL})")
    if m := _FORBIDDEN.search(label):
        return invalid(f"snapshot label {label!r:.100} contains control character {m.group()!r}")
    try:
        label.encode("utf-8")
    except UnicodeEncodeError as exc:
        return invalid(f"snapshot label {label!r} is not valid Unicode ({exc.reason})")
    return None


def _shape_problem(record: Any) -> str | None:
    """Why a record's fields have the wrong types, if they do."""
    if isinstance(record, NetworkRecord) and not isinstance(record.spec, Bassline):
        return "NetworkRecord.spec must be a Bassline"
    if isinstance(record, GroupRecord) and not isinstance(record.group, GroupSpec):
        return "GroupRecord.group must be a GroupSpec"
    if isinstance(record, WireRecord) and not isinstance(record.wire, WireSpec):
        return "WireRecord.wire must be a WireSpec"
    if isinstance(record, ContentRecord) and check_stamp(record.stamp, "") is not None:
        stamp = record.stamp
        if (
            type(stamp) is Stamp
            and type(stamp.hlc) is int
            and 0 <= stamp.hlc <= _MAX_HLC
            and type(stamp.node) is str
        ):
            return f"ContentRecord.{_NODE_PROBLEM.format(stamp.node)}"
        return (
            "ContentRecord.stamp must be a Stamp(hlc in [0, 2**63), node: str), "
            f"got {record.stamp!r}"
        )
    return None


def check_record(n: int, record: Any) -> StorageError | None:
    """None if ``record`` (the ``n``-th of its batch) is a well-formed storage record:
    the right types, valid ids (every id of a spec), a stamp within a 64-bit clock."""
    if type(record) is ContentRecord:  # by far the most common: checked inline first
        stamp = record.stamp
        if (
            type(stamp) is Stamp
            and type(stamp.hlc) is int
            and 0 <= stamp.hlc <= _MAX_HLC
            and is_stamp_node(stamp.node)
            and (record.justification is None or justifications_ok((record.justification,)))
        ):
            return None
    shape = _shape_problem(record)
    if shape:
        return invalid(f"record {n}: {shape}")
    if isinstance(record, ContentRecord):
        if problem := justification_problem(record.justification):
            return invalid(f"record {n}: ContentRecord.justification {problem}")
        return None
    if isinstance(record, NetworkRecord):
        return check_spec(record.spec)
    if isinstance(record, GroupRecord):
        return check_id("network", record.network) or check_group(record.network, record.group)
    if isinstance(record, WireRecord):
        return check_id("network", record.network) or check_wire(record.network, record.wire)
    return invalid(f"record {n} is a {type(record).__name__}, not a storage record")


def _newer(a: Stamp, b: Stamp) -> bool:
    return a >= b


def normalise_batch(batch: Iterable[Any]) -> NormalisedBatch | StorageError:
    """Validate a batch and order it networks -> groups -> wires -> contents.

    Every record is checked in full (:func:`check_record`: types, every id, stamps).
    Later network/group/wire records with the same key replace earlier ones; content
    records for the same (network, contact) collapse to the one with the highest stamp
    (the later one on a tie). Returns an INVALID/SERIALIZATION error for a bad record.
    """
    records = as_record_list(batch)
    if isinstance(records, StorageError):
        return records
    return normalise_fast(records) or _normalise_each(records)


def as_record_list(batch: Any) -> list[Any] | StorageError:
    """The batch as a list, or INVALID if it is not a sequence of records."""
    if isinstance(batch, str | bytes | dict) or not isinstance(batch, Iterable):
        return invalid(f"a batch must be a sequence of records, got {type(batch).__name__}")
    try:
        return list(batch)
    except TypeError as exc:
        return invalid(f"a batch must be a sequence of records: {exc}")


def normalise_fast(records: list[Any]) -> NormalisedBatch | None:
    """What :func:`normalise_batch` gives for a simple batch (content records only, each
    contact once, plain JSON values), checked a column at a time; None for any other."""
    fast = fast_contents(records)
    if fast is None:
        return None
    contents, columns = fast
    return NormalisedBatch((), (), (), contents, tuple(columns.encoded), columns)


def _normalise_each(records: list[Any]) -> NormalisedBatch | StorageError:
    """:func:`normalise_batch` one record at a time (every batch, every error)."""
    networks: dict[str, NetworkRecord] = {}
    groups: dict[tuple[str, str], GroupRecord] = {}
    wires: dict[tuple[str, str], WireRecord] = {}
    contents: dict[tuple[str, str], tuple[ContentRecord, bytes]] = {}
    checked_networks: set[str] = set()
    checked_groups: set[str] = set()
    for n, record in enumerate(records):
        if err := check_record(n, record):
            return err
        if isinstance(record, NetworkRecord):
            networks[record.spec.id] = record
        elif isinstance(record, GroupRecord):
            groups[(record.network, record.group.id)] = record
        elif isinstance(record, WireRecord):
            wires[(record.network, record.wire.id)] = record
        else:
            # a batch names few networks and groups: check each distinct one once
            net, grp = record.network, record.group
            if type(net) is not str or net not in checked_networks:
                if err := check_id("network", net):
                    return err
                checked_networks.add(net)
            if type(grp) is not str or grp not in checked_groups:
                if err := check_id("group", grp):
                    return err
                checked_groups.add(grp)
            if err := check_id("contact", record.contact):
                return err
            encoded = encode_content(record)
            if isinstance(encoded, StorageError):
                return encoded
            key = (record.network, record.contact)
            prev = contents.get(key)
            if prev is None or _newer(record.stamp, prev[0].stamp):
                contents[key] = (record, encoded)
    return NormalisedBatch(
        networks=tuple(networks.values()),
        groups=tuple(groups.values()),
        wires=tuple(wires.values()),
        contents=tuple(r for r, _ in contents.values()),
        encoded=tuple(e for _, e in contents.values()),
    )
