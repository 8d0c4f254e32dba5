"""What every PostgreSQL test fixture shares: the server URL, and skip-or-fail when it is
down; ending a test's own sessions (never another test's on the same server)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from bassline.spec import Bassline

__all__ = [
    "DEFAULT_URL",
    "end_claim_sessions",
    "end_feed_sessions",
    "require_postgres_url",
    "with_parts",
    "with_query",
]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def with_query(url: str, **query: str) -> str:
    """``url`` with query parameters added or replaced."""
    return make_url(url).update_query_dict(query).render_as_string(hide_password=False)


def with_parts(url: str, **parts: object) -> str:
    """``url`` with user, password, host, port or database replaced."""
    return make_url(url).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


def require_postgres_url() -> str:
    """``BASSLINE_TEST_POSTGRES_URL`` (or the default) if reachable.

    Otherwise skip with the reason — or fail, when ``BASSLINE_REQUIRE_POSTGRES=1`` (CI sets
    it, so the suite can never pass by not running these tests).
    """
    url = os.environ.get("BASSLINE_TEST_POSTGRES_URL", DEFAULT_URL)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = f"PostgreSQL not reachable at {url} ({str(exc).strip().splitlines()[0]})"
        if os.environ.get("BASSLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; BASSLINE_REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(f"{reason}; set BASSLINE_TEST_POSTGRES_URL to a server to run these tests")
    return url


def _end_sessions(admin: psycopg.Connection[Any], query: sql.Composable, params: Any) -> list[int]:
    rows = admin.execute(query, params).fetchall()
    return sorted(pid for pid, done in rows if done)


def end_feed_sessions(
    admin: psycopg.Connection[Any], schema: str, member: str, spared: Iterable[int] = ()
) -> list[int]:
    """``pg_terminate_backend`` on the live listening sessions ``schema``'s
    ``bassline_members`` lists under ``member`` (on ``admin``'s database), except the pids
    ``spared``; the pids ended. Only this test's own sessions: another test's session of
    the same ``application_name`` (``bassline-feed:<member>``) on the same server, in
    another schema or database, is never touched. Pass the pids ended before as ``spared``
    to end a new session: a terminated backend lingers in ``pg_stat_activity`` briefly."""
    query = sql.SQL(
        "SELECT a.pid, pg_terminate_backend(a.pid) FROM {}.bassline_members AS m"
        " JOIN pg_stat_activity AS a"
        " ON a.pid = m.backend_pid AND a.backend_start = m.backend_start"
        " WHERE m.member = %s AND a.datname = current_database() AND NOT a.pid = ANY(%s)"
    ).format(sql.Identifier(schema))
    return _end_sessions(admin, query, (member, list(spared)))


def end_claim_sessions(
    admin: psycopg.Connection[Any], schema: str, spec: Bassline, holder: str
) -> list[int]:
    """``pg_terminate_backend`` on ``holder``'s claim sessions that hold a gadget group of
    ``spec`` in ``schema`` (on ``admin``'s database); the pids ended. Only this test's own
    sessions: another test's claim session of the same holder name on the same server
    holds other keys (the schema is part of each group's advisory lock key)."""
    from bassline_storage_postgres.claims import APPLICATION_PREFIX, lock_key

    keys = [lock_key(schema, spec.id, g.id) for g in spec.groups if g.gadget]
    query = sql.SQL(
        "SELECT a.pid, pg_terminate_backend(a.pid) FROM pg_stat_activity AS a"
        " WHERE a.application_name = %s AND a.datname = current_database() AND EXISTS ("
        "SELECT 1 FROM pg_locks AS l WHERE l.pid = a.pid AND l.locktype = 'advisory'"
        " AND l.granted AND l.objsubid = 1"
        " AND ((l.classid::bigint << 32) | l.objid::bigint) = ANY(%s))"
    )
    return _end_sessions(admin, query, (APPLICATION_PREFIX + holder, keys))
