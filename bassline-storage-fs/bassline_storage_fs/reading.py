"""Reading stored contents and snapshot files back into records (in worker threads)."""

from __future__ import annotations

from bassline.clock import Stamp
from bassline.codec import decode_many
from bassline.errors import ContentError
from bassline.spec import Bassline
from bassline.storage import ContentRecord, ErrorCode, StorageError
from bassline_storage_fs.docfile import DocError
from bassline_storage_fs.specs import SpecDecodeError, spec_from_bytes
from bassline_storage_fs.store import FsStore
from bassline_storage_fs.table import ContentTable

__all__ = ["read_snapshot", "records", "undecodable"]


def records(network: str, table: ContentTable) -> list[ContentRecord]:
    """Decode stored contents into fresh records sorted by contact (in a worker thread).

    ``table`` must be a private copy: the index may change while this runs.
    """
    contacts, groups, hlcs, nodes, values, whys = table.sorted_columns()
    decoded = decode_many(values)
    record, stamp = ContentRecord, Stamp
    return [
        record(network, group, contact, value, stamp(hlc, node), why)
        for contact, group, hlc, node, value, why in zip(
            contacts, groups, hlcs, nodes, decoded, whys, strict=True
        )
    ]


def undecodable(network: str, exc: Exception) -> StorageError:
    """CORRUPTION: a stored content of ``network`` does not decode."""
    return StorageError(
        ErrorCode.CORRUPTION,
        f"stored content of network {network!r} does not decode: {exc}",
        cause=exc,
    )


def read_snapshot(
    store: FsStore, network: str, snapshot_id: str
) -> tuple[Bassline, list[ContentRecord]] | str:
    """Read, verify and decode a snapshot file, or say what is wrong with it."""
    try:
        doc = store.read_snapshot(network, snapshot_id)
        if doc.header.get("id") != snapshot_id or doc.network != network:
            return "the file holds another snapshot"
        spec = spec_from_bytes(doc.spec)
        return spec, records(network, doc.contents)
    except FileNotFoundError:
        return "the file is missing"
    except (DocError, SpecDecodeError, ContentError) as exc:
        return str(exc)
