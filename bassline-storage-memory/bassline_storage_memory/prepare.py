"""Copying what a caller hands in, before any of it touches a store.

The base class has checked the batch (ids, record shapes, stamps, contents that encode);
here specs and groups are checked to encode too and copied, so a store only ever applies
a batch that cannot fail half-way and holds nothing the caller can still mutate.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs

from bassline.codec import encode
from bassline.content import ABSENT
from bassline.spec import Bassline, ContactSpec, GroupSpec, WireSpec
from bassline.storage import ContentRecord, ErrorCode, StorageError
from bassline.storage.toolkit import CheckedBatch, ContentColumns

__all__ = ["PreparedBatch", "copy_spec", "prepare_batch"]


@attrs.frozen
class PreparedBatch:
    """A validated batch in write order, with private copies of every spec and group."""

    networks: tuple[Bassline, ...]
    groups: tuple[tuple[str, GroupSpec], ...]
    wires: tuple[tuple[str, WireSpec], ...]
    contents: tuple[ContentRecord, ...]
    encoded: tuple[bytes, ...]
    columns: ContentColumns | None = None
    """The contents as columns, when the batch took the validation's fast path."""


def _check_encodes(value: Any, what: str) -> StorageError | None:
    try:
        encode(value)
    except (ValueError, TypeError, AttributeError) as exc:  # ContentError is a ValueError
        return StorageError(
            ErrorCode.SERIALIZATION, f"{what} cannot be encoded: {exc}", transient=False, cause=exc
        )
    return None


def _check_spec_encodes(spec: Bassline) -> StorageError | None:
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


def _check_group_encodes(network: str, group: GroupSpec) -> StorageError | None:
    return _check_encodes(
        [group.name, group.gadget, group.attributes], f"group {group.id!r} of network {network!r}"
    )


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
    """A copy with attributes of its own (even an empty dict: a caller may fill it)."""
    return attrs.evolve(group, attributes=copy.deepcopy(group.attributes))


def copy_spec(spec: Bassline) -> Bassline:
    """A copy sharing nothing mutable with ``spec``: its frozen parts (ids, wires,
    endpoints, contacts without attributes or nested content) are shared, everything
    that could change (every group's attributes among them) is copied deeply."""
    return attrs.evolve(
        spec,
        groups=tuple(map(_copy_group, spec.groups)),
        contacts=tuple(map(_copy_contact, spec.contacts)),
        endpoints=dict(spec.endpoints),
        metadata=copy.deepcopy(spec.metadata),
    )


def prepare_batch(batch: CheckedBatch) -> PreparedBatch | StorageError:
    """Check that every spec and group of a checked batch encodes (the memory store keeps
    them as objects, so nothing else would), and copy what the batch holds."""
    for record in batch.networks:
        if err := _check_spec_encodes(record.spec):
            return err
    for grecord in batch.groups:
        if err := _check_group_encodes(grecord.network, grecord.group):
            return err
    return PreparedBatch(
        networks=tuple(copy_spec(r.spec) for r in batch.networks),
        groups=tuple((r.network, copy.deepcopy(r.group)) for r in batch.groups),
        wires=tuple((r.network, r.wire) for r in batch.wires),
        contents=batch.contents,
        encoded=batch.encoded,
        columns=batch.columns,
    )
