"""Checking and copying what a caller hands in, before any of it touches a store.

Everything is validated first (ids, record shapes, stamps, whether values encode) and
specs are deep-copied, so a store only ever applies a batch that cannot fail half-way
and holds nothing the caller can still mutate.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import attrs

from bassline.codec import encode
from bassline.content import ABSENT
from bassline.spec import Bassline, ContactSpec, GroupSpec, WireSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupRecord,
    NetworkRecord,
    StorageError,
    WireRecord,
)
from bassline.storage.validation import (
    check_group,
    check_id,
    check_stamp,
    check_wire,
    normalise_batch,
    normalise_fast,
)
from bassline.storage.validation import check_spec as shared_check_spec

__all__ = ["PreparedBatch", "check_spec", "check_stamp", "copy_spec", "prepare_batch"]


@attrs.frozen
class PreparedBatch:
    """A validated batch in write order, with private copies of every spec and group."""

    networks: tuple[Bassline, ...]
    groups: tuple[tuple[str, GroupSpec], ...]
    wires: tuple[tuple[str, WireSpec], ...]
    contents: tuple[ContentRecord, ...]
    encoded: tuple[bytes, ...]


def _invalid(message: str) -> StorageError:
    return StorageError(ErrorCode.INVALID, message, transient=False)


def _check_encodes(value: Any, what: str) -> StorageError | None:
    try:
        encode(value)
    except (ValueError, TypeError, AttributeError) as exc:  # ContentError is a ValueError
        return StorageError(
            ErrorCode.SERIALIZATION, f"{what} cannot be encoded: {exc}", transient=False, cause=exc
        )
    return None


def check_spec(spec: Any) -> StorageError | None:
    """None if ``spec`` is a Bassline storage can keep; else INVALID or SERIALIZATION."""
    err = shared_check_spec(spec)
    if err:
        return err
    try:
        data = spec.to_dict()
    except (ValueError, TypeError, AttributeError) as exc:
        return StorageError(
            ErrorCode.SERIALIZATION,
            f"spec of network {spec.id!r} cannot be serialised: {exc!r}",
            transient=False,
            cause=exc,
        )
    return _check_encodes(data, f"spec of network {spec.id!r}")


def _check_group(network: str, group: Any) -> StorageError | None:
    err = check_group(network, group)
    if err:
        return err
    return _check_encodes(
        [group.name, group.gadget, group.attributes], f"group {group.id!r} of network {network!r}"
    )


def _check_record(n: int, record: Any) -> StorageError | None:
    if isinstance(record, ContentRecord):  # by far the most common: checked first
        return check_stamp(record.stamp, f"record {n} (contact {record.contact!r})")
    if isinstance(record, NetworkRecord):
        return check_spec(record.spec)
    if isinstance(record, GroupRecord):
        return check_id("network", record.network) or _check_group(record.network, record.group)
    if isinstance(record, WireRecord):
        return check_id("network", record.network) or check_wire(record.network, record.wire)
    return _invalid(f"record {n} is a {type(record).__name__}, not a storage record")


_SCALARS = (str, int, float, bool, type(None))


def _copy_contact(contact: ContactSpec) -> ContactSpec:
    """``contact`` itself when nothing in it can change (no attributes, a scalar or no
    content: the common case, and free), else a copy with its mutable parts copied."""
    if not contact.attributes and (contact.content is ABSENT or type(contact.content) in _SCALARS):
        return contact
    return attrs.evolve(
        contact,
        attributes=copy.deepcopy(contact.attributes),
        content=copy.deepcopy(contact.content),
    )


def _copy_group(group: GroupSpec) -> GroupSpec:
    if not group.attributes:
        return group
    return attrs.evolve(group, attributes=copy.deepcopy(group.attributes))


def copy_spec(spec: Bassline) -> Bassline:
    """A copy sharing nothing mutable with ``spec``: its frozen parts (ids, wires,
    endpoints, contacts without attributes or nested content) are shared, everything
    that could change is copied deeply."""
    return attrs.evolve(
        spec,
        groups=tuple(map(_copy_group, spec.groups)),
        contacts=tuple(map(_copy_contact, spec.contacts)),
        endpoints=dict(spec.endpoints),
        metadata=copy.deepcopy(spec.metadata),
    )


def prepare_batch(batch: Iterable[Any]) -> PreparedBatch | StorageError:
    """Validate a whole batch and copy what it holds; the first problem found is returned."""
    if isinstance(batch, str | bytes | dict) or not isinstance(batch, Iterable):
        return _invalid(f"a batch must be a sequence of records, got {type(batch).__name__}")
    records = list(batch)
    normal = normalise_fast(records)  # a simple batch of contents: checked in full already
    if normal is None:
        for n, record in enumerate(records):
            err = _check_record(n, record)
            if err:
                return err
        checked = normalise_batch(records)
        if isinstance(checked, StorageError):
            return checked
        normal = checked
    return PreparedBatch(
        networks=tuple(copy_spec(r.spec) for r in normal.networks),
        groups=tuple((r.network, copy.deepcopy(r.group)) for r in normal.groups),
        wires=tuple((r.network, r.wire) for r in normal.wires),
        contents=normal.contents,
        encoded=normal.encoded,
    )
