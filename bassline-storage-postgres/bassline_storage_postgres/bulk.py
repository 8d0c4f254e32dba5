"""The write path: one prepared batch, one transaction, set-based SQL.

Rows travel as binary arrays and are expanded server-side with ``unnest``: each
statement has a fixed handful of parameters whatever the row count (never near the
65,535 bind-parameter limit) and nothing is sent one row at a time. Content rows go in
chunks of :data:`CONTENT_CHUNK`, each one ``INSERT ... SELECT FROM unnest(...) ON
CONFLICT DO UPDATE ... WHERE`` whose ``WHERE`` is the stamp guard: a stored stamp is
replaced only by an equal or newer one, compared as ``(hlc, node)`` with the node as
UTF-8 bytes (code-point order, like Python). Rows the guard skips are counted stale.

These functions run on the psycopg connection underneath a SQLAlchemy connection in
autocommit mode: :func:`write_batch` sends every statement of a batch on one pipeline
ending in one ``Sync``, and the server runs them as one implicit transaction, committed
at the ``Sync``. A batch of one content row (a durable write of one contact) is one
statement with scalar parameters instead (:data:`TAKE_ANNOUNCE_AND_UPSERT_ONE`), which
the server can keep a plan of.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from bassline.storage import ErrorCode, StorageError, WriteSummary
from bassline_storage_postgres.prepare import PreparedBatch

__all__ = [
    "CONTENT_CHUNK",
    "LOCK_FEED",
    "TAKE_AND_UPSERT",
    "TAKE_AND_UPSERT_ONE",
    "TAKE_ANNOUNCE_AND_UPSERT",
    "TAKE_ANNOUNCE_AND_UPSERT_ONE",
    "TAKE_SEQUENCE",
    "UPSERT_CONTENTS",
    "notify_payload",
    "write_batch",
]

CONTENT_CHUNK = 250
"""Content rows per statement. Statements are pipelined, so while the server inserts one
chunk the next is being sent; the chunk bounds one message, not a parameter count."""

_UPSERT_NETWORKS = """
INSERT INTO bassline_networks AS t (id, spec)
SELECT n, convert_from(s, 'UTF8')::json FROM unnest(%b::text[], %b::bytea[]) AS u(n, s)
ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, updated_at = now()
"""

_CLEAR_GROUPS = "DELETE FROM bassline_groups WHERE network_id = ANY(%b::text[])"
_CLEAR_WIRES = "DELETE FROM bassline_wires WHERE network_id = ANY(%b::text[])"

_UPSERT_GROUPS = """
INSERT INTO bassline_groups AS t (network_id, group_id, body, search)
SELECT n, g, convert_from(b, 'UTF8')::json, convert_from(a, 'UTF8')::jsonb
FROM unnest(%b::text[], %b::text[], %b::bytea[], %b::bytea[]) AS u(n, g, b, a)
ON CONFLICT (network_id, group_id)
DO UPDATE SET body = EXCLUDED.body, search = EXCLUDED.search
"""

_UPSERT_WIRES = """
INSERT INTO bassline_wires AS t (network_id, wire_id, source, target, type)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[])
ON CONFLICT (network_id, wire_id)
DO UPDATE SET source = EXCLUDED.source, target = EXCLUDED.target, type = EXCLUDED.type
"""

_INSERT_CONTENTS = """
INSERT INTO bassline_contacts AS t
    (network_id, contact_id, group_id, content, stamp_hlc, stamp_node, justification,
     change_seq)
SELECT n, c, g, convert_from(j, 'UTF8')::json, h, s, w, {seq}
FROM unnest(
    %b::text[], %b::text[], %b::text[], %b::bytea[], %b::int8[], %b::bytea[], %b::text[]
) AS u(n, c, g, j, h, s, w)
{join}
ON CONFLICT (network_id, contact_id) DO UPDATE
SET group_id = EXCLUDED.group_id, content = EXCLUDED.content,
    stamp_hlc = EXCLUDED.stamp_hlc, stamp_node = EXCLUDED.stamp_node,
    justification = EXCLUDED.justification, change_seq = EXCLUDED.change_seq
WHERE (t.stamp_hlc, t.stamp_node) <= (EXCLUDED.stamp_hlc, EXCLUDED.stamp_node)
{returning}"""

UPSERT_CONTENTS = _INSERT_CONTENTS.format(
    seq="coalesce(f.seq, 0)",
    join="LEFT JOIN bassline_feed AS f ON f.network_id = u.n",
    returning="",
)
"""The content upsert with the stamp guard (public so the benchmark measures the same SQL),
for the chunks after the first. Each row carries its network's change sequence, read
from the feed row the batch's first chunk (:data:`TAKE_AND_UPSERT`) wrote in the same
transaction."""

TAKE_SEQUENCE = """
INSERT INTO bassline_feed AS f (network_id, seq)
SELECT n, nextval('bassline_change_seq') FROM unnest(%b::text[]) AS u(n) ORDER BY n
ON CONFLICT (network_id) DO UPDATE SET seq = nextval('bassline_change_seq')
"""
"""A new change sequence for each network the batch writes contents of. The row stays
locked until the transaction ends, so concurrent writers of one network take their
sequences in commit order (networks in id order: no deadlock between two batches)."""

LOCK_FEED = "SELECT seq FROM bassline_feed WHERE network_id = %s FOR UPDATE"
"""Before a one-network batch takes its sequence: lock the network's feed row first and
read its sequence as last committed (a locking read waits for a writer holding the row
and then sees what it committed), the position just before this write: nothing of the
network can commit between it and the sequence the write takes while the lock is held."""

NOTIFY_PAYLOAD_LIMIT = 7800
"""Longer network ids are announced without the id: "some network changed"."""

_ANNOUNCE = f""",
    pg_notify(%s::text, %s::text || ' ' || CASE WHEN octet_length(f.network_id) <= {NOTIFY_PAYLOAD_LIMIT}
                                   THEN f.network_id ELSE '' END)"""

_MISSING = """
(SELECT count(*) FROM unnest(%b::text[], %b::text[]) WITH ORDINALITY AS r(n, g, i)
 WHERE CASE
     WHEN EXISTS (SELECT 1 FROM bassline_networks WHERE id = r.n)
          AND (r.g IS NULL OR EXISTS (
              SELECT 1 FROM bassline_groups WHERE network_id = r.n AND group_id = r.g))
     THEN false
     ELSE ('bassline: a reference is missing ' || r.i)::int = 0
 END)"""
"""How many references are missing, except that counting the first missing one fails the
statement the way :data:`_REQUIRE_REFERENCES` does (``CASE`` evaluates the cast only for
a missing reference)."""

_TAKEN = """WITH taken AS (
INSERT INTO bassline_feed AS f (network_id, seq)
SELECT n, nextval('bassline_change_seq') FROM unnest(%b::text[]) AS u(n)
WHERE {missing} = 0
ORDER BY n
ON CONFLICT (network_id) DO UPDATE SET seq = nextval('bassline_change_seq')
RETURNING f.network_id, f.seq{announce})"""

_TAKEN_UPSERT = _INSERT_CONTENTS.format(
    seq="taken.seq", join="JOIN taken ON taken.network_id = u.n", returning="RETURNING t.change_seq"
)

TAKE_AND_UPSERT = _TAKEN.format(missing=_MISSING, announce="") + _TAKEN_UPSERT
"""The batch's first content chunk, in one statement with the reference check
(:data:`_REQUIRE_REFERENCES`) and :data:`TAKE_SEQUENCE`: every network the batch writes
takes its next sequence, and each row of the chunk carries its network's (joined from
the feed rows written, not read back), returned for each row stored. Parameters: the
networks, the references' networks and groups, then the chunk's seven columns."""

TAKE_ANNOUNCE_AND_UPSERT = _TAKEN.format(missing=_MISSING, announce=_ANNOUNCE) + _TAKEN_UPSERT
""":data:`TAKE_AND_UPSERT` that also notifies a channel, per network, with
:func:`notify_payload` (delivered at commit, only if it commits). Parameters: the
networks, the references' networks and groups, the channel, the writer token, then the
chunk's seven columns."""

_ONE_REFERENCE = """FROM (SELECT %b::text AS n, %b::text AS g) AS r,
LATERAL (SELECT EXISTS (SELECT 1 FROM bassline_networks WHERE id = r.n)
                AND (r.g IS NULL OR EXISTS (
                    SELECT 1 FROM bassline_groups WHERE network_id = r.n AND group_id = r.g))
         AS ok) AS c
WHERE CASE WHEN c.ok THEN true
           ELSE ('bassline: a reference is missing ' || c.ok::text)::int = 0 END"""
"""The reference check of a one-row write: fails the statement like :data:`_MISSING` (the
cast's operand is the check's own result, never a constant the planner could fold)."""

_TAKEN_ONE = """WITH prev AS (
SELECT seq FROM bassline_feed WHERE network_id = %b::text FOR UPDATE),
taken AS (
INSERT INTO bassline_feed AS f (network_id, seq)
SELECT r.n, nextval('bassline_change_seq')
{reference}
  AND (SELECT count(*) FROM prev) >= 0
ON CONFLICT (network_id) DO UPDATE SET seq = nextval('bassline_change_seq')
RETURNING f.network_id, f.seq, f.xmax = 0 AS fresh{announce}),
stored AS (
INSERT INTO bassline_contacts AS t
    (network_id, contact_id, group_id, content, stamp_hlc, stamp_node, justification,
     change_seq)
SELECT taken.network_id, %b::text, %b::text, convert_from(%b::bytea, 'UTF8')::json,
       %b::int8, %b::bytea, %b::text, taken.seq
FROM taken
ON CONFLICT (network_id, contact_id) DO UPDATE
SET group_id = EXCLUDED.group_id, content = EXCLUDED.content,
    stamp_hlc = EXCLUDED.stamp_hlc, stamp_node = EXCLUDED.stamp_node,
    justification = EXCLUDED.justification, change_seq = EXCLUDED.change_seq
WHERE (t.stamp_hlc, t.stamp_node) <= (EXCLUDED.stamp_hlc, EXCLUDED.stamp_node)
RETURNING t.change_seq)
SELECT coalesce((SELECT seq FROM prev), CASE WHEN taken.fresh THEN 0 END), stored.change_seq
FROM stored, taken
"""
"""A one-row write in one statement: ``prev`` locks the network's feed row first (as
:data:`LOCK_FEED` does for a pipelined batch; the count makes it run before the insert),
so the sequence it reads is the position just before this write. Returns (that position,
the sequence taken) when the row was stored, nothing when it was stale. A write that
made the network's feed row (``fresh``: the row was inserted, not updated on conflict)
reports position 0: no content of the network was written with a sequence before it
(each such write makes or updates the row, and a network's deletion deletes both), and
a concurrent first write that had to wait for this insert updates the row after this
transaction, with a later sequence."""

TAKE_AND_UPSERT_ONE = _TAKEN_ONE.format(reference=_ONE_REFERENCE, announce="")
""":data:`TAKE_AND_UPSERT` for a batch of one content row, with scalar parameters: the
network and group it refers to, then the row's contact, group, content, hlc, node and
justification.

Why a statement of its own: the server plans a statement over ``unnest`` of parameter
arrays anew on every execution (its generic plan, made without knowing the arrays'
lengths, is costed for 100 rows each and so never chosen), which costs a few hundred
microseconds per write, several times a one-row upsert. With scalar parameters the
generic plan costs what a custom one does, and the server keeps it after five
executions."""

TAKE_ANNOUNCE_AND_UPSERT_ONE = _TAKEN_ONE.format(reference=_ONE_REFERENCE, announce=_ANNOUNCE)
""":data:`TAKE_AND_UPSERT_ONE` that also notifies, as :data:`TAKE_ANNOUNCE_AND_UPSERT` does.
Parameters: the network and group, the channel, the writer token, then the row."""

_REQUIRE_REFERENCES = """
SELECT ('bassline: a reference is missing ' || u.i)::int
FROM unnest(%b::text[], %b::text[]) WITH ORDINALITY AS u(n, g, i)
WHERE NOT (
    EXISTS (SELECT 1 FROM bassline_networks WHERE id = u.n)
    AND (u.g IS NULL OR EXISTS (
        SELECT 1 FROM bassline_groups WHERE network_id = u.n AND group_id = u.g)))
"""
"""Fails the transaction (a cast error, SQLSTATE 22P02) when a network or group the batch
refers to is not stored, so the pipeline's transaction is rolled back at its ``Sync``;
the error is then named by :data:`_CHECK_REFERENCES`."""

_CHECK_REFERENCES = """
SELECT u.i,
       EXISTS (SELECT 1 FROM bassline_networks WHERE id = u.n),
       u.g IS NULL OR EXISTS (
           SELECT 1 FROM bassline_groups WHERE network_id = u.n AND group_id = u.g)
FROM unnest(%b::text[], %b::text[]) WITH ORDINALITY AS u(n, g, i)
ORDER BY u.i
"""


def _first_missing(cur: psycopg.Cursor[Any], batch: PreparedBatch) -> StorageError | None:
    """NETWORK_NOT_FOUND / GROUP_NOT_FOUND for the first reference storage lacks, else None."""
    for index, has_network, has_group in cur.fetchall():
        network, group, what = batch.references[index - 1]
        if not has_network:
            return StorageError(
                ErrorCode.NETWORK_NOT_FOUND,
                f"network {network!r} not found ({what} refers to it); save the network "
                "first, or put its NetworkRecord in the same batch",
                transient=False,
            )
        if not has_group:
            return StorageError(
                ErrorCode.GROUP_NOT_FOUND,
                f"group {group!r} not found in network {network!r} ({what} belongs to it); "
                "add the group to the spec or write a GroupRecord in the same batch",
                transient=False,
            )
    return None


def _write_structure(conn: psycopg.Connection[Any], batch: PreparedBatch) -> None:
    if batch.specs:
        conn.execute(_UPSERT_NETWORKS, [[n for n, _ in batch.specs], [s for _, s in batch.specs]])
        replaced = list(batch.replaced)
        conn.execute(_CLEAR_GROUPS, [replaced])
        conn.execute(_CLEAR_WIRES, [replaced])
    if batch.groups:
        rows = batch.groups
        conn.execute(
            _UPSERT_GROUPS,
            [
                [r.network for r in rows],
                [r.group for r in rows],
                [r.body for r in rows],
                [r.search for r in rows],
            ],
        )
    if batch.wires:
        wires = batch.wires
        conn.execute(
            _UPSERT_WIRES,
            [
                [w.network for w in wires],
                [w.wire for w in wires],
                [w.source for w in wires],
                [w.target for w in wires],
                [w.type for w in wires],
            ],
        )


def notify_payload(writer: str, network: str) -> str:
    """``"<writer> <network>"`` (the network left out when too long for a payload)."""
    return f"{writer} {network if len(network.encode()) <= NOTIFY_PAYLOAD_LIMIT else ''}"


def _send(
    conn: psycopg.Connection[Any],
    batch: PreparedBatch,
    chunk: int,
    channel: tuple[str, str] | None,
) -> tuple[list[psycopg.Cursor[Any]], psycopg.Cursor[Any] | None]:
    """Queue every statement of ``batch`` on the pipeline: the content upserts' cursors,
    and for contents of one network the cursor of :data:`LOCK_FEED`."""
    columns = batch.contents
    references = [[r[0] for r in batch.references], [r[1] for r in batch.references]]
    if batch.references and not len(columns):
        conn.execute(_REQUIRE_REFERENCES, references)
    _write_structure(conn, batch)
    upserts = []
    positions = None
    if len(columns):  # the references are checked by the first chunk's statement
        networks = sorted(set(columns.networks))
        if len(networks) == 1:
            positions = conn.cursor()
            positions.execute(LOCK_FEED, networks)
        first = columns.chunk(0, chunk)
        upserts.append(conn.cursor())
        if channel is None:
            upserts[-1].execute(TAKE_AND_UPSERT, [networks, *references, *first])
        else:
            upserts[-1].execute(TAKE_ANNOUNCE_AND_UPSERT, [networks, *references, *channel, *first])
    for start in range(chunk, len(columns), chunk):
        upserts.append(conn.cursor())
        upserts[-1].execute(UPSERT_CONTENTS, columns.chunk(start, start + chunk))
    return upserts, positions


def _feed_positions(
    positions: psycopg.Cursor[Any] | None, first: psycopg.Cursor[Any] | None
) -> tuple[int, int] | None:
    """(before, after) for ``WriteSummary.feed``: the locked row's sequence and the one the
    first chunk's rows carry. None for a network written for the first time (no feed row
    to lock: a concurrent first write could come in between) and when the first chunk
    stored nothing (every row stale)."""
    if positions is None or first is None:
        return None
    before, after = positions.fetchone(), first.fetchone()
    if before is None or after is None:
        return None
    return int(before[0]), int(after[0])


def _one_row_feed(cursor: psycopg.Cursor[Any]) -> tuple[int, int] | None:
    """``WriteSummary.feed`` of a one-row write (:data:`TAKE_AND_UPSERT_ONE`): None for a
    stale row and for a network's first write made concurrently with another (which then
    found no feed row to lock, and did not make it)."""
    row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def _one_row(batch: PreparedBatch, channel: tuple[str, str] | None) -> tuple[str, list[Any]] | None:
    """The statement and parameters of a batch that is one content row and nothing else
    (the common durable write of one contact), else None."""
    columns = batch.contents
    if len(columns) != 1 or batch.specs or batch.groups or batch.wires:
        return None
    network, group = columns.networks[0], columns.groups[0]
    if len(batch.references) != 1 or batch.references[0][:2] != (network, group):
        return None
    row = [
        columns.contacts[0],
        group,
        columns.contents[0],
        columns.hlcs[0],
        columns.nodes[0],
        columns.justifications[0],
    ]
    if channel is None:
        return TAKE_AND_UPSERT_ONE, [network, network, group, *row]
    return TAKE_ANNOUNCE_AND_UPSERT_ONE, [network, network, group, *channel, *row]


def _roll_back(conn: psycopg.Connection[Any]) -> None:
    """End the transaction of a failed batch if one is still open (the connection goes
    back to the pool idle); a connection that cannot even do that is left for the pool to
    discard."""
    with contextlib.suppress(psycopg.Error):
        conn.rollback()


def _missing_reference(conn: psycopg.Connection[Any], batch: PreparedBatch) -> StorageError | None:
    """After a failed batch (rolled back): which reference storage lacks, if one does."""
    conn.rollback()
    check = conn.execute(
        _CHECK_REFERENCES,
        [[r[0] for r in batch.references], [r[1] for r in batch.references]],
    )
    missing = _first_missing(check, batch)
    conn.rollback()
    return missing


def write_batch(
    conn: psycopg.Connection[Any],
    batch: PreparedBatch,
    chunk: int = CONTENT_CHUNK,
    channel: tuple[str, str] | None = None,
    *,
    commit: bool = False,
) -> WriteSummary | StorageError:
    """Apply ``batch`` in one transaction and commit it, in one round trip to the server.

    ``conn`` must be in autocommit mode: every statement is queued on a pipeline, sent,
    and followed by one ``Sync``; the server runs what comes before the ``Sync`` as one
    implicit transaction and commits it there (so the network's feed row is locked for
    the server's work only, never across a round trip to this process). A failed
    statement makes the server skip the rest and roll the transaction back at the
    ``Sync``; nothing of the batch is stored. A batch of one content row and nothing else
    is one statement (:data:`TAKE_ANNOUNCE_AND_UPSERT_ONE`), sent without a pipeline:
    alone, it is its own transaction, committed before the server answers.

    Contents take their networks' next change sequence; with a ``channel`` (name, writer
    token) the commit notifies it with a :func:`notify_payload` per network. For contents
    of one network the summary's ``feed`` is the position before the write and the one it
    took (:data:`LOCK_FEED`, or the one-row statement's own lock). Returns an error
    (nothing committed) for a missing network or group.

    With ``commit`` the caller has begun the transaction (``BEGIN``, then work of its
    own: :mod:`~bassline_storage_postgres.joining`): every statement goes on the pipeline,
    the one-row statement too (unprepared, as everything on a pipeline), followed by
    ``COMMIT``.
    """
    one = _one_row(batch, channel)
    try:
        if one is not None and not commit:
            # one statement is a transaction of its own in autocommit mode: no pipeline
            upserts, positions = [conn.execute(*one)], None
        else:
            # nothing on a pipeline is prepared: when a statement fails, the server skips
            # the rest, their preparation too, and psycopg would still count them as
            # prepared ("prepared statement ... does not exist" on the next write)
            threshold, conn.prepare_threshold = conn.prepare_threshold, None
            try:
                with conn.pipeline():
                    if one is not None:  # in the caller's transaction: then COMMIT
                        upserts, positions = [conn.execute(*one)], None
                    else:
                        upserts, positions = _send(conn, batch, chunk, channel)
                    if commit:
                        conn.execute("COMMIT")
            finally:
                conn.prepare_threshold = threshold
    except (psycopg.errors.ForeignKeyViolation, psycopg.errors.InvalidTextRepresentation):
        # a network or group that is not stored (the foreign key, or the reference guard)
        if batch.references and (missing := _missing_reference(conn, batch)):
            return missing
        _roll_back(conn)
        raise
    except BaseException:
        _roll_back(conn)
        raise
    stored = sum(cur.rowcount for cur in upserts)
    columns = batch.contents
    return WriteSummary(
        networks=batch.networks,
        groups=batch.group_records,
        wires=batch.wire_records,
        contents=stored,
        stale=len(columns) - stored,
        feed=_one_row_feed(upserts[0])
        if one is not None
        else _feed_positions(positions, upserts[0] if upserts else None),
    )
