"""The hot path of validation: batches made only of content records.

It gives exactly what :func:`bassline.storage.validation.normalise_batch` gives (same
ids accepted, same duplicate collapsing, and, through
:func:`~bassline_storage_postgres.columns.fast_encode`, the same canonical bytes), but
it leaves encoding to the write path, which does it chunk by chunk while the server
works. It gives up (returns None) at the first thing it is not sure of; the caller
then runs the general path, which produces the right result or the right error. So
this module never decides an error and never accepts what the general path refuses.
If a value later turns out not to encode, the write path rolls back and defers too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bassline.clock import Stamp
from bassline.storage import ContentRecord
from bassline.storage.validation import MAX_STORAGE_ID_LENGTH, normalise_fast
from bassline_storage_postgres.columns import ContentColumns

__all__ = ["Reference", "column_contents", "fast_contents"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_HLC = 2**63 - 1

Reference = tuple[str, str | None, str]
"""(network, group or None, what refers to it): something storage must already hold."""


def _valid_id(value: Any) -> bool:
    return (
        type(value) is str
        and 0 < len(value) <= MAX_STORAGE_ID_LENGTH
        and _CONTROL.search(value) is None
    )


def _references(
    networks: Sequence[str], groups: Sequence[str], contacts: Sequence[str]
) -> list[Reference]:
    """One reference per distinct (network, group), naming a contact that needs it (the
    root group too: a spec saved without one has none)."""
    example = dict(zip(zip(networks, groups, strict=True), contacts, strict=True))
    return [
        (network, group, f"contact {contact!r}") for (network, group), contact in example.items()
    ]


def column_contents(records: list[Any]) -> tuple[ContentColumns, list[Reference]] | None:
    """Columns with every value already encoded, when the shared column-at-a-time check
    (:func:`bassline.storage.validation.normalise_fast`) takes the batch; None if not."""
    normal = normalise_fast(records)
    if normal is None or normal.columns is None:
        return None
    cols = normal.columns
    try:
        node_bytes = {node: node.encode() for node in set(cols.nodes)}
    except UnicodeEncodeError:
        return None
    columns = ContentColumns(
        networks=list(cols.networks),
        contacts=list(cols.contacts),
        groups=list(cols.groups),
        contents=list(cols.encoded),
        hlcs=list(cols.hlcs),
        nodes=[node_bytes[n] for n in cols.nodes],
    )
    return columns, _references(cols.networks, cols.groups, cols.contacts)


def fast_contents(records: list[Any]) -> tuple[ContentColumns, list[Reference]] | None:
    """Unencoded columns and references for ContentRecords only; None to defer.

    One pass: rows are appended in first-seen order of their (network, contact) key and
    a duplicate replaces its row in place when its stamp is equal or newer (what
    ``normalise_batch`` keeps); the value it displaces, or its own if it is older, is
    kept aside so that it is still checked to encode.
    """
    known: set[str] = set()
    node_bytes: dict[str, bytes] = {}
    rows: dict[tuple[str, str], int] = {}
    columns = ContentColumns()
    networks, contacts, groups = columns.networks, columns.contacts, columns.groups
    hlcs, nodes, values, stamps = columns.hlcs, columns.nodes, columns.values, []
    for record in records:
        if type(record) is not ContentRecord:
            return None
        network, group, contact, stamp = record.network, record.group, record.contact, record.stamp
        if network not in known:
            if not _valid_id(network):
                return None
            known.add(network)
        if group not in known:
            if not _valid_id(group):
                return None
            known.add(group)
        if not _valid_id(contact) or type(stamp) is not Stamp:
            return None
        hlc, node = stamp
        if type(hlc) is not int or not 0 <= hlc <= _MAX_HLC or type(node) is not str:
            return None
        encoded_node = node_bytes.get(node)
        if encoded_node is None:
            try:
                encoded_node = node_bytes[node] = node.encode()
            except UnicodeEncodeError:
                return None
        key = (network, contact)
        at = rows.get(key)
        if at is None:
            rows[key] = len(contacts)
            networks.append(network)
            contacts.append(contact)
            groups.append(group)
            hlcs.append(hlc)
            nodes.append(encoded_node)
            values.append(record.value)
            stamps.append(stamp)
        elif stamp >= stamps[at]:
            columns.superseded.append(values[at])
            groups[at], hlcs[at], nodes[at], values[at], stamps[at] = (
                group,
                hlc,
                encoded_node,
                record.value,
                stamp,
            )
        else:
            columns.superseded.append(record.value)
    columns.contents = [None] * len(contacts)
    return columns, _references(networks, groups, contacts)
