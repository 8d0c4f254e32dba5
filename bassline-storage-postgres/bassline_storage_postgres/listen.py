"""``PgChangeWatch``: one listening connection that wakes a reader of the change feed.

The watch holds its own connection (outside the pool, autocommit, ``LISTEN`` on the
schema's channel) and waits for its socket to become readable in the event loop
(``anyio.wait_readable``: asyncio and trio alike, no thread parked on it). A
notification naming the watched network (or an empty one: a network id too long for a
payload) ends :meth:`PgChangeWatch.wait`, unless it was made through the storage
object that made the watch (the payload names the writing storage). A lost connection (``pg_terminate_backend``, a
server restart) is noticed when its socket reports the close; the watch reconnects with
backoff and then returns from ``wait``, because whatever was committed meanwhile was
announced to nobody: the reader re-reads from its cursor. The connection also registers
the watch in ``bassline_members``, keyed by its server session, so a watcher is listed
exactly while its session lives, and holds a session advisory lock on (schema, network,
member): a second watch under the same non-empty member name — a second process with the
same node id — is refused with :class:`~bassline.errors.NodeIdInUse`, naming the session
that holds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Collection
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.to_thread
import psycopg
from psycopg.conninfo import make_conninfo
from returns.result import Failure, Success

from bassline.errors import NodeIdInUse
from bassline.storage import ChangeBatch, StorageError, StorageResult
from bassline_storage_postgres import feed
from bassline_storage_postgres.engine import session_options
from bassline_storage_postgres.pqwait import last_result
from bassline_storage_postgres.url import PostgresConfig

__all__ = ["PgChangeWatch", "listen_conninfo", "member_key"]

log = logging.getLogger("bassline.storage.postgres")

_FORGET_DEAD = """
DELETE FROM bassline_members AS m WHERE NOT EXISTS (
    SELECT 1 FROM pg_stat_activity AS a
    WHERE a.pid = m.backend_pid AND a.backend_start = m.backend_start)
"""

_REGISTER = """
INSERT INTO bassline_members (network_id, backend_pid, backend_start, member)
SELECT %(network)s, pid, backend_start, %(member)s FROM pg_stat_activity
WHERE pid = pg_backend_pid()
ON CONFLICT DO NOTHING
"""

_LEAVE = "DELETE FROM bassline_members WHERE backend_pid = pg_backend_pid()"

_CLAIM_MEMBER = "SELECT pg_try_advisory_lock(%(key)s)"

_MEMBER_HOLDER = """
SELECT a.pid, coalesce(host(a.client_addr), 'a local socket'), a.client_port,
    a.backend_start, a.application_name
FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s
"""

FIRST_BACKOFF = 0.05
"""Seconds before the first reconnection attempt; doubled after each failure."""
MAX_BACKOFF = 2.0
"""The longest wait between reconnection attempts."""


def listen_conninfo(config: PostgresConfig, application_name: str) -> str:
    """The libpq connection string of a listening connection for ``config``."""
    url = config.url
    params: dict[str, Any] = {k: v for k, v in url.query.items() if isinstance(v, str)}
    params.update(
        host=url.host or params.get("host"),  # the query's: a Unix-domain socket's directory
        port=url.port,
        user=url.username,
        password=url.password if isinstance(url.password, str) else None,
        dbname=url.database,
        connect_timeout=config.connect_timeout,
        options=session_options(config, params.get("options")),
        application_name=application_name[:63],
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


def member_key(schema: str, network: str, member: str) -> int:
    """The advisory lock key a watch under ``member`` holds: a signed 64-bit hash of
    (schema, network, member), apart from the group claims' keys."""
    text = f"bassline-member\0{schema}\0{network}\0{member}"
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _in_use(conn: psycopg.Connection[Any], key: int, network: str, member: str) -> NodeIdInUse:
    row = conn.execute(_MEMBER_HOLDER, {"key": key}).fetchone()  # the shift wraps: signed
    if row is None:  # released between the two statements: say so, the caller retries
        other = "another process (which has just left)"
    else:
        pid, address, port, since, application = row
        where = f"{address}:{port}" if port is not None else address
        other = (
            f"another process: PostgreSQL session {pid} from {where}, connected since "
            f"{since.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')} "
            f"(application_name {application!r})"
        )
    return NodeIdInUse(
        f"node id {member!r} is already in use on network {network!r} in this database by "
        f"{other}; every process needs its own --node-id"
    )


async def _query(pgconn: psycopg.pq.abc.PGconn, query: bytes, params: list[bytes]) -> list[Any]:
    """Run one parameterised query on a non-blocking connection, waiting on its socket in
    the event loop; its rows as text (None for NULL). Raises ``psycopg.Error``."""
    pgconn.send_query_params(query, params)
    result = await last_result(pgconn)
    if result is None or result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        message = (
            pgconn.error_message.decode("utf-8", "replace")
            if result is None
            else (result.error_message.decode("utf-8", "replace"))
        )
        raise psycopg.OperationalError(f"reading the change feed: {message}")
    width = result.nfields
    return [
        tuple(None if (v := result.get_value(r, c)) is None else v.decode() for c in range(width))
        for r in range(result.ntuples)
    ]


class PgChangeWatch:
    """Wakes when a change of ``network`` may have been committed (see the module doc)."""

    def __init__(
        self, config: PostgresConfig, channel: str, network: str, member: str, writer: str
    ) -> None:
        self._conninfo = listen_conninfo(config, f"bassline-feed:{member}")
        self._member_key = member_key(config.schema, network, member) if member else None
        self._channel = channel
        self._network = network
        self._member = member
        self._writer = writer
        self._conn: psycopg.Connection[Any] | None = None
        self.reconnects = 0
        """How many times the watch lost its connection and listened again."""

    async def __aenter__(self) -> Self:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            conn = self._conn
            if conn is not None:  # leave the members list at once, not when the server notices
                with contextlib.suppress(Exception):
                    await anyio.to_thread.run_sync(conn.execute, _LEAVE)
            await self._drop()

    def _open(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        try:
            quoted = '"' + self._channel.replace('"', '""') + '"'
            key = self._member_key
            if key is not None:
                row = conn.execute(_CLAIM_MEMBER, {"key": key}).fetchone()
                if row is None or not row[0]:
                    raise _in_use(conn, key, self._network, self._member)
            conn.execute(f"LISTEN {quoted}")
            conn.execute(_FORGET_DEAD)
            conn.execute(_REGISTER, {"network": self._network, "member": self._member})
        except BaseException:
            conn.close()
            raise
        return conn

    async def _connect(self) -> bool:
        """Try once to connect and listen; whether it worked. Raises
        :class:`~bassline.errors.NodeIdInUse` when another session watches under the
        same member name."""
        try:
            self._conn = await anyio.to_thread.run_sync(self._open)
        except psycopg.Error:
            self._conn = None
            return False
        return True

    async def _reconnect_once(self) -> bool:
        """:meth:`_connect`, but a member name taken meanwhile (another process started
        with this node id while the connection was down) is logged and retried."""
        try:
            return await self._connect()
        except NodeIdInUse as exc:
            self._conn = None
            log.error("the change feed cannot listen again: %s", exc)
            return False

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                anyio.notify_closing(conn.pgconn.socket)
            await anyio.to_thread.run_sync(conn.close)

    async def _reconnect(self) -> None:
        """Connect again, retrying with backoff until it works (or the caller cancels)."""
        delay = FIRST_BACKOFF
        while not await self._reconnect_once():
            await anyio.sleep(delay)  # reconnection backoff, not a synchronisation
            delay = min(delay * 2, MAX_BACKOFF)
        self.reconnects += 1

    def _drain(self, conn: psycopg.Connection[Any]) -> bool | None:
        """Read what arrived: whether it announced the network; None if the connection died."""
        pgconn = conn.pgconn
        try:
            pgconn.consume_input()
        except psycopg.OperationalError:
            return None
        if pgconn.status != psycopg.pq.ConnStatus.OK:
            return None
        return self._noted(pgconn)

    def _noted(self, pgconn: psycopg.pq.abc.PGconn) -> bool:
        """Take the notifications libpq has read already (also while a read ran on this
        connection): whether one announced the network."""
        wanted = self._network
        hit = False
        while (note := pgconn.notifies()) is not None:
            writer, _, network = note.extra.decode("utf-8", "replace").partition(" ")
            if writer != self._writer and network in (wanted, ""):
                hit = True
        return hit

    async def read_changes(
        self, after: int, skip: Collection[int] = ()
    ) -> StorageResult[ChangeBatch] | None:
        """Read the network's changes since ``after`` on this watch's own connection, in
        the event loop: the query is sent and its answer awaited on the socket (libpq's
        non-blocking calls), with no worker thread and no pool checkout between a wakeup
        and the read. None when the connection is not there or fails (it is dropped, and
        the next :meth:`wait` reconnects): the caller reads through the pool instead.
        Not to be called while another task waits in :meth:`wait`."""
        conn = self._conn
        if conn is None:
            return None
        pgconn = conn.pgconn
        try:
            params = [self._network.encode(), b"%d" % after, feed.skip_literal(skip)]
            rows = await _query(pgconn, feed.CHANGES_TEXT, params)
        except (psycopg.Error, OSError):
            await self._drop()
            return None
        ((exists, document),) = rows
        batch = feed.batch_of(self._network, after, exists, document)
        return Failure(batch) if isinstance(batch, StorageError) else Success(batch)

    async def wait(self) -> None:
        """Return when the network may have changed (see :class:`ChangeWatch`)."""
        while True:
            conn = self._conn
            if conn is None:
                await self._reconnect()
                return
            if self._noted(conn.pgconn):  # read meanwhile, with the answer to a query
                return
            try:
                socket = conn.pgconn.socket
            except psycopg.OperationalError:
                socket = -1
            if socket >= 0:
                await anyio.wait_readable(socket)
                hit = self._drain(conn)
            else:
                hit = None
            if hit is None:
                await self._drop()
                continue
            if hit:
                return
