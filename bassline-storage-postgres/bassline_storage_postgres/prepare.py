"""Laying out a checked batch as column arrays, before any connection is taken.

The base class has checked the batch (:func:`bassline.storage.toolkit.check_batch`, so
every backend agrees on ids, stamps, duplicates and encodings); here specs and groups
are encoded (SERIALIZATION if they do not) and stamp nodes checked to be valid UTF-8.
A simple batch of contents comes with its columns already
(:func:`~bassline_storage_postgres.fastpath.column_contents`). The result holds
everything the SQL needs as parallel lists, ready for ``unnest``.
"""

from __future__ import annotations

import attrs
import orjson

from bassline.errors import ContentError
from bassline.spec import GroupSpec, WireSpec
from bassline.storage import ErrorCode, StorageError
from bassline.storage.toolkit import CheckedBatch
from bassline_storage_postgres.columns import ContentColumns
from bassline_storage_postgres.documents import encode_group, encode_spec, search_document
from bassline_storage_postgres.fastpath import column_contents

__all__ = [
    "ContentColumns",
    "GroupRow",
    "PreparedBatch",
    "WireRow",
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


def _group_row(network: str, group: GroupSpec) -> GroupRow | StorageError:
    what = f"group {group.id!r} of network {network!r}"
    try:
        body = encode_group(group)
        search = orjson.dumps(search_document(network, group.attributes))
    except (ContentError, TypeError, ValueError) as exc:
        return _unencodable(what, exc)
    return GroupRow(network, group.id, body, search)


def _wire_row(network: str, wire: WireSpec) -> WireRow:
    return WireRow(network, wire.id, wire.source, wire.target, str(wire.type.value))


def _node_bytes(node: str, where: str) -> bytes | StorageError:
    try:
        return node.encode()
    except UnicodeEncodeError as exc:
        return _invalid(f"{where}: stamp node {node!r} is not valid Unicode ({exc.reason})")


def prepare_batch(normal: CheckedBatch) -> PreparedBatch | StorageError:
    """Lay out a checked batch for SQL; the first problem found is returned."""
    quick = column_contents(normal)
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
    specs: list[tuple[str, bytes]] = []
    spec_groups: dict[str, set[str]] = {}
    groups: dict[tuple[str, str], GroupRow] = {}
    wires: dict[tuple[str, str], WireRow] = {}
    for record in normal.networks:
        spec = record.spec
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
            wires[(spec.id, w.id)] = _wire_row(spec.id, w)
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
        wires[(wrecord.network, wrecord.wire.id)] = _wire_row(wrecord.network, wrecord.wire)
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
        columns.justifications.append(content.justification)
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
