"""``PostgresStorage``: the ``NetworkStorage`` protocol on PostgreSQL.

Every operation runs in a worker thread (``anyio.to_thread.run_sync``) behind a gate as
large as the connection pool (:class:`~bassline_storage_postgres.pool.PoolGate`), so at
most as many threads wait on the database as there are connections for them, an operation
that finds every connection in use waits in the event loop (counted in ``pool_stats()``),
and the event loop (asyncio or trio) never blocks. Each operation takes exactly one connection, does its work in one
transaction, and gives it back; nothing ever holds one connection while waiting for
another (the prototype's pool self-deadlock). Driver exceptions become
:class:`StorageError` values by SQLSTATE (see :mod:`bassline_storage_postgres.errors`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
import psycopg
from returns.result import Failure, Success
from sqlalchemy.engine import Connection, Engine

from bassline.spec import Bassline, GroupSpec
from bassline.storage import (
    Batch,
    Capabilities,
    ChangeBatch,
    ContentRecord,
    ErrorCode,
    GroupQuery,
    Health,
    PoolStats,
    Snapshot,
    SnapshotInfo,
    StorageError,
    StorageResult,
    Watcher,
    WriteSummary,
)
from bassline.storage.toolkit import CheckedBatch, Joins, StorageBackend
from bassline_storage_postgres import feed, queries, snapshots
from bassline_storage_postgres.bulk import CONTENT_CHUNK, write_batch
from bassline_storage_postgres.claims import AdvisoryClaims
from bassline_storage_postgres.engine import make_engine
from bassline_storage_postgres.errors import ErrorContext, map_exception
from bassline_storage_postgres.joining import write_joined
from bassline_storage_postgres.listen import PgChangeWatch, listen_conninfo
from bassline_storage_postgres.loopwrite import LoopWriter, one_row_params
from bassline_storage_postgres.migrate import (
    MigrationError,
    check_revision,
    run_migrations,
    stamp_config,
)
from bassline_storage_postgres.pool import PoolGate, pool_stats
from bassline_storage_postgres.prepare import PreparedBatch, prepare_batch
from bassline_storage_postgres.url import PostgresConfig, parse_postgres_url

__all__ = ["PostgresStorage"]

T = TypeVar("T")
B = TypeVar("B")
_Channel = tuple[str, str] | None


def _notify_queue_full(exc: Exception) -> bool:
    """Whether a commit failed because the server's NOTIFY queue is full (SQLSTATE 54000)."""
    orig = getattr(exc, "orig", exc)
    return (
        isinstance(orig, psycopg.Error) and orig.sqlstate == "54000" and "NOTIFY queue" in str(orig)
    )


_CAPABILITIES = Capabilities(persistent=True, transactions=True, shared=True)
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
_REPEATABLE_READ = {"isolation_level": "REPEATABLE READ"}


class PostgresStorage(StorageBackend):
    """Networks, contents and snapshots in a PostgreSQL schema; see ``docs/postgres.md``.

    ``PostgresStorage(url, migrate=False, **options)``: ``options`` are the URL query
    options (``pool_size``, ``statement_timeout``, ...) and override the URL. With
    ``migrate=True``, ``open`` first brings the schema to head.
    """

    def __init__(self, url: str, *, migrate: bool = False, **options: Any) -> None:
        if not isinstance(migrate, bool):
            raise ValueError(f"migrate must be True or False, got {migrate!r}")
        config = parse_postgres_url(url, options)
        super().__init__(config.masked, clock_node="postgresql")
        self._config: PostgresConfig = config
        self._ctx = ErrorContext.of(self._config)
        self._migrate = migrate
        self._engine: Engine | None = None
        self._gate: PoolGate | None = None
        self.loop_writer: LoopWriter | None = None
        """While open with ``loop_writes`` on: the connection one-row writes go out on
        from the event loop (see :mod:`~bassline_storage_postgres.loopwrite`)."""
        self.content_chunk = CONTENT_CHUNK
        """Content rows per statement in ``write`` (tests lower it to split a batch)."""
        self.channel = feed.channel_for(config.schema)
        """The NOTIFY channel of this schema's change feed."""
        self.writer = uuid.uuid4().hex[:16]
        """Names this storage's writes in their notifications, so that its own watches
        are not woken by them (a runtime has already applied what it wrote)."""
        self.unannounced = 0
        """Batches committed without their notification because the server's NOTIFY queue
        was full (readers catch them up on their next read)."""

    @property
    def config(self) -> PostgresConfig:
        """The parsed URL and options."""
        return self._config

    @property
    def capabilities(self) -> Capabilities:
        """Persistent, transactional, shared by any number of processes."""
        return _CAPABILITIES

    @property
    def engine(self) -> Engine | None:
        """The SQLAlchemy engine while open (for tools and tests), else None."""
        return self._engine

    def pool_stats(self) -> PoolStats | None:
        """The connection pool now: size, connections open and in use, overflow, and the
        operations that waited for a connection (how many, how long); None while closed."""
        engine, gate = self._engine, self._gate
        if engine is None or gate is None:
            return None
        return pool_stats(engine, self._config, gate)

    # -- declared abilities (bassline.storage.abilities) ----------------------------------

    def migrate_schema(self) -> str:
        """Bring the schema to head (see :func:`~bassline_storage_postgres.migrate`); the
        revision reached. Blocks; raises :class:`MigrationError`."""
        return run_migrations(self._config)

    def group_claims(self, network: str, holder: str) -> AdvisoryClaims:
        """A claim session on gadget groups of ``network`` for ``holder``: session-level
        advisory locks on a connection of its own (see
        :mod:`bassline_storage_postgres.claims`)."""
        return AdvisoryClaims(self._config, network, holder)

    def stamp_schema(self, revision: str) -> str:
        """Record that the schema is at ``revision`` (see
        :func:`~bassline_storage_postgres.stamp`). Blocks; raises :class:`MigrationError`."""
        return stamp_config(self._config, revision)

    # -- running work in threads ------------------------------------------------------------

    def _guard(
        self, action: str, work: Callable[[Engine], T | StorageError], engine: Engine
    ) -> StorageResult[T]:
        try:
            out = work(engine)
        except Exception as exc:
            error = map_exception(exc, self._ctx, action)
            if error is None:
                raise
            return Failure(error)
        if isinstance(out, StorageError):
            return Failure(out)
        return Success(out)

    def _not_open(self, action: str) -> StorageError:
        return StorageError(
            ErrorCode.CONNECTION,
            f"{action}: storage {self.url} is not open (use `async with open_storage(url)` "
            "or `await storage.open()`)",
            transient=False,
        )

    async def _run(
        self, action: str, work: Callable[[Engine], T | StorageError]
    ) -> StorageResult[T]:
        engine, gate = self._engine, self._gate
        if engine is None or gate is None:  # closed while the call was on its way
            await anyio.lowlevel.checkpoint()
            return Failure(self._not_open(action))
        return await gate.run(self._guard, action, work, engine)

    async def _read(
        self, action: str, read: Callable[[Connection], T | StorageError]
    ) -> StorageResult[T]:
        """Run one read-only statement set in autocommit mode."""

        def work(engine: Engine) -> T | StorageError:
            with engine.connect().execution_options(**_AUTOCOMMIT) as conn:
                return read(conn)

        return await self._run(action, work)

    # -- lifecycle --------------------------------------------------------------------------

    def _prepare_schema(self, engine: Engine) -> StorageError | None:
        if self._migrate:
            try:
                run_migrations(self._config)
            except MigrationError as exc:
                return exc.error
        with engine.connect() as conn:
            return check_revision(conn, self._config)

    async def do_open(self) -> StorageResult[None]:
        """Connect, check the schema is at head (migrating first if asked). Idempotent."""
        if self._engine is not None:
            await anyio.lowlevel.checkpoint()
            return Success(None)
        engine = make_engine(self._config)
        gate = PoolGate(self._config.capacity)
        result: StorageResult[None] = await gate.run(
            self._guard, "open", self._prepare_schema, engine
        )
        if isinstance(result, Failure):
            await anyio.to_thread.run_sync(engine.dispose)
            return result
        if self._engine is not None:  # opened concurrently meanwhile
            await anyio.to_thread.run_sync(engine.dispose)
            return Success(None)
        self._engine, self._gate = engine, gate
        if self._config.loop_writes:
            conninfo = listen_conninfo(self._config, "bassline-write")
            self.loop_writer = LoopWriter(f"{conninfo} client_encoding=UTF8")
        return Success(None)

    async def do_close(self) -> None:
        """Close every pooled connection and the one-row writer's. Idempotent; never raises."""
        engine, self._engine, self._gate = self._engine, None, None
        writer, self.loop_writer = self.loop_writer, None
        if writer is not None:
            writer.close()
        if engine is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(engine.dispose)

    async def do_health(self) -> StorageResult[Health]:
        """Run ``SELECT 1`` on a pooled connection."""

        def ping(conn: Connection) -> Health:
            conn.exec_driver_sql("SELECT 1").scalar_one()
            return Health(
                ok=True, detail=f"PostgreSQL at {self.url}, schema {self._config.schema!r}"
            )

        return await self._read("health", ping)

    # -- networks ---------------------------------------------------------------------------

    async def do_load_network(self, network: str) -> StorageResult[Bassline]:
        """The spec as saved, with later group and wire records merged in."""
        return await self._read("load_network", lambda c: queries.load_network(c, network))

    async def do_delete_network(self, network: str) -> StorageResult[None]:
        """Delete a network with its contents and snapshots; deleting nothing succeeds."""
        return await self._read("delete_network", lambda c: queries.delete_network(c, network))

    async def do_list_networks(self) -> StorageResult[list[str]]:
        """Every stored network id, sorted by code point."""
        return await self._read("list_networks", queries.list_networks)

    async def do_network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is stored."""
        return await self._read("network_exists", lambda c: queries.network_exists(c, network))

    # -- contents ---------------------------------------------------------------------------

    async def do_load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One contact's content and stamp; CONTACT_NOT_FOUND if none is stored under ``group``."""

        def read(conn: Connection) -> ContentRecord | StorageError:
            record = queries.load_contact(conn, network, group, contact)
            if isinstance(record, ContentRecord) and record.group != group:
                return StorageError.not_found(
                    ErrorCode.CONTACT_NOT_FOUND,
                    f"content of contact {contact!r} in group {group!r} of network {network!r} "
                    f"(it is stored under group {record.group!r})",
                )
            return record

        return await self._read("load_contact_content", read)

    async def do_load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network with its stamp, sorted by contact id."""
        return await self._read("load_contents", lambda c: queries.load_contents(c, network))

    async def do_write(self, batch: CheckedBatch) -> StorageResult[WriteSummary]:
        """Lay out a checked batch and apply it in one transaction: a batch of one content
        row from the event loop on the one-row writer's connection when it is free
        (:mod:`~bassline_storage_postgres.loopwrite`), any other (or one that fails there)
        in a worker thread on a pooled connection."""
        writer = self.loop_writer
        params = None
        if writer is not None:
            params = one_row_params(batch, self.channel, self.writer)
            if params is not None and writer.ready:
                summary = await writer.write(params)
                if isinstance(summary, psycopg.Error):  # cancelled: reported as the pool would
                    error = map_exception(summary, self._ctx, "write")
                    assert error is not None  # a SQLSTATE always maps
                    return Failure(error)
                if summary is not None:
                    return Success(summary)
        chunk = self.content_chunk
        connect = writer if params is not None and writer and writer.wants_connection() else None
        opened: list[psycopg.Connection[Any]] = []

        def send(
            dbapi: psycopg.Connection[Any], prepared: PreparedBatch, channel: _Channel
        ) -> WriteSummary | StorageError:
            # autocommit: write_batch sends BEGIN ... COMMIT itself, in one round trip
            return write_batch(dbapi, prepared, chunk, channel)

        def work(engine: Engine) -> WriteSummary | StorageError:
            prepared = prepare_batch(batch)
            if isinstance(prepared, StorageError):
                return prepared
            if prepared.is_empty:
                return WriteSummary()
            summary = self._announced(engine, send, prepared)
            # the server took a one-row write: open the writer's connection for the next
            if connect is not None and not isinstance(summary, StorageError):
                conn = connect.open_blocking()
                if conn is not None:
                    opened.append(conn)
            return summary

        try:
            return await self._run("write", work)
        finally:
            for conn in opened:
                if connect is None or not connect.install(conn):
                    conn.close()

    async def write_joining(self, batch: Batch, joins: Joins) -> StorageResult[WriteSummary]:
        """``write``, each record of a merge contact joined with the stored one in the
        same transaction, under the network's feed row lock (see
        :mod:`~bassline_storage_postgres.joining`)."""
        return await self.joining_write(batch, joins)

    async def do_write_joining(
        self, batch: CheckedBatch, joins: Joins
    ) -> StorageResult[WriteSummary]:
        """Read the merge contacts' rows under the feed lock, join, write; one transaction."""
        chunk = self.content_chunk

        def send(
            dbapi: psycopg.Connection[Any], checked: CheckedBatch, channel: _Channel
        ) -> WriteSummary | StorageError:
            return write_joined(dbapi, checked, joins, chunk, channel)

        return await self._run("write", lambda engine: self._announced(engine, send, batch))

    def _announced(
        self,
        engine: Engine,
        send: Callable[[psycopg.Connection[Any], B, _Channel], WriteSummary | StorageError],
        batch: B,
    ) -> WriteSummary | StorageError:
        """``send`` the batch on a connection in autocommit mode, with the notification;
        without it when the server's NOTIFY queue is full (a listener is stuck): then it
        commits unannounced, and readers find it by sequence on their next read."""

        def attempt(channel: _Channel) -> WriteSummary | StorageError:
            with engine.connect().execution_options(**_AUTOCOMMIT) as conn:
                dbapi = conn.connection.driver_connection
                assert dbapi is not None
                return send(dbapi, batch, channel)

        try:
            return attempt((self.channel, self.writer))
        except Exception as exc:
            if not _notify_queue_full(exc):
                raise
            self.unannounced += 1
            return attempt(None)

    # -- the change feed (bassline.storage.FeedsChanges) ----------------------------------

    async def feed_position(self, network: str) -> StorageResult[int]:
        """The newest committed change sequence of ``network`` (0 before any write)."""
        if err := await self.feed_ready(network):
            return Failure(err)
        return await self._read("feed_position", lambda c: feed.feed_position(c, network))

    async def read_changes(self, network: str, after: int) -> StorageResult[ChangeBatch]:
        """Every content committed with a change sequence above ``after``."""
        if err := await self.feed_ready(network, after):
            return Failure(err)
        return await self._read("read_changes", lambda c: feed.read_changes(c, network, after))

    def watch_changes(self, network: str, *, member: str = "") -> PgChangeWatch:
        """A listening connection of its own that wakes on ``network``'s commits (those
        made through this storage object excepted)."""
        return PgChangeWatch(self._config, self.channel, network, member, self.writer)

    async def watchers(self, network: str) -> StorageResult[list[Watcher]]:
        """The processes watching ``network``: listening sessions that are still alive."""
        if err := await self.feed_ready(network):
            return Failure(err)
        return await self._read("watchers", lambda c: feed.watchers(c, network))

    async def feed_identity(self) -> StorageResult[str]:
        """The server (its system identifier), the database (its oid) and the schema."""
        schema = self._config.schema
        return await self._read("feed_identity", lambda c: feed.store_identity(c, schema))

    # -- queries ----------------------------------------------------------------------------

    async def do_query_groups(
        self, network: str, query: GroupQuery
    ) -> StorageResult[list[GroupSpec]]:
        """Groups matching every criterion of ``query``, sorted by id (GIN-indexed ``@>``)."""
        return await self._read("query_groups", lambda c: queries.query_groups(c, network, query))

    # -- snapshots --------------------------------------------------------------------------

    async def do_save_snapshot(
        self, network: str, label: str | None
    ) -> StorageResult[SnapshotInfo]:
        """Copy the network's spec and contents in one REPEATABLE READ transaction."""

        def work(engine: Engine) -> SnapshotInfo | StorageError:
            with engine.connect().execution_options(**_REPEATABLE_READ) as conn:
                info = snapshots.save_snapshot(conn, network, label)
                if isinstance(info, StorageError):
                    conn.rollback()
                else:
                    conn.commit()
                return info

        return await self._run("save_snapshot", work)

    async def do_load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot; NETWORK_NOT_FOUND or SNAPSHOT_NOT_FOUND if absent."""

        def work(engine: Engine) -> Snapshot | StorageError:
            with engine.connect().execution_options(**_REPEATABLE_READ) as conn:
                if not queries.network_exists(conn, network):
                    return queries.network_missing(network)
                return snapshots.load_snapshot(conn, network, snapshot_id)

        return await self._run("load_snapshot", work)

    async def do_list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""
        return await self._read("list_snapshots", lambda c: snapshots.list_snapshots(c, network))

    async def do_delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot; deleting nothing succeeds."""
        return await self._read(
            "delete_snapshot", lambda c: snapshots.delete_snapshot(c, network, snapshot_id)
        )
