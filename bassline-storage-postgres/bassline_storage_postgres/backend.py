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

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
from returns.result import Failure, Success
from sqlalchemy.engine import Connection, Engine

from bassline.clock import HybridLogicalClock, Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import (
    Batch,
    Capabilities,
    ContentRecord,
    ErrorCode,
    GroupQuery,
    Health,
    NetworkRecord,
    PoolStats,
    Snapshot,
    SnapshotInfo,
    StorageBase,
    StorageError,
    StorageResult,
    WriteSummary,
)
from bassline.storage.validation import check_id
from bassline_storage_postgres import queries, snapshots
from bassline_storage_postgres.bulk import CONTENT_CHUNK, write_batch
from bassline_storage_postgres.engine import make_engine
from bassline_storage_postgres.errors import ErrorContext, map_exception
from bassline_storage_postgres.migrate import MigrationError, check_revision, run_migrations
from bassline_storage_postgres.pool import PoolGate, pool_stats
from bassline_storage_postgres.prepare import PreparedBatch, batch_records, prepare_batch
from bassline_storage_postgres.url import PostgresConfig, parse_postgres_url

__all__ = ["PostgresStorage"]

T = TypeVar("T")

_CAPABILITIES = Capabilities(persistent=True, transactions=True, shared=True)
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
_REPEATABLE_READ = {"isolation_level": "REPEATABLE READ"}


class PostgresStorage(StorageBase):
    """Networks, contents and snapshots in a PostgreSQL schema; see ``docs/postgres.md``.

    ``PostgresStorage(url, migrate=False, **options)``: ``options`` are the URL query
    options (``pool_size``, ``statement_timeout``, ...) and override the URL. With
    ``migrate=True``, ``open`` first brings the schema to head.
    """

    def __init__(self, url: str, *, migrate: bool = False, **options: Any) -> None:
        if not isinstance(migrate, bool):
            raise ValueError(f"migrate must be True or False, got {migrate!r}")
        self._config: PostgresConfig = parse_postgres_url(url, options)
        self.url = self._config.masked
        """The URL this storage was opened with, password masked."""
        self._ctx = ErrorContext.of(self._config)
        self._migrate = migrate
        self._engine: Engine | None = None
        self._gate: PoolGate | None = None
        self._clock = HybridLogicalClock("postgresql")
        self.content_chunk = CONTENT_CHUNK
        """Content rows per statement in ``write`` (tests lower it to split a batch)."""

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
        if engine is None or gate is None:
            await anyio.lowlevel.checkpoint()
            return Failure(self._not_open(action))
        return await gate.run(self._guard, action, work, engine)

    async def _read(
        self, action: str, read: Callable[[Connection], T | StorageError], **ids: Any
    ) -> StorageResult[T]:
        """Validate ``ids`` then run one read-only statement set in autocommit mode."""
        for kind, value in ids.items():
            if err := check_id(kind, value):
                await anyio.lowlevel.checkpoint()
                return Failure(err)

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

    async def open(self) -> StorageResult[None]:
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
        return Success(None)

    async def close(self) -> None:
        """Close every pooled connection. Idempotent; never raises."""
        engine, self._engine, self._gate = self._engine, None, None
        if engine is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(engine.dispose)

    async def health(self) -> StorageResult[Health]:
        """Run ``SELECT 1`` on a pooled connection."""

        def ping(conn: Connection) -> Health:
            conn.exec_driver_sql("SELECT 1").scalar_one()
            return Health(
                ok=True, detail=f"PostgreSQL at {self.url}, schema {self._config.schema!r}"
            )

        return await self._read("health", ping)

    # -- networks ---------------------------------------------------------------------------

    async def save_network(self, spec: Bassline) -> StorageResult[None]:
        """Create or replace a network's spec (its contents are kept)."""
        result = await self.write([NetworkRecord(spec)])
        return result.map(lambda _: None)

    async def load_network(self, network: str) -> StorageResult[Bassline]:
        """The spec as saved, with later group and wire records merged in."""
        return await self._read(
            "load_network", lambda c: queries.load_network(c, network), network=network
        )

    async def delete_network(self, network: str) -> StorageResult[None]:
        """Delete a network with its contents and snapshots; deleting nothing succeeds."""
        return await self._read(
            "delete_network", lambda c: queries.delete_network(c, network), network=network
        )

    async def list_networks(self) -> StorageResult[list[str]]:
        """Every stored network id, sorted by code point."""
        return await self._read("list_networks", queries.list_networks)

    async def network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is stored."""
        return await self._read(
            "network_exists", lambda c: queries.network_exists(c, network), network=network
        )

    # -- contents ---------------------------------------------------------------------------

    async def save_contact_content(
        self,
        network: str,
        group: str,
        contact: str,
        content: Any,
        stamp: Stamp | None = None,
    ) -> StorageResult[None]:
        """Store one contact's content; without a stamp, this storage's clock stamps it."""
        if stamp is None:
            stamp = self._clock.tick()
        result = await self.write([ContentRecord(network, group, contact, content, stamp)])
        return result.map(lambda _: None)

    async def load_contact_content(
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

        return await self._read(
            "load_contact_content", read, network=network, group=group, contact=contact
        )

    async def load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network with its stamp, sorted by contact id."""
        return await self._read(
            "load_contents", lambda c: queries.load_contents(c, network), network=network
        )

    def _observe(self, batch: PreparedBatch) -> None:
        if batch.contents.hlcs:
            # a stamp far ahead is stored all the same; this clock just does not follow it
            with contextlib.suppress(ValueError):
                self._clock.observe(Stamp(max(batch.contents.hlcs), ""))

    async def write(self, batch: Batch) -> StorageResult[WriteSummary]:
        """Apply a batch atomically in one transaction; parents before children."""
        chunk = self.content_chunk

        def work(engine: Engine) -> WriteSummary | StorageError:
            records = batch_records(batch)
            if isinstance(records, StorageError):
                return records
            prepared = prepare_batch(records)
            if isinstance(prepared, StorageError):
                return prepared
            if prepared.is_empty:
                return WriteSummary()
            with engine.connect() as conn:
                dbapi = conn.connection.driver_connection
                assert dbapi is not None
                transaction = conn.begin()  # so SQLAlchemy commits what the driver did
                summary = write_batch(dbapi, prepared, chunk)
                if summary is None:  # a value did not encode: validate in full, to say why
                    transaction.rollback()
                    prepared = prepare_batch(records, fast=False)
                    if isinstance(prepared, StorageError):
                        return prepared
                    transaction = conn.begin()
                    summary = write_batch(dbapi, prepared, chunk)
                if not isinstance(summary, WriteSummary):
                    transaction.rollback()
                    return summary or StorageError(
                        ErrorCode.SERIALIZATION, "a content value does not encode", transient=False
                    )
                transaction.commit()
            self._observe(prepared)
            return summary

        return await self._run("write", work)

    # -- queries ----------------------------------------------------------------------------

    async def query_groups(self, network: str, query: GroupQuery) -> StorageResult[list[GroupSpec]]:
        """Groups matching every criterion of ``query``, sorted by id (GIN-indexed ``@>``)."""
        if not isinstance(query, GroupQuery):
            await anyio.lowlevel.checkpoint()
            return Failure(
                StorageError(
                    ErrorCode.INVALID,
                    f"query must be a GroupQuery, got {type(query).__name__}",
                    transient=False,
                )
            )
        return await self._read(
            "query_groups", lambda c: queries.query_groups(c, network, query), network=network
        )

    # -- snapshots --------------------------------------------------------------------------

    async def save_snapshot(
        self, network: str, label: str | None = None
    ) -> StorageResult[SnapshotInfo]:
        """Copy the network's spec and contents in one REPEATABLE READ transaction."""
        if err := check_id("network", network):
            await anyio.lowlevel.checkpoint()
            return Failure(err)

        def work(engine: Engine) -> SnapshotInfo | StorageError:
            with engine.connect().execution_options(**_REPEATABLE_READ) as conn:
                info = snapshots.save_snapshot(conn, network, label)
                if isinstance(info, StorageError):
                    conn.rollback()
                else:
                    conn.commit()
                return info

        return await self._run("save_snapshot", work)

    async def load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot; NETWORK_NOT_FOUND or SNAPSHOT_NOT_FOUND if absent."""
        for kind, value in (("network", network), ("snapshot", snapshot_id)):
            if err := check_id(kind, value):
                await anyio.lowlevel.checkpoint()
                return Failure(err)

        def work(engine: Engine) -> Snapshot | StorageError:
            with engine.connect().execution_options(**_REPEATABLE_READ) as conn:
                if not queries.network_exists(conn, network):
                    return queries.network_missing(network)
                return snapshots.load_snapshot(conn, network, snapshot_id)

        return await self._run("load_snapshot", work)

    async def list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""
        return await self._read(
            "list_snapshots", lambda c: snapshots.list_snapshots(c, network), network=network
        )

    async def delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot; deleting nothing succeeds."""
        return await self._read(
            "delete_snapshot",
            lambda c: snapshots.delete_snapshot(c, network, snapshot_id),
            network=network,
            snapshot=snapshot_id,
        )
