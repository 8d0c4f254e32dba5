"""Snapshots: a consistent copy of one network's spec and contents, taken in SQL.

:func:`save_snapshot` must run in a REPEATABLE READ transaction (the backend opens one):
the spec it reads, the content count and the ``INSERT ... SELECT`` copy then all see the
same instant, whatever commits meanwhile. Contents are copied server-side; they never
travel to Python and back.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from bassline.errors import ContentError
from bassline.storage import ErrorCode, Snapshot, SnapshotInfo, StorageError
from bassline_storage_postgres.documents import decode_spec, encode_spec
from bassline_storage_postgres.queries import (
    content_record,
    corrupt,
    load_network,
    network_missing,
)
from bassline_storage_postgres.schema import contacts, networks, snapshot_contents, snapshots

__all__ = ["delete_snapshot", "list_snapshots", "load_snapshot", "save_snapshot"]


def _label(raw: Any) -> str | None:
    if raw is None:
        return None
    value = orjson.loads(raw)
    if not isinstance(value, str):
        raise ValueError(f"snapshot label must be a string, found {type(value).__name__}")
    return value


def _info(network: str, row: Any) -> SnapshotInfo:
    snapshot_id, label, created_at, count = row
    return SnapshotInfo(
        id=snapshot_id, network=network, label=_label(label), created_at=created_at, contents=count
    )


def save_snapshot(conn: Connection, network: str, label: str | None) -> SnapshotInfo | StorageError:
    """Copy ``network`` now; run inside a REPEATABLE READ transaction."""
    if label is not None and not isinstance(label, str):
        return StorageError(
            ErrorCode.INVALID,
            f"snapshot label must be a string or None, got {type(label).__name__}",
            transient=False,
        )
    try:
        label_json = orjson.dumps(label) if label is not None else None
    except orjson.JSONEncodeError:
        return StorageError(
            ErrorCode.INVALID, f"snapshot label {label!r} is not valid Unicode", transient=False
        )
    spec = load_network(conn, network)
    if isinstance(spec, StorageError):
        return spec
    snapshot_id = uuid.uuid4().hex
    count = (
        sa.select(sa.func.count())
        .select_from(contacts)
        .where(contacts.c.network_id == network)
        .scalar_subquery()
    )
    row = conn.execute(
        sa.insert(snapshots)
        .values(
            network_id=network,
            snapshot_id=snapshot_id,
            label=label_json if label_json is not None else sa.null(),
            created_at=sa.func.now(),
            spec=encode_spec(spec),
            contents=count,
        )
        .returning(snapshots.c.created_at, snapshots.c.contents)
    ).one()
    copied = sa.select(
        sa.literal(network, contacts.c.network_id.type),
        sa.literal(snapshot_id, contacts.c.network_id.type),
        contacts.c.contact_id,
        contacts.c.group_id,
        sa.type_coerce(contacts.c.content, pg.JSON),  # copied as json, not read as text
        contacts.c.stamp_hlc,
        contacts.c.stamp_node,
        contacts.c.justification,
    ).where(contacts.c.network_id == network)
    conn.execute(
        sa.insert(snapshot_contents).from_select(
            [
                "network_id",
                "snapshot_id",
                "contact_id",
                "group_id",
                "content",
                "stamp_hlc",
                "stamp_node",
                "justification",
            ],
            copied,
        )
    )
    return SnapshotInfo(
        id=snapshot_id, network=network, label=label, created_at=row[0], contents=row[1]
    )


def _header_columns() -> list[Any]:
    return [
        snapshots.c.snapshot_id,
        snapshots.c.label,
        snapshots.c.created_at,
        snapshots.c.contents,
    ]


def _missing(network: str, snapshot_id: str) -> StorageError:
    return StorageError.not_found(
        ErrorCode.SNAPSHOT_NOT_FOUND, f"snapshot {snapshot_id!r} of network {network!r}"
    )


def load_snapshot(conn: Connection, network: str, snapshot_id: str) -> Snapshot | StorageError:
    """A saved snapshot with its contents (sorted by contact id); run in REPEATABLE READ."""
    row = conn.execute(
        sa.select(*_header_columns(), snapshots.c.spec).where(
            snapshots.c.network_id == network, snapshots.c.snapshot_id == snapshot_id
        )
    ).first()
    if row is None:
        return _missing(network, snapshot_id)
    rows = conn.execute(
        sa.select(
            snapshot_contents.c.contact_id,
            snapshot_contents.c.group_id,
            snapshot_contents.c.content,
            snapshot_contents.c.stamp_hlc,
            snapshot_contents.c.stamp_node,
            snapshot_contents.c.justification,
        )
        .where(
            snapshot_contents.c.network_id == network,
            snapshot_contents.c.snapshot_id == snapshot_id,
        )
        .order_by(snapshot_contents.c.contact_id)
    ).all()
    try:
        info = _info(network, row[:4])
        spec = decode_spec(row[4])
        records = tuple(content_record(network, r) for r in rows)
    except (ContentError, KeyError, TypeError, UnicodeDecodeError, ValueError) as exc:
        return corrupt(f"snapshot {snapshot_id!r} of network {network!r}", exc)
    return Snapshot(info=info, spec=spec, contents=records)


def list_snapshots(conn: Connection, network: str) -> list[SnapshotInfo] | StorageError:
    """The network's snapshots, newest first; NETWORK_NOT_FOUND if it is not stored."""
    joined = networks.outerjoin(snapshots, snapshots.c.network_id == networks.c.id)
    rows = conn.execute(
        sa.select(*_header_columns())
        .select_from(joined)
        .where(networks.c.id == network)
        .order_by(snapshots.c.created_at.desc(), snapshots.c.seq.desc())
    ).all()
    if not rows:
        return network_missing(network)
    if rows[0][0] is None:
        return []
    try:
        return [_info(network, r) for r in rows]
    except (TypeError, ValueError) as exc:
        return corrupt(f"snapshot list of network {network!r}", exc)


def delete_snapshot(conn: Connection, network: str, snapshot_id: str) -> None:
    """Delete one snapshot (its contents cascade); deleting nothing succeeds."""
    conn.execute(
        sa.delete(snapshots).where(
            snapshots.c.network_id == network, snapshots.c.snapshot_id == snapshot_id
        )
    )
