"""Validating a batch and turning it into column arrays, before any connection is taken.

Validation is :func:`bassline.storage.validation.normalise_batch` (so every backend
agrees on ids, duplicates and encodings) plus what storage must refuse on top: stamps
outside a signed 64-bit clock, specs and groups that do not encode. Batches of content
records alone first try :func:`~bassline_storage_postgres.fastpath.fast_contents`,
which gives the same result faster or defers to this general path. The result holds
everything the SQL needs as parallel lists, ready for ``unnest``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import orjson

from bassline.errors import ContentError
from bassline.spec import Bassline, GroupSpec, WireSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupRecord,
    NetworkRecord,
    StorageError,
    WireRecord,
)
from bassline.storage.validation import check_id, check_stamp, normalise_batch
from bassline_storage_postgres.columns import ContentColumns
from bassline_storage_postgres.documents import encode_group, encode_spec, search_document
from bassline_storage_postgres.fastpath import column_contents, fast_contents

__all__ = [
    "ContentColumns",
    "GroupRow",
    "PreparedBatch",
    "WireRow",
    "batch_records",
    "check_stamp",
    "prepare_batch",
]


def _invalid(message: str) -> StorageError:
    return StorageError(ErrorCode.INVALID, message, transient=False)


def _unencodable(what: str, exc: Exception) -> StorageError:
    return StorageError(
        ErrorCode.SERIALIZATION, f"{what} cannot be encoded: {exc}", transient=False, cause=exc
    )


@attrs.frozen
class GroupRow:
    """One group as stored: its body and search document, both as JSON bytes."""

    network: str
    group: str
    body: bytes
    search: bytes


@attrs.frozen
class WireRow:
    """One wire as stored."""

    network: str
    wire: str
    source: str
    target: str
    type: str


@attrs.frozen
class PreparedBatch:
    """A validated batch, ready to write in one transaction."""

    specs: tuple[tuple[str, bytes], ...]
    """(network id, canonical spec JSON) per NetworkRecord."""
    replaced: tuple[str, ...]
    """Networks whose groups and wires a NetworkRecord replaces."""
    groups: tuple[GroupRow, ...]
    wires: tuple[WireRow, ...]
    contents: ContentColumns
    group_records: int
    wire_records: int
    references: tuple[tuple[str, str | None, str], ...]
    """(network, group or None, what refers to it) that must already exist in storage."""

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to write."""
        return not (self.specs or self.groups or self.wires or len(self.contents))

    @property
    def networks(self) -> int:
        """How many NetworkRecords the batch holds."""
        return len(self.specs)


def _check_shape(n: int, record: Any) -> StorageError | None:
    """What ``normalise_batch`` leaves through: wrongly typed parts, out-of-range stamps."""
    if isinstance(record, NetworkRecord) and not isinstance(record.spec, Bassline):
        return _invalid(
            f"record {n}: a NetworkRecord holds a {type(record.spec).__name__}, not a Bassline"
        )
    if isinstance(record, GroupRecord) and not isinstance(record.group, GroupSpec):
        return _invalid(
            f"record {n}: a GroupRecord for network {record.network!r} holds a "
            f"{type(record.group).__name__}, not a GroupSpec"
        )
    if isinstance(record, ContentRecord):
        return check_stamp(record.stamp, f"record {n} (contact {record.contact!r})")
    if isinstance(record, WireRecord) and not isinstance(record.wire, WireSpec):
        return _invalid(
            f"record {n}: a WireRecord for network {record.network!r} holds a "
            f"{type(record.wire).__name__}, not a WireSpec"
        )
    return None


def _check_spec(spec: Bassline) -> StorageError | None:
    err = check_id("network", spec.id)
    for kind, ids in (
        ("group", [g.id for g in spec.groups]),
        ("contact", [c.id for c in spec.contacts]),
        ("wire", [w.id for w in spec.wires]),
    ):
        for item_id in ids:
            err = err or check_id(kind, item_id)
    return err


def _group_row(network: str, group: GroupSpec) -> GroupRow | StorageError:
    err = check_id("group", group.id)
    if group.parent is not None:
        err = err or check_id("parent group", group.parent)
    if err:
        return err
    what = f"group {group.id!r} of network {network!r}"
    try:
        body = encode_group(group)
        search = orjson.dumps(search_document(network, group.attributes))
    except (ContentError, TypeError, ValueError) as exc:
        return _unencodable(what, exc)
    return GroupRow(network, group.id, body, search)


def _wire_row(network: str, wire: WireSpec) -> WireRow | StorageError:
    err = (
        check_id("wire", wire.id)
        or check_id("wire source contact", wire.source)
        or check_id("wire target contact", wire.target)
    )
    if err:
        return err
    return WireRow(network, wire.id, wire.source, wire.target, str(wire.type.value))


def _node_bytes(node: str, where: str) -> bytes | StorageError:
    try:
        return node.encode()
    except UnicodeEncodeError as exc:
        return _invalid(f"{where}: stamp node {node!r} is not valid Unicode ({exc.reason})")


def batch_records(batch: Any) -> list[Any] | StorageError:
    """The records of ``batch`` as a list, or INVALID if it is not a sequence of records."""
    if isinstance(batch, str | bytes | dict) or not isinstance(batch, Iterable):
        return _invalid(f"a batch must be a sequence of records, got {type(batch).__name__}")
    return list(batch)


def prepare_batch(batch: Iterable[Any], *, fast: bool = True) -> PreparedBatch | StorageError:
    """Validate ``batch`` and lay it out for SQL; the first problem found is returned.

    With ``fast`` (the default) a batch of content records alone takes the fast path
    and its values are encoded later, by the write path; ``fast=False`` validates and
    encodes everything now (what the write path falls back to if an encoding fails).
    """
    records = batch_records(batch)
    if isinstance(records, StorageError):
        return records
    quick = (column_contents(records) or fast_contents(records)) if fast else None
    if quick is not None:
        quick_columns, quick_references = quick
        return PreparedBatch(
            specs=(),
            replaced=(),
            groups=(),
            wires=(),
            contents=quick_columns,
            group_records=0,
            wire_records=0,
            references=tuple(quick_references),
        )
    for n, record in enumerate(records):
        err = _check_shape(n, record)
        if err:
            return err
    normal = normalise_batch(records)
    if isinstance(normal, StorageError):
        return normal
    specs: list[tuple[str, bytes]] = []
    spec_groups: dict[str, set[str]] = {}
    groups: dict[tuple[str, str], GroupRow] = {}
    wires: dict[tuple[str, str], WireRow] = {}
    for record in normal.networks:
        spec = record.spec
        err = _check_spec(spec)
        if err:
            return err
        try:
            specs.append((spec.id, encode_spec(spec)))
        except (ContentError, TypeError, ValueError) as exc:
            return _unencodable(f"spec of network {spec.id!r}", exc)
        spec_groups[spec.id] = {g.id for g in spec.groups}
        for g in spec.groups:
            row = _group_row(spec.id, g)
            if isinstance(row, StorageError):
                return row
            groups[(spec.id, g.id)] = row
        for w in spec.wires:
            wrow = _wire_row(spec.id, w)
            if isinstance(wrow, StorageError):
                return wrow
            wires[(spec.id, w.id)] = wrow
    spec_ids = frozenset(spec_groups)
    references: dict[tuple[str, str | None], str] = {}
    for grecord in normal.groups:
        row = _group_row(grecord.network, grecord.group)
        if isinstance(row, StorageError):
            return row
        groups[(grecord.network, grecord.group.id)] = row
        spec_groups.setdefault(grecord.network, set()).add(grecord.group.id)
        if grecord.network not in spec_ids:
            references.setdefault((grecord.network, None), f"group {grecord.group.id!r}")
    for wrecord in normal.wires:
        wrow = _wire_row(wrecord.network, wrecord.wire)
        if isinstance(wrow, StorageError):
            return wrow
        wires[(wrecord.network, wrecord.wire.id)] = wrow
        if wrecord.network not in spec_ids:
            references.setdefault((wrecord.network, None), f"wire {wrecord.wire.id!r}")
    columns = ContentColumns()
    for n, (content, encoded) in enumerate(zip(normal.contents, normal.encoded, strict=True)):
        where = f"content record {n} (contact {content.contact!r})"
        node = _node_bytes(content.stamp.node, where)
        if isinstance(node, StorageError):
            return node
        known = spec_groups.get(content.network)
        if not (known and content.group in known):
            if content.network in spec_ids:
                return StorageError(
                    ErrorCode.GROUP_NOT_FOUND,
                    f"group {content.group!r} not found in network {content.network!r} "
                    f"(content for contact {content.contact!r}; the network's spec in this "
                    "batch has no such group)",
                    transient=False,
                )
            references.setdefault((content.network, content.group), f"contact {content.contact!r}")
        elif content.network not in spec_ids:
            references.setdefault((content.network, None), f"contact {content.contact!r}")
        columns.networks.append(content.network)
        columns.contacts.append(content.contact)
        columns.groups.append(content.group)
        columns.contents.append(encoded)
        columns.hlcs.append(content.stamp.hlc)
        columns.nodes.append(node)
    return PreparedBatch(
        specs=tuple(specs),
        replaced=tuple(sorted(spec_ids)),
        groups=tuple(groups.values()),
        wires=tuple(wires.values()),
        contents=columns,
        group_records=len(normal.groups),
        wire_records=len(normal.wires),
        references=tuple((net, grp, what) for (net, grp), what in references.items()),
    )
