"""The change feed's reads: the feed position, changes since a cursor, live watchers.

The write side is in :mod:`bassline_storage_postgres.bulk` (a change sequence per
network, taken under the network's ``bassline_feed`` row lock, stamped on each content
row, and a ``pg_notify`` delivered at commit); the listening side in
:mod:`bassline_storage_postgres.listen`.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy.engine import Connection

from bassline.clock import Stamp
from bassline.codec import decode
from bassline.errors import ContentError
from bassline.storage import ChangeBatch, ContentRecord, StorageError, Watcher
from bassline_storage_postgres.queries import corrupt, network_missing

__all__ = ["channel_for", "feed_position", "read_changes", "store_identity", "watchers"]

_IDENTITY = """
SELECT (SELECT system_identifier FROM pg_control_system())::text, d.oid::text
FROM pg_database AS d WHERE d.datname = current_database()
"""

_POSITION = """
SELECT n.id IS NOT NULL, coalesce(f.seq, 0)
FROM (SELECT 1) AS one
LEFT JOIN bassline_networks AS n ON n.id = %(network)s
LEFT JOIN bassline_feed AS f ON f.network_id = n.id
"""

_CHANGES = """
SELECT c.contact_id, c.group_id, c.content::text, c.stamp_hlc, c.stamp_node, c.change_seq,
    c.justification
FROM bassline_networks AS n
LEFT JOIN bassline_contacts AS c ON c.network_id = n.id AND c.change_seq > %(after)s
WHERE n.id = %(network)s
ORDER BY c.change_seq, c.contact_id
"""

_WATCHERS = """
SELECT m.member, m.backend_start
FROM bassline_members AS m
JOIN pg_stat_activity AS a ON a.pid = m.backend_pid AND a.backend_start = m.backend_start
WHERE m.network_id = %(network)s
ORDER BY m.backend_start, m.member
"""


def channel_for(schema: str) -> str:
    """The NOTIFY channel of the feeds of one schema (a name within PostgreSQL's 63 bytes;
    the payload names the network)."""
    return "bassline_feed_" + hashlib.sha256(schema.encode()).hexdigest()[:24]


def feed_position(conn: Connection, network: str) -> int | StorageError:
    """The newest committed change sequence of ``network`` (0 before any content write)."""
    row = conn.exec_driver_sql(_POSITION, {"network": network}).one()
    if not row[0]:
        return network_missing(network)
    return int(row[1])


def read_changes(conn: Connection, network: str, after: int) -> ChangeBatch | StorageError:
    """Every content of ``network`` whose change sequence is above ``after``, in order."""
    rows = conn.exec_driver_sql(_CHANGES, {"network": network, "after": after}).all()
    if not rows:
        return network_missing(network)
    if rows[0][0] is None:
        return ChangeBatch(after, [])
    records = []
    for contact, group, content, hlc, node, _, why in rows:
        try:
            records.append(
                ContentRecord(network, group, contact, decode(content), _stamp(hlc, node), why)
            )
        except (ContentError, UnicodeDecodeError, ValueError) as exc:
            return corrupt(f"content of contact {contact!r} in network {network!r}", exc)
    return ChangeBatch(max(after, int(rows[-1][5])), records)


def store_identity(conn: Connection, schema: str) -> str:
    """``pg:<hash>``, a hash of the server's system identifier (fixed when the cluster was
    initialised; a physical replica shares it), the database's oid and ``schema``: equal
    exactly for the storages that share one feed."""
    server, database = conn.exec_driver_sql(_IDENTITY).one()
    key = f"{server}/{database}/{schema}".encode()
    return "pg:" + hashlib.sha256(key).hexdigest()[:32]


def _stamp(hlc: int, node: bytes) -> Stamp:
    return Stamp(hlc, bytes(node).decode())


def watchers(conn: Connection, network: str) -> list[Watcher]:
    """The live watchers of ``network``: rows whose listening session still exists."""
    rows = conn.exec_driver_sql(_WATCHERS, {"network": network}).all()
    return [Watcher(member, _utc(since)) for member, since in rows]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)
