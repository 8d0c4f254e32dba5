"""A batch that writes merge contacts: their stored rows joined in the write's transaction.

Only a batch holding a record of a merge contact comes here (through
:meth:`~bassline_storage_postgres.PostgresStorage.write_joining`); every other batch is
written by :func:`~bassline_storage_postgres.bulk.write_batch` as before, in its one
round trip. This one takes two, in one transaction:

1. ``BEGIN``; take the networks' joining locks (:data:`LOCK_FIRST`: a batch that saves
   a network along with its first contents has no row to lock yet); lock the feed row of every network the batch writes contents of
   (:data:`ENSURE_FEED` makes a missing one first, at sequence 0, so that a network's
   first writers serialise too; :data:`LOCK_FEEDS` locks them in id order, as every
   writer takes them); read the stored rows of the batch's merge contacts
   (:data:`STORED`). Every writer of a network's contents holds its feed row from
   taking its sequence until it commits, so nothing can change these rows until this
   transaction ends, and a read started after the lock sees every committed write.
2. Join in this process (:func:`bassline.storage.joins.join_batch`), then send the joined
   batch on a pipeline as :func:`~bassline_storage_postgres.bulk.write_batch` does, with
   ``COMMIT`` at its end.

A join the lattice refuses rolls the transaction back and returns CONFLICT: nothing of
the batch is stored.
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
import psycopg

from bassline.errors import ContentError
from bassline.storage import ContentRecord, StorageError, WriteSummary
from bassline.storage.toolkit import CheckedBatch, Joins, join_batch, merge_records
from bassline_storage_postgres.bulk import write_batch
from bassline_storage_postgres.prepare import prepare_batch
from bassline_storage_postgres.queries import content_record, corrupt

__all__ = ["ENSURE_FEED", "LOCK_FEEDS", "LOCK_FIRST", "STORED", "read_stored", "write_joined"]

LOCK_FIRST = """
SELECT pg_advisory_xact_lock(hashtextextended('bassline_feed ' || n, 0))
FROM unnest(%b::text[]) AS u(n)
"""
"""A transaction lock per network (the ids sorted: taken in that order), held by joining
writers only: the feed row cannot serialise the writers of a network that is not stored
yet (a batch that saves it too), which would each read no row and the older stamp's write
would be lost; with this, the second reads after the first commits."""

ENSURE_FEED = """
INSERT INTO bassline_feed AS f (network_id, seq)
SELECT n, 0 FROM unnest(%b::text[]) AS u(n)
WHERE EXISTS (SELECT 1 FROM bassline_networks WHERE id = u.n)
ORDER BY n
ON CONFLICT (network_id) DO NOTHING
"""
"""A feed row (at sequence 0: the position of a network nothing was written to) for each
stored network that has none yet; an existing row is left alone. A concurrent first
writer's row makes this wait for it to end."""

LOCK_FEEDS = """
SELECT network_id FROM bassline_feed WHERE network_id = ANY(%b::text[])
ORDER BY network_id FOR UPDATE
"""
"""Lock the networks' feed rows, in id order (as :data:`~bassline_storage_postgres.bulk.
TAKE_SEQUENCE` takes them: no deadlock with another batch)."""

STORED = """
SELECT c.network_id, c.contact_id, c.group_id, c.content::text, c.stamp_hlc, c.stamp_node,
       c.justification
FROM unnest(%b::text[], %b::text[]) AS u(n, c)
JOIN bassline_contacts AS c ON c.network_id = u.n AND c.contact_id = u.c
"""
"""The stored rows of the batch's merge contacts (read after :data:`LOCK_FEEDS`)."""


def _roll_back(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.rollback()


def read_stored(
    conn: psycopg.Connection[Any], batch: CheckedBatch, joins: Joins
) -> dict[tuple[str, str], ContentRecord] | StorageError:
    """Begin, lock the feed rows, and read the merge contacts' stored records."""
    merges = merge_records(batch.contents, joins)
    networks = sorted({r.network for r in batch.contents})
    # unprepared, as everything on a pipeline (bulk.write_batch says why)
    threshold, conn.prepare_threshold = conn.prepare_threshold, None
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            conn.execute(LOCK_FIRST, [networks])
            conn.execute(ENSURE_FEED, [networks])
            conn.execute(LOCK_FEEDS, [networks])
            rows = conn.execute(STORED, [[r.network for r in merges], [r.contact for r in merges]])
    finally:
        conn.prepare_threshold = threshold
    stored: dict[tuple[str, str], ContentRecord] = {}
    for network, *row in rows.fetchall():
        try:
            stored[(network, row[0])] = content_record(network, row)
        except (ContentError, UnicodeDecodeError, ValueError) as exc:
            return corrupt(f"content of contact {row[0]!r} in network {network!r}", exc)
    return stored


def write_joined(
    conn: psycopg.Connection[Any],
    batch: CheckedBatch,
    joins: Joins,
    chunk: int,
    channel: tuple[str, str] | None,
) -> WriteSummary | StorageError:
    """Write ``batch`` with its merge records joined with the stored ones, in one
    transaction of two round trips (see the module doc); ``conn`` is in autocommit mode."""
    try:
        stored = read_stored(conn, batch, joins)
        joined = stored if isinstance(stored, StorageError) else join_batch(batch, stored, joins)
        if isinstance(joined, StorageError):
            _roll_back(conn)
            return joined
        prepared = prepare_batch(joined.batch)
        if isinstance(prepared, StorageError):
            _roll_back(conn)
            return prepared
        if prepared.is_empty:  # every merge record added nothing: store nothing
            conn.execute("COMMIT")
            return WriteSummary(stale=joined.unchanged)
    except BaseException:
        _roll_back(conn)
        raise
    summary = write_batch(conn, prepared, chunk, channel, commit=True)
    if isinstance(summary, StorageError):
        return summary
    return attrs.evolve(summary, stale=summary.stale + joined.unchanged, joined=joined.grown)
