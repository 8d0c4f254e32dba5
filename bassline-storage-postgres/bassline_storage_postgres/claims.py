"""Gadget group ownership through session-level advisory locks (``ClaimsGroups``).

Each claim session is one connection of its own, outside the pool, in autocommit mode.
A group is held by ``pg_try_advisory_lock(key)`` on it, the key a 64-bit hash of
(schema, network, group); the lock lives exactly as long as the session. The session's
``application_name`` is ``bassline-owner:<holder>``, which is how other processes (and
``pg_stat_activity``) see who owns a group.

How fast a dead holder's locks go:

- its process exits or is killed (``kill -9``): the kernel closes its socket, the server
  ends the session at once and the locks are free;
- its session is ended by the server (``pg_terminate_backend``, a restart): at once; the
  holder sees its socket become readable and stops running its groups without waiting
  for a poll (:meth:`AdvisoryClaims.wait_lost`);
- its host or the network vanishes: the server's TCP keepalives on this session
  (``tcp_keepalives_idle`` 5 s, ``_interval`` 2 s, ``_count`` 3) end it within about
  11 s; the holder's own libpq keepalives (3 s, 1 s, 3) make it give up its groups
  within about 6 s, before the server frees them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Collection
from types import TracebackType
from typing import Any

import anyio
import anyio.to_thread
import psycopg
from returns.result import Failure, Success

from bassline.storage import Claims, StorageError, StorageResult
from bassline_storage_postgres.engine import session_options
from bassline_storage_postgres.errors import ErrorContext, map_exception
from bassline_storage_postgres.url import PostgresConfig

__all__ = ["APPLICATION_PREFIX", "AdvisoryClaims", "lock_key"]

APPLICATION_PREFIX = "bassline-owner:"
"""The ``application_name`` of a claim session starts with this, then the holder's name."""

_SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"
)
_CLIENT_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 3,
    "keepalives_interval": 1,
    "keepalives_count": 3,
}

_TRY = "SELECT k, pg_try_advisory_lock(k) FROM unnest(%s::bigint[]) AS k"
_UNLOCK = "SELECT pg_advisory_unlock(k) FROM unnest(%s::bigint[]) AS k"
_HOLDERS = """
SELECT (l.classid::bigint << 32) | l.objid::bigint, a.application_name, l.pid
FROM pg_locks AS l LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def lock_key(schema: str, network: str, group: str) -> int:
    """The advisory lock key of one gadget group of one network in one schema: a signed
    64-bit hash (advisory locks are per database, so the schema is part of the key)."""
    text = f"bassline-group\0{schema}\0{network}\0{group}"
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _unsigned(key: int) -> int:
    return key & 0xFFFF_FFFF_FFFF_FFFF


class AdvisoryClaims:
    """One claim session: a dedicated connection holding advisory locks for a process."""

    def __init__(self, config: PostgresConfig, network: str, holder: str) -> None:
        self._config = config
        self._ctx = ErrorContext.of(config)
        self._network = network
        self._holder = holder
        self._conn: psycopg.Connection[Any] | None = None
        self._held: dict[str, int] = {}

    @property
    def held(self) -> frozenset[str]:
        """The groups this session holds now."""
        return frozenset(self._held)

    async def __aenter__(self) -> AdvisoryClaims:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._drop)

    # -- the connection (used from one worker thread at a time) ------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        url = self._config.url.set(drivername="postgresql", query={})
        params = {k: v for k, v in self._config.url.query.items() if isinstance(v, str)}
        extra = params.pop("options", None)
        options = session_options(self._config, extra)
        name = (APPLICATION_PREFIX + self._holder).encode()[:63].decode(errors="ignore")
        return psycopg.connect(
            url.render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=self._config.connect_timeout,
            options=f"{options} {_SERVER_KEEPALIVES}",
            application_name=name,
            **{**params, **_CLIENT_KEEPALIVES},
        )

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held = {}
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _claim(self, groups: Collection[str]) -> Claims | StorageError:
        wanted = {g: lock_key(self._config.schema, self._network, g) for g in groups}
        try:
            if self._conn is None or self._conn.closed:
                self._drop()
                self._conn = self._connect()
            conn = self._conn
            gone = [k for g, k in self._held.items() if g not in wanted]
            if gone:
                conn.execute(_UNLOCK, [gone])
                self._held = {g: k for g, k in self._held.items() if g in wanted}
            missing = {k: g for g, k in wanted.items() if g not in self._held}
            if missing:
                for key, got in conn.execute(_TRY, [list(missing)]).fetchall():
                    if got:
                        self._held[missing[key]] = key
            by_key = {_unsigned(k): g for g, k in wanted.items()}
            holders: dict[str, str] = {}
            for key, app, pid in conn.execute(_HOLDERS).fetchall():
                group = by_key.get(_unsigned(int(key)))
                if group is None:
                    continue
                if isinstance(app, str) and app.startswith(APPLICATION_PREFIX):
                    holders[group] = app[len(APPLICATION_PREFIX) :]
                else:
                    holders[group] = f"pid {pid}"
        except Exception as exc:
            self._drop()
            error = map_exception(exc, self._ctx, "claiming gadget groups")
            if error is None:
                raise
            return error
        return Claims(frozenset(self._held), holders)

    def _alive(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.execute("SELECT 1")
        except Exception:
            self._drop()
            return False
        return True

    # -- the ability -----------------------------------------------------------------------

    async def claim(self, groups: Collection[str]) -> StorageResult[Claims]:
        """Take the free groups among ``groups``; release held ones not among them."""
        wanted = list(groups)
        out = await anyio.to_thread.run_sync(self._claim, wanted)
        if isinstance(out, StorageError):
            return Failure(out)
        return Success(out)

    async def wait_lost(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the session to end; True if it did.

        An idle session receives nothing unless the server is ending it, so its socket
        becoming readable wakes this at once; the session is then checked with a query.
        """
        conn = self._conn
        if conn is None or conn.closed:  # no session: nothing to lose; the caller's poll
            self._held = {}
            await anyio.sleep(seconds)
            return False
        with anyio.move_on_after(seconds):
            while True:
                await anyio.wait_readable(conn.fileno())
                if not await anyio.to_thread.run_sync(self._alive):
                    return True
        return False
