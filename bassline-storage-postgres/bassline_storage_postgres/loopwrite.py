"""``LoopWriter``: one-row writes sent from the event loop, on a connection of their own.

A durable writer of one contact makes a batch of one content row, written by one statement
(:data:`~bassline_storage_postgres.bulk.TAKE_ANNOUNCE_AND_UPSERT_ONE`). Through the pool
that statement costs a worker-thread hop there and back, SQLAlchemy's checkout and
checkin, and psycopg's per-parameter dumpers: about three times the client CPU of the
statement itself (``docs/benchmarks.md``, "Durable PostgreSQL writes, session 14").
Here it goes out from the event loop instead, as the change feed's reads do
(:mod:`~bassline_storage_postgres.listen`): the statement is prepared once per
session, its parameters are sent as bytes in binary form, and the answer is awaited on
the socket (``anyio.wait_readable``: asyncio and trio alike; the loop never blocks).

The connection is the storage's own (autocommit, the same session settings as the pool's,
``client_encoding`` UTF8), opened in a worker thread after a one-row write through the
pool succeeded (so never while the server is unreachable, and never on the event loop),
closed with the storage. It serves one write at a time; a write that finds it busy, or
absent, goes through the pool as before. A write that fails here in any way is not
reported from here: the connection is dropped when it may be unusable, and the batch goes
through the pool, whose path reports every error as before (a statement the server
refused was rolled back, so nothing of it is stored; one whose connection was lost may
have committed, and writing it again is idempotent under the stamp guard) — except a
statement the server cancelled (``statement_timeout``, SQLSTATE 57014): its error is
reported from here, as the pool's path reports it, since through the pool the statement
would run, and time out, once more (twice ``statement_timeout`` in all). Durability is
the same: the statement is its own transaction, committed before the server answers.
"""

from __future__ import annotations

import contextlib
import logging
import re
import struct
import time
from typing import Any

import anyio
import psycopg
from psycopg import pq

from bassline.storage import WriteSummary
from bassline.storage.toolkit import CheckedBatch
from bassline_storage_postgres.bulk import TAKE_ANNOUNCE_AND_UPSERT_ONE
from bassline_storage_postgres.pqwait import last_result

__all__ = ["STATEMENT", "LoopWriter", "one_row_params"]

log = logging.getLogger("bassline.storage.postgres")

STATEMENT = "bassline_write_one"
"""The name the writer's session prepares the one-row statement under."""

RETRY_CONNECT = 1.0
"""Seconds after a failed attempt to open the connection before the next one."""

_PLACEHOLDER = re.compile(r"%[bs]")


def _numbered(query: str) -> str:
    """``query`` with psycopg's ``%b``/``%s`` placeholders numbered ``$1``, ``$2``, ..."""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, query)


_PREPARE = f"PREPARE {STATEMENT} AS {_numbered(TAKE_ANNOUNCE_AND_UPSERT_ONE)}"
_INT8 = struct.Struct(">q")
_BINARY = [1] * 11  # a list: psycopg 3.2 takes no tuple here
_SQLSTATE = pq.DiagnosticField.SQLSTATE
_QUERY_CANCELED = b"57014"


def one_row_params(batch: CheckedBatch, channel: str, writer: str) -> list[bytes | None] | None:
    """The prepared statement's parameters, in binary form, for a batch of exactly one
    content record (the batch ``bulk.write_batch`` writes with the one-row statement),
    else None."""
    if len(batch.contents) != 1 or batch.networks or batch.groups or batch.wires:
        return None
    record = batch.contents[0]
    try:
        network = record.network.encode()
        group = record.group.encode()
        justification = record.justification
        return [
            network,
            network,
            group,
            channel.encode(),
            writer.encode(),
            record.contact.encode(),
            group,
            batch.encoded[0],
            _INT8.pack(record.stamp.hlc),
            record.stamp.node.encode(),
            None if justification is None else justification.encode(),
        ]
    except (UnicodeEncodeError, struct.error):  # the pool's path names the problem
        return None


class LoopWriter:
    """The storage's own connection for one-row writes from the event loop (module doc)."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.Connection[Any] | None = None
        self._busy = False
        self._closed = False
        self._next_connect = 0.0
        self.writes = 0
        """One-row writes committed on this connection."""
        self.handed_back = 0
        """Writes that failed here and went through the pool instead."""
        self.cancelled = 0
        """Writes whose statement the server cancelled (reported from here, not retried)."""
        self.connects = 0
        """Times the connection was opened."""

    @property
    def ready(self) -> bool:
        """Whether a write can go out on the connection now (open and idle)."""
        return self._conn is not None and not self._busy

    @property
    def backend_pid(self) -> int | None:
        """The server process of the connection, while there is one (for tools and tests)."""
        conn = self._conn
        return None if conn is None else conn.info.backend_pid

    def wants_connection(self) -> bool:
        """Whether :meth:`open_blocking` should be tried now: no connection, not closed,
        and the last failed attempt long enough ago."""
        return self._conn is None and not self._closed and time.monotonic() >= self._next_connect

    def open_blocking(self) -> psycopg.Connection[Any] | None:
        """Open and prepare a connection (blocks: call in a worker thread); None when it
        failed (the next attempt waits :data:`RETRY_CONNECT` seconds)."""
        # anything raised here would turn the write it follows, committed, into a failure
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
        except Exception as exc:
            self._next_connect = time.monotonic() + RETRY_CONNECT
            log.debug("the one-row writer's connection could not be opened: %s", exc)
            return None
        try:
            conn.execute(_PREPARE)
        except Exception as exc:
            self._next_connect = time.monotonic() + RETRY_CONNECT
            log.debug("the one-row writer's statement could not be prepared: %s", exc)
            conn.close()
            return None
        return conn

    def install(self, conn: psycopg.Connection[Any]) -> bool:
        """Use ``conn`` (from :meth:`open_blocking`, back on the event loop); False when
        the writer is closed or has one already (the caller closes ``conn``)."""
        if self._closed or self._conn is not None:
            return False
        self._conn = conn
        self.connects += 1
        return True

    async def write(self, params: list[bytes | None]) -> WriteSummary | psycopg.Error | None:
        """Send the one-row statement and await its answer in the event loop; the
        summary; the server's error when it cancelled the statement (``statement_timeout``
        or a cancel request: the pool's path would report that error too, after running the
        statement, and waiting, once more); or None when it did not succeed here for any
        other reason (the caller writes the batch through the pool). Call only when
        :attr:`ready`."""
        conn = self._conn
        assert conn is not None and not self._busy
        self._busy = True
        try:
            rows = await self._execute(conn.pgconn, params)
        except BaseException:  # cancelled mid-statement: the session's state is unknown
            self._drop()
            raise
        finally:
            self._busy = False
        if isinstance(rows, psycopg.Error):
            self.cancelled += 1
            return rows
        if rows is None:
            self.handed_back += 1
            return None
        self.writes += 1
        stored = len(rows)
        feed = None
        if stored and (before := rows[0][0]) is not None and (after := rows[0][1]) is not None:
            feed = (int(before), int(after))
        return WriteSummary(contents=stored, stale=1 - stored, feed=feed)

    async def _execute(
        self, pgconn: pq.abc.PGconn, params: list[bytes | None]
    ) -> list[tuple[bytes | None, bytes | None]] | psycopg.Error | None:
        """The statement's rows; the error of a statement the server cancelled; or None
        after any other failure (the connection dropped unless the server just refused
        the statement)."""
        try:
            pgconn.send_query_prepared(STATEMENT.encode(), params, _BINARY)
            result = await last_result(pgconn)
        except (psycopg.Error, OSError, anyio.ClosedResourceError) as exc:
            log.debug("the one-row writer's connection failed: %s", exc)
            self._drop()
            return None
        except NotImplementedError as exc:  # an event loop that cannot wait on a socket
            log.warning("one-row writes go through the pool: %s", exc)
            self.close()
            return None
        if result is None or result.status != pq.ExecStatus.TUPLES_OK:
            if (
                pgconn.status != pq.ConnStatus.OK
                or pgconn.transaction_status != pq.TransactionStatus.IDLE
            ):
                self._drop()
            elif result is not None and result.error_field(_SQLSTATE) == _QUERY_CANCELED:
                return psycopg.errors.error_from_result(result, encoding="utf-8")
            return None
        return [(result.get_value(r, 0), result.get_value(r, 1)) for r in range(result.ntuples)]

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            anyio.notify_closing(conn.pgconn.socket)
        with contextlib.suppress(Exception):
            conn.close()

    def close(self) -> None:
        """Close the connection (a write awaiting its answer fails over to the pool, which
        is closed too); no connection is opened afterwards."""
        self._closed = True
        self._drop()
