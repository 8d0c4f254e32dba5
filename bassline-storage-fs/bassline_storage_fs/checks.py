"""Input checks beyond :mod:`bassline.storage.validation`: record shapes, specs, stamps.

Each returns ``None`` when the input is fine, or a :class:`StorageError` saying what is
wrong and where, so nothing malformed ever reaches the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec, WireSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupRecord,
    NetworkRecord,
    StorageError,
    WireRecord,
)
from bassline.storage.validation import check_id

__all__ = ["check_batch_shape", "check_label", "check_spec", "check_stamp", "invalid"]

_MAX_HLC = 2**63 - 1
_MAX_LABEL = 4096


def invalid(message: str) -> StorageError:
    """An INVALID (permanent) error."""
    return StorageError(ErrorCode.INVALID, message, transient=False)


def check_stamp(stamp: Any, where: str) -> StorageError | None:
    """A stamp must be a Stamp with an integer hlc in [0, 2**63) and a string node."""
    if not isinstance(stamp, Stamp):
        return invalid(f"{where}: stamp must be a Stamp(hlc, node), got {type(stamp).__name__}")
    if type(stamp.hlc) is not int or not 0 <= stamp.hlc <= _MAX_HLC:
        return invalid(f"{where}: stamp hlc must be an integer in [0, 2**63), got {stamp.hlc!r}")
    if not isinstance(stamp.node, str):
        return invalid(f"{where}: stamp node must be a string, got {type(stamp.node).__name__}")
    return None


def _first(errors: Iterable[StorageError | None]) -> StorageError | None:
    return next((e for e in errors if e is not None), None)


def check_spec(spec: Any) -> StorageError | None:
    """A spec must be a Bassline whose every id is a valid storage id."""
    if not isinstance(spec, Bassline):
        return invalid(f"expected a Bassline spec, got {type(spec).__name__}")
    return _first(
        [
            check_id("network", spec.id),
            *(_check_group(spec.id, g) for g in spec.groups),
            *(check_id("contact", c.id) for c in spec.contacts),
            *(_check_wire(spec.id, w) for w in spec.wires),
        ]
    )


def _check_group(network: str, group: Any) -> StorageError | None:
    if not isinstance(group, GroupSpec):
        return invalid(f"group of network {network!r}: expected a GroupSpec, got {group!r}")
    err = check_id("group", group.id)
    if err is None and group.parent is not None:
        err = check_id("parent group", group.parent)
    return err


def _check_wire(network: str, wire: Any) -> StorageError | None:
    if not isinstance(wire, WireSpec):
        return invalid(f"wire of network {network!r}: expected a WireSpec, got {wire!r}")
    return (
        check_id("wire", wire.id)
        or check_id("wire source contact", wire.source)
        or check_id("wire target contact", wire.target)
    )


def check_batch_shape(batch: Any) -> list[Any] | StorageError:
    """The batch as a list if every element is a well-formed record, else why not."""
    if isinstance(batch, str | bytes | dict) or not isinstance(batch, Iterable):
        return invalid(f"a batch must be a sequence of records, got {type(batch).__name__}")
    records = list(batch)
    for n, record in enumerate(records):
        if type(record) is ContentRecord:  # the common case, checked inline
            stamp = record.stamp
            if (
                type(stamp) is Stamp
                and type(stamp.hlc) is int
                and 0 <= stamp.hlc <= _MAX_HLC
                and type(stamp.node) is str
            ):
                continue
        if isinstance(record, NetworkRecord):
            err = check_spec(record.spec)
        elif isinstance(record, GroupRecord):
            err = check_id("network", record.network) or _check_group(record.network, record.group)
        elif isinstance(record, WireRecord):
            err = check_id("network", record.network) or _check_wire(record.network, record.wire)
        elif isinstance(record, ContentRecord):
            err = check_stamp(record.stamp, f"record {n} (contact {record.contact!r})")
        else:
            err = invalid(f"record {n} is a {type(record).__name__}, not a storage record")
        if err:
            return err
    return records


def check_label(label: Any) -> StorageError | None:
    """A snapshot label is None or a string of at most 4096 characters."""
    if label is None:
        return None
    if not isinstance(label, str):
        return invalid(f"snapshot label must be a string or None, got {type(label).__name__}")
    if len(label) > _MAX_LABEL:
        return invalid(f"snapshot label is {len(label)} characters long (at most {_MAX_LABEL})")
    return None
