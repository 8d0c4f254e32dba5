"""Schema migrations: :func:`migrate` brings a database to head, :func:`check_revision` checks it.

Alembic is configured in code (no ``alembic.ini``); the revisions ship inside the package.
:func:`migrate` creates the schema if needed and holds a PostgreSQL advisory lock (one
per schema) for the whole upgrade, so two processes migrating at once run one after the
other: the second finds the work done. Each upgrade runs in one transaction.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from bassline.errors import BasslineError
from bassline.storage import ErrorCode, StorageError
from bassline_storage_postgres.engine import make_engine
from bassline_storage_postgres.errors import MIGRATE_HINT, ErrorContext, map_exception
from bassline_storage_postgres.schema import VERSION_TABLE
from bassline_storage_postgres.url import PostgresConfig, parse_postgres_url

__all__ = [
    "LOCK_CLASS",
    "MigrationError",
    "alembic_config",
    "check_revision",
    "current_revision",
    "downgrade",
    "head_revision",
    "migrate",
    "revisions",
    "run_migrations",
    "upgrade",
]

LOCK_CLASS = 0x62617373
"""First key of the migration advisory lock (the second is ``hashtext(schema)``)."""


class MigrationError(BasslineError):
    """:func:`migrate` could not bring the database to the requested revision."""

    def __init__(self, url: str, error: StorageError) -> None:
        self.url = url
        self.error = error
        super().__init__(f"cannot migrate PostgreSQL storage {url}: {error}")


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations (no ini file)."""
    cfg = Config()
    cfg.set_main_option("script_location", "bassline_storage_postgres:migrations")
    return cfg


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this package ships."""
    head = _script().get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """Every shipped revision, oldest first."""
    return [r.revision for r in reversed(list(_script().walk_revisions()))]


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the connection's schema (None if never migrated)."""
    ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def _schema_exists(connection: Connection, schema: str) -> bool:
    found = connection.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
    ).first()
    return found is not None


def check_revision(connection: Connection, config: PostgresConfig) -> StorageError | None:
    """None if the schema is at head; else an UNSUPPORTED error saying what to run."""
    hint = MIGRATE_HINT.format(url=config.masked)
    database = config.url.database or "(default)"
    if not _schema_exists(connection, config.schema):
        return StorageError(
            ErrorCode.UNSUPPORTED,
            f"schema {config.schema!r} does not exist in database {database!r} at "
            f"{config.masked}; fix the schema option, or create it with the tables: {hint}",
            transient=False,
        )
    current = current_revision(connection)
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return StorageError(
            ErrorCode.UNSUPPORTED,
            f"database {database!r} at {config.masked} has no Bassline tables in schema "
            f"{config.schema!r} (it was never migrated); {hint}",
            transient=False,
        )
    if current in revisions():
        return StorageError(
            ErrorCode.UNSUPPORTED,
            f"database {database!r} at {config.masked} is at schema revision {current!r}, "
            f"older than this bassline-storage-postgres needs ({head!r}); {hint}",
            transient=False,
        )
    return StorageError(
        ErrorCode.UNSUPPORTED,
        f"database {database!r} at {config.masked} is at schema revision {current!r}, which "
        f"this bassline-storage-postgres does not know (it knows {', '.join(revisions())}); "
        "it was probably migrated by a newer version: upgrade bassline-storage-postgres",
        transient=False,
    )


def _lock_key(schema: str) -> Any:
    return sa.func.hashtext(sa.literal(schema, sa.Text))


def _unlock(conn: Connection, schema: str) -> None:
    try:
        conn.rollback()
        conn.execute(sa.select(sa.func.pg_advisory_unlock(LOCK_CLASS, _lock_key(schema))))
        conn.commit()
    except sa.exc.DBAPIError:
        conn.invalidate()  # closing the session is what releases the lock now


def upgrade(
    engine: Engine, config: PostgresConfig, revision: str = "head", *, down: bool = False
) -> str:
    """Create the schema if missing and upgrade it to ``revision`` under the advisory lock.

    With ``down``, downgrade to ``revision`` instead. Raises driver exceptions and
    :class:`alembic.util.exc.CommandError`; returns the revision reached ("base": none).
    """
    with engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_lock(LOCK_CLASS, _lock_key(config.schema))))
        conn.commit()
        try:
            if not _schema_exists(conn, config.schema):
                conn.execute(sa.schema.CreateSchema(config.schema, if_not_exists=True))
            conn.commit()
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            if down:
                command.downgrade(cfg, revision)
            else:
                command.upgrade(cfg, revision)
            conn.commit()
            reached = current_revision(conn)
            conn.commit()
        finally:
            _unlock(conn, config.schema)
    return reached or "base"


def run_migrations(config: PostgresConfig, revision: str = "head", *, down: bool = False) -> str:
    """:func:`upgrade` on an engine of its own, without ``statement_timeout``.

    Waiting for the lock, or building an index on a large table, may take longer than the
    timeout the storage uses. Raises :class:`MigrationError` (or ValueError).
    """
    engine = make_engine(config.replace(statement_timeout=0), pool_size=1)
    try:
        return upgrade(engine, config, revision, down=down)
    except CommandError as exc:
        raise MigrationError(
            config.masked,
            StorageError(ErrorCode.INVALID, f"alembic: {exc}", transient=False, cause=exc),
        ) from exc
    except Exception as exc:
        error = map_exception(exc, ErrorContext.of(config), "migration")
        if error is None:
            raise
        raise MigrationError(config.masked, error) from exc
    finally:
        engine.dispose()


def _run(url: str, revision: str, down: bool, options: dict[str, Any]) -> str:
    return run_migrations(parse_postgres_url(url, options), revision, down=down)


def migrate(url: str, *, revision: str = "head", **options: Any) -> str:
    """Bring the database at ``url`` to ``revision`` (default: head); returns the revision.

    Creates the schema named by the ``schema`` option if it does not exist. Safe to run
    while other processes migrate the same schema (they take turns) and when the schema
    is already at head (nothing happens). Raises :class:`MigrationError` carrying a
    :class:`StorageError` (connection, permission, ...) when it cannot, and
    :class:`ValueError` for a bad URL or option.
    """
    return _run(url, revision, False, options)


def downgrade(url: str, *, revision: str, **options: Any) -> str:
    """Take the schema back to ``revision`` ("base" drops every table); for rollbacks.

    Data in the tables a downgrade drops is lost. Same locking and errors as :func:`migrate`.
    """
    return _run(url, revision, True, options)
