"""Waiting for a query's answer on a non-blocking libpq connection from the event loop.

The change feed's listener (:mod:`~bassline_storage_postgres.listen`) and the one-row
writer (:mod:`~bassline_storage_postgres.loopwrite`) send a query with libpq's
non-blocking calls, then wait here on the connection's socket (``anyio.wait_writable`` /
``anyio.wait_readable``: asyncio and trio alike; the loop never blocks).
"""

from __future__ import annotations

import anyio
from psycopg import pq

__all__ = ["last_result"]


async def last_result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    """Flush the query just sent on ``pgconn``, wait for its answer, and return its last
    result (None when there is none). Raises what libpq and the socket raise
    (``psycopg.Error``, ``OSError``; ``NotImplementedError`` from an event loop that
    cannot wait on a socket)."""
    socket = pgconn.socket
    while pgconn.flush():
        await anyio.wait_writable(socket)
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        await anyio.wait_readable(socket)
    result = None
    while (got := pgconn.get_result()) is not None:
        result = got
    return result
