"""The SQLAlchemy engine: psycopg 3, a bounded pool, and per-connection session settings.

Every connection starts with ``search_path`` (only the configured schema),
``statement_timeout`` and ``synchronous_commit`` set through libpq's ``options``, so
they hold from the first statement (SQLAlchemy's own first-connect queries included).
JSON parameters given as bytes (canonical JSON encoded by the caller) pass through the
serializer untouched.

A connection taken from the pool is checked first (:func:`ping_stale`: one empty query,
one round trip) only when it has been idle for at least :data:`PING_AFTER` seconds; one
that was in use moments ago is handed out as is, because a ping on every checkout is a
round trip (two, with SQLAlchemy's own ``pool_pre_ping``: ``BEGIN`` and ``SELECT 1``) on
every write. A connection that died meanwhile anyway fails its statement with a
connection error, which is transient (the runtime retries it), and SQLAlchemy then
discards it and every pooled connection opened before it.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

from bassline_storage_postgres.url import PostgresConfig

__all__ = ["PING_AFTER", "make_engine", "ping_stale", "raw_json", "session_options"]

PING_AFTER = 1.0
"""Seconds a pooled connection may sit idle before it is pinged on checkout."""

_IDLE_SINCE = "bassline_idle_since"


def raw_json(value: Any) -> bytes:
    """The JSON serializer: bytes are already-encoded JSON and pass through untouched."""
    if isinstance(value, bytes):
        return value
    return orjson.dumps(value)


_SPLITS = frozenset(" \t\n\r\v\f")
"""What the server splits a startup ``options`` string at (C's ``isspace``), unless escaped."""


def _option_value(value: str) -> str:
    """``value`` as one word of libpq's ``options``: a backslash before each backslash and
    each white-space character (a schema may be named with a tab or a newline)."""
    return "".join("\\" + c if c == "\\" or c in _SPLITS else c for c in value)


def session_options(config: PostgresConfig, extra: str | None = None) -> str:
    """The libpq ``options`` string that sets our session parameters at connection start."""
    schema = '"' + config.schema.replace('"', '""') + '"'
    parts = [
        f"-c search_path={_option_value(schema)}",
        f"-c statement_timeout={config.statement_timeout}",
        f"-c synchronous_commit={config.synchronous_commit}",
    ]
    if extra:
        parts.insert(0, extra)
    return " ".join(parts)


def make_engine(config: PostgresConfig, *, pool_size: int | None = None) -> Engine:
    """A new engine for ``config`` (``pool_size`` overrides the configured size)."""
    size = config.pool_size if pool_size is None else pool_size
    overflow = config.max_overflow if pool_size is None else 0
    engine = create_engine(
        config.url,
        pool_size=size,
        max_overflow=overflow,
        pool_pre_ping=False,  # ping_stale instead
        pool_timeout=max(30, config.connect_timeout),
        connect_args={
            "connect_timeout": config.connect_timeout,
            "options": session_options(config, config.url.query.get("options")),  # type: ignore[arg-type]
        },
        json_serializer=raw_json,
    )
    event.listen(engine.pool, "connect", _mark_idle)
    event.listen(engine.pool, "checkin", _mark_idle)
    event.listen(engine.pool, "checkout", ping_stale)
    return engine


def _mark_idle(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def ping_stale(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    """On checkout: ping a connection idle for :data:`PING_AFTER` seconds or more (one
    empty query), and have the pool replace it if the ping fails."""
    since = record.info.get(_IDLE_SINCE)
    if since is not None and time.monotonic() - since < PING_AFTER:
        return
    pgconn = dbapi_connection.pgconn
    try:
        result = pgconn.exec_(b"")
    except psycopg.Error as exc:
        raise DisconnectionError(f"pooled connection is gone: {exc}") from exc
    if (
        pgconn.status != psycopg.pq.ConnStatus.OK
        or result.status != psycopg.pq.ExecStatus.EMPTY_QUERY
    ):
        raise DisconnectionError(f"pooled connection failed its ping: {result.error_message!r}")
