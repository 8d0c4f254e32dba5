"""The change feed's reads: the feed position, changes since a cursor, live watchers.

The write side is in :mod:`bassline_storage_postgres.bulk` (a change sequence per
network, taken under the network's ``bassline_feed`` row lock, stamped on each content
row, and a ``pg_notify`` delivered at commit); the listening side in
:mod:`bassline_storage_postgres.listen`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from bassline.clock import Stamp
from bassline.codec import TAG_KEY, from_json
from bassline.storage import ChangeBatch, ContentRecord, StorageError, Watcher
from bassline_storage_postgres.queries import corrupt, network_missing

__all__ = [
    "CHANGES_TEXT",
    "batch_of",
    "channel_for",
    "feed_position",
    "read_changes",
    "skip_literal",
    "store_identity",
    "watchers",
]

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
SELECT n.id IS NOT NULL, (
    SELECT json_agg(json_build_array(c.contact_id, c.group_id, c.content, c.stamp_hlc,
                                     c.stamp_node, c.justification, c.change_seq)
                    ORDER BY c.change_seq, c.contact_id)::text
    FROM bassline_contacts AS c
    WHERE c.network_id = %(network)s AND c.change_seq > %(after)s
      AND c.change_seq <> ALL(%(skip)s::bigint[]))
FROM (SELECT 1) AS one
LEFT JOIN bassline_networks AS n ON n.id = %(network)s
"""

_WATCHERS = """
SELECT m.member, m.backend_start
FROM bassline_members AS m
JOIN pg_stat_activity AS a ON a.pid = m.backend_pid AND a.backend_start = m.backend_start
WHERE m.network_id = %(network)s
ORDER BY m.backend_start, m.member
"""


_TAGGED = f'"{TAG_KEY}"'
"""In a document only when some content holds a tagged value (a key never appears
unescaped otherwise): without it every content is plain JSON, already decoded."""


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


CHANGES_TEXT = (
    _CHANGES.replace("%(network)s", "$1")
    .replace("%(after)s", "$2::bigint")
    .replace("%(skip)s", "$3")
    .encode()
)
"""The changes query for libpq's text protocol (``$1`` the network, ``$2`` the cursor,
``$3`` the sequences to leave out, an array literal): the change feed's read on the
listening connection (:meth:`bassline_storage_postgres.listen.PgChangeWatch.read_changes`)."""


def skip_literal(skip: Collection[int]) -> bytes:
    """``skip`` as a PostgreSQL array literal (``{1,2}``), for :data:`CHANGES_TEXT`."""
    return b"{" + b",".join(b"%d" % s for s in skip) + b"}"


def read_changes(
    conn: Connection, network: str, after: int, skip: Collection[int] = ()
) -> ChangeBatch | StorageError:
    """Every content of ``network`` whose change sequence is above ``after`` (and not in
    ``skip``), in order."""
    params = {"network": network, "after": after, "skip": list(skip)}
    exists, document = conn.exec_driver_sql(_CHANGES, params).one()
    return batch_of(network, after, exists, document)


def batch_of(
    network: str, after: int, exists: bool | str | None, document: str | None
) -> ChangeBatch | StorageError:
    """The batch the answer to a changes query makes: whether the network is stored (a
    bool, or ``t``/``f`` as text) and the changed rows as one JSON array (None: nothing
    since ``after``), parsed in one call. The whole batch is one value so the rows cost
    one ``orjson.loads`` rather than a call into libpq per field."""
    if exists is None or exists in (False, "f"):
        return network_missing(network)
    if document is None:
        return ChangeBatch(after, [])
    records = []
    contact: Any = None
    tagged = _TAGGED in document
    try:
        rows = orjson.loads(document)
        for contact, group, content, hlc, node, why, _ in rows:
            value = from_json(content) if tagged else content
            stamp = Stamp(hlc, _node(node))
            records.append(ContentRecord(network, group, contact, value, stamp, why))
    except ValueError as exc:  # also ContentError, orjson's and UTF-8's decode errors
        what = "the change feed" if contact is None else f"contact {contact!r}"
        return corrupt(f"content of {what} in network {network!r}", exc)
    return ChangeBatch(max(after, int(rows[-1][6])), records)


def store_identity(conn: Connection, schema: str) -> str:
    """``pg:<hash>``, a hash of the server's system identifier (fixed when the cluster was
    initialised; a physical replica shares it), the database's oid and ``schema``: equal
    exactly for the storages that share one feed."""
    server, database = conn.exec_driver_sql(_IDENTITY).one()
    key = f"{server}/{database}/{schema}".encode()
    return "pg:" + hashlib.sha256(key).hexdigest()[:32]


def _node(node: str) -> str:
    """The stamp's node from bytea's text form in JSON (``\\x`` and hex digits)."""
    return bytes.fromhex(node.removeprefix("\\x")).decode()


def watchers(conn: Connection, network: str) -> list[Watcher]:
    """The live watchers of ``network``: rows whose listening session still exists."""
    rows = conn.exec_driver_sql(_WATCHERS, {"network": network}).all()
    return [Watcher(member, _utc(since)) for member, since in rows]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)
