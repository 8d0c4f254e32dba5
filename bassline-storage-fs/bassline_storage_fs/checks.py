"""Input checks beyond :mod:`bassline.storage.validation`: record shapes, specs, stamps.

Each returns ``None`` when the input is fine, or a :class:`StorageError` saying what is
wrong and where, so nothing malformed ever reaches the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bassline.clock import Stamp
from bassline.storage import (
    ContentRecord,
    GroupRecord,
    NetworkRecord,
    StorageError,
    WireRecord,
)
from bassline.storage.validation import (
    check_group,
    check_id,
    check_spec,
    check_stamp,
    check_wire,
    invalid,
)

__all__ = [
    "as_record_list",
    "check_batch_shape",
    "check_label",
    "check_spec",
    "check_stamp",
    "invalid",
]

_MAX_HLC = 2**63 - 1
_MAX_LABEL = 4096


def as_record_list(batch: Any) -> list[Any] | StorageError:
    """The batch as a list, or why it is not a sequence of records."""
    if isinstance(batch, str | bytes | dict) or not isinstance(batch, Iterable):
        return invalid(f"a batch must be a sequence of records, got {type(batch).__name__}")
    return list(batch)


def check_batch_shape(records: list[Any]) -> StorageError | None:
    """None if every element of ``records`` is a well-formed record, else why not."""
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
            err = check_id("network", record.network) or check_group(record.network, record.group)
        elif isinstance(record, WireRecord):
            err = check_id("network", record.network) or check_wire(record.network, record.wire)
        elif isinstance(record, ContentRecord):
            err = check_stamp(record.stamp, f"record {n} (contact {record.contact!r})")
        else:
            err = invalid(f"record {n} is a {type(record).__name__}, not a storage record")
        if err:
            return err
    return None


def check_label(label: Any) -> StorageError | None:
    """A snapshot label is None or a string of valid Unicode of at most 4096 characters."""
    if label is None:
        return None
    if not isinstance(label, str):
        return invalid(f"snapshot label must be a string or None, got {type(label).__name__}")
    if len(label) > _MAX_LABEL:
        return invalid(f"snapshot label is {len(label)} characters long (at most {_MAX_LABEL})")
    try:
        label.encode("utf-8")
    except UnicodeEncodeError as exc:
        return invalid(f"snapshot label {label!r} is not valid Unicode ({exc.reason})")
    return None
