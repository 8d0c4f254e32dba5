"""The toolkit for writing a storage backend: everything a backend imports from the core.

A backend derives from :class:`StorageBackend` and implements its ``do_*`` hooks (see
the Storage docs page, "Writing a backend"). The base class already checks every id,
stamp, label and batch before a hook runs; the rest of this module is what a hook
needs to agree with the other backends:

- :class:`CheckedBatch`: what ``do_write`` receives: the batch's records split by kind
  in write order (networks, groups, wires, contents), duplicates collapsed, each
  content's canonical JSON in ``encoded``, and, for a simple batch (four or more content
  records, each contact once, plain JSON values), the contents again as parallel
  :class:`ContentColumns` in ``columns``.
- :func:`check_batch`, :func:`check_id`, :func:`check_stamp`, :func:`check_spec`,
  :func:`check_label`: the checks themselves (None when fine, else an INVALID error).
- :func:`invalid`, :func:`not_open`, :func:`network_not_found`,
  :func:`contact_not_found`, :func:`snapshot_not_found`, :func:`missing_network`,
  :func:`missing_group`: the errors every backend gives, worded alike.
- :func:`encode_content`: a content's canonical JSON (or a SERIALIZATION error).
- :func:`columns_batch`: the checked batch a runtime's columns stand for, for a
  backend's ``do_write_columns`` (the lean write; the default hands it to ``do_write``).
- for :class:`~bassline.storage.abilities.JoinsMerges`: :data:`Joins` (what
  ``write_joining`` is given), :func:`merge_records`, :func:`join_batch` /
  :func:`join_contents` (:mod:`bassline.storage.joins`: the join every backend stores).

Contents are stored as canonical JSON and read back with :func:`bassline.codec.decode`
(or :func:`bassline.codec.decode_many`); :data:`MAX_STORAGE_ID_LENGTH` is the longest id.
"""

from __future__ import annotations

from bassline.storage.backend import StorageBackend, columns_batch, not_open
from bassline.storage.errors import ErrorCode, StorageError
from bassline.storage.fastpath import ContentColumns
from bassline.storage.joins import JoinedBatch, Joins, join_batch, join_contents, merge_records
from bassline.storage.validation import (
    MAX_STORAGE_ID_LENGTH,
    NormalisedBatch,
    as_record_list,
    check_id,
    check_label,
    check_record,
    check_spec,
    check_stamp,
    encode_content,
    invalid,
    normalise_batch,
)

__all__ = [
    "MAX_STORAGE_ID_LENGTH",
    "CheckedBatch",
    "ContentColumns",
    "JoinedBatch",
    "Joins",
    "StorageBackend",
    "as_record_list",
    "check_batch",
    "check_id",
    "check_label",
    "check_record",
    "check_spec",
    "check_stamp",
    "columns_batch",
    "contact_not_found",
    "encode_content",
    "invalid",
    "join_batch",
    "join_contents",
    "merge_records",
    "missing_group",
    "missing_network",
    "network_not_found",
    "not_open",
    "snapshot_not_found",
]

CheckedBatch = NormalisedBatch
"""A batch that passed :func:`check_batch`: records by kind, in write order, collapsed."""

check_batch = normalise_batch
"""``check_batch(batch) -> CheckedBatch | StorageError``: check every record (types, ids,
stamps, values that encode) and normalise the batch. The base class calls it before
``do_write``; it takes the column-at-a-time fast path for a simple batch."""


def network_not_found(network: str) -> StorageError:
    """NETWORK_NOT_FOUND for ``network``."""
    return StorageError.not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}")


def contact_not_found(network: str, group: str, contact: str) -> StorageError:
    """CONTACT_NOT_FOUND: ``contact`` has no content stored under ``group``."""
    return StorageError.not_found(
        ErrorCode.CONTACT_NOT_FOUND,
        f"content of contact {contact!r} in group {group!r} of network {network!r}",
    )


def snapshot_not_found(network: str, snapshot_id: str) -> StorageError:
    """SNAPSHOT_NOT_FOUND for ``snapshot_id`` of ``network``."""
    return StorageError.not_found(
        ErrorCode.SNAPSHOT_NOT_FOUND, f"snapshot {snapshot_id!r} of network {network!r}"
    )


def missing_network(kind: str, item: str, network: str) -> StorageError:
    """NETWORK_NOT_FOUND for a ``kind`` record (group, wire, content) naming ``item`` in a
    network that is neither stored nor saved in the same batch."""
    return StorageError(
        ErrorCode.NETWORK_NOT_FOUND,
        f"{kind} record {item!r} is for network {network!r}, which is neither stored nor "
        "saved in the same batch",
        transient=False,
    )


def missing_group(network: str, group: str, contact: str) -> StorageError:
    """GROUP_NOT_FOUND for content of ``contact`` in a group the network does not have."""
    return StorageError(
        ErrorCode.GROUP_NOT_FOUND,
        f"content of contact {contact!r} is for group {group!r}, which network {network!r} "
        "does not have (add it to the spec or write a GroupRecord in the same batch)",
        transient=False,
    )
