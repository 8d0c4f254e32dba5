"""Schema migrations: :func:`migrate` brings a database to head, :func:`check_revision` checks it.

:func:`check_revision` (at every open) and :func:`migrate` first read the schema's version
record and its tables (:func:`inspect_schema`); a record that contradicts itself or the
tables is refused with an error naming the anomaly and its remedy (:func:`schema_problem`),
and :func:`stamp` is the remedy that rewrites the record once the tables say what it
should be.

Alembic is configured in code (no ``alembic.ini``); the revisions ship inside the package.
:func:`migrate` creates the schema if needed and holds a PostgreSQL advisory lock (one
per schema) for the whole upgrade, so two processes migrating at once run one after the
other: the second finds the work done. Each upgrade runs in one transaction.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import attrs
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
    "SchemaState",
    "alembic_config",
    "check_revision",
    "current_revision",
    "downgrade",
    "head_revision",
    "inspect_schema",
    "migrate",
    "objects_at",
    "revisions",
    "run_migrations",
    "schema_problem",
    "stamp",
    "stamp_config",
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


_ADDS: dict[str, frozenset[str]] = {
    "0001": frozenset(
        {"bassline_networks", "bassline_groups", "bassline_wires", "bassline_contacts"}
    ),
    "0002": frozenset({"bassline_snapshots", "bassline_snapshot_contents"}),
    "0003": frozenset({"bassline_groups_search_gin"}),
    "0004": frozenset({"bassline_feed", "bassline_contacts_change_seq", "bassline_members"}),
    "0005": frozenset(
        {"bassline_contacts.justification", "bassline_snapshot_contents.justification"}
    ),
}
"""The tables, indexes (primary keys aside) and added columns (``table.column``) each
revision adds: how the objects found in a schema are matched to a revision. A new
revision must add its entry (a test checks)."""

_COLUMNS = sorted({name for added in _ADDS.values() for name in added if "." in name})
"""The columns revisions added to existing tables, looked for by :func:`inspect_schema`."""


def objects_at(revision: str) -> frozenset[str]:
    """The ``bassline_*`` tables and indexes (primary keys aside) a schema at ``revision``
    holds ("base": none)."""
    held: set[str] = set()
    if revision == "base":
        return frozenset()
    for known in revisions():
        held |= _ADDS[known]
        if known == revision:
            return frozenset(held)
    raise ValueError(f"unknown revision {revision!r} (known: base, {', '.join(revisions())})")


@attrs.frozen
class SchemaState:
    """What a schema holds, as far as Bassline's version record is concerned."""

    exists: bool
    """Whether the schema exists at all."""
    versions: tuple[str, ...] | None
    """The rows of the version table (None: there is no version table)."""
    objects: frozenset[str]
    """The ``bassline_*`` tables and indexes in the schema (primary keys and the version
    table aside)."""
    malformed: bool = False
    """Whether the version table lacks its ``version_num`` column (``versions`` is None)."""

    @property
    def looks_like(self) -> str | None:
        """The revision whose tables and indexes are exactly those present ("base" when
        there are none), or None when they match no revision."""
        if not self.objects:
            return "base"
        for revision in revisions():
            if objects_at(revision) == self.objects:
                return revision
        return None


def inspect_schema(connection: Connection, schema: str) -> SchemaState:
    """Read the version record and the Bassline objects of ``schema`` (catalog reads only)."""
    if not _schema_exists(connection, schema):
        return SchemaState(False, None, frozenset())
    rows = connection.execute(
        sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'i') "
            "AND c.relname LIKE 'bassline\\_%'"
        ),
        {"schema": schema},
    ).scalars()
    names = set(rows)
    columns = connection.execute(
        sa.text(
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_schema = :schema AND table_name || '.' || column_name = ANY(:columns)"
        ),
        {"schema": schema, "columns": _COLUMNS},
    ).scalars()
    names.update(columns)
    version_table = VERSION_TABLE in names
    objects = frozenset(
        n for n in names if not n.endswith("_pkey") and not n.startswith(VERSION_TABLE)
    )
    versions: tuple[str, ...] | None = None
    malformed = False
    if version_table:
        has_column = connection.execute(
            sa.text(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = :schema "
                "AND table_name = :table AND column_name = 'version_num'"
            ),
            {"schema": schema, "table": VERSION_TABLE},
        ).first()
        if has_column is None:
            malformed = True
        else:
            quote = connection.dialect.identifier_preparer.quote
            versions = tuple(
                str(v)
                for v in connection.execute(
                    sa.text(
                        f"SELECT version_num FROM {quote(schema)}.{quote(VERSION_TABLE)} "
                        "ORDER BY version_num"
                    )
                ).scalars()
            )
    return SchemaState(True, versions, objects, malformed)


def _is_newer(revision: str) -> bool:
    """Whether ``revision`` has the form of this package's revisions and comes after head."""
    head = head_revision()
    return revision.isdigit() and len(revision) == len(head) and revision > head


def _stamp_remedy(state: SchemaState, config: PostgresConfig) -> str:
    looks_like = state.looks_like
    if looks_like is None:
        return (
            "its bassline_* tables and indexes match no revision of this package "
            f"(it has {', '.join(sorted(state.objects))}), so no record would be right: "
            "restore the schema from a backup"
        )
    what = (
        "it holds no Bassline tables"
        if looks_like == "base"
        else f"its tables and indexes are those of revision {looks_like!r}"
    )
    return (
        f"{what}: if that is right, run `bassline storage migrate {config.masked} --stamp "
        f"{looks_like}` to record it (in Python `bassline_storage_postgres.stamp(url, "
        f"{looks_like!r})`; it changes no table but {VERSION_TABLE}, which it rewrites), "
        "then migrate as usual"
    )


def schema_problem(state: SchemaState, config: PostgresConfig) -> StorageError | None:
    """None if the schema is at head and consistent; else what is wrong and what to do.

    UNSUPPORTED for a schema this package can migrate (missing, never migrated, older) or
    that a newer package migrated; CORRUPTION when the version record contradicts itself
    or the tables (several rows, no record beside Bassline tables, an unknown revision,
    tables that are not those of the recorded revision).
    """
    hint = MIGRATE_HINT.format(url=config.masked)
    database = config.url.database or "(default)"
    where = f"schema {config.schema!r} of database {database!r} at {config.masked}"
    if not state.exists:
        return StorageError(
            ErrorCode.UNSUPPORTED,
            f"schema {config.schema!r} does not exist in database {database!r} at "
            f"{config.masked}; fix the schema option, or create it with the tables: {hint}",
            transient=False,
        )
    versions = state.versions
    if state.malformed:
        return StorageError(
            ErrorCode.CORRUPTION,
            f"{where}: {VERSION_TABLE} has no version_num column, so the schema's revision "
            "cannot be read (the table was altered, or made by something else); "
            + _stamp_remedy(state, config),
            transient=False,
        )
    if not versions:
        if not state.objects:
            return StorageError(
                ErrorCode.UNSUPPORTED,
                f"database {database!r} at {config.masked} has no Bassline tables in schema "
                f"{config.schema!r} (it was never migrated); {hint}",
                transient=False,
            )
        record = "no such table" if versions is None else "the table is empty"
        return StorageError(
            ErrorCode.CORRUPTION,
            f"{where} has Bassline tables but no record of their schema revision in "
            f"{VERSION_TABLE} ({record}), so it cannot be migrated safely; "
            + _stamp_remedy(state, config),
            transient=False,
        )
    if len(versions) > 1:
        return StorageError(
            ErrorCode.CORRUPTION,
            f"{where}: {VERSION_TABLE} holds {len(versions)} rows ({', '.join(versions)}) "
            "where it must hold exactly one (rows added by hand, or by another tool sharing "
            "the table); " + _stamp_remedy(state, config),
            transient=False,
        )
    (current,) = versions
    head = head_revision()
    if current not in revisions():
        if _is_newer(current):
            return StorageError(
                ErrorCode.UNSUPPORTED,
                f"database {database!r} at {config.masked} is at schema revision {current!r}, "
                f"newer than this bassline-storage-postgres knows (it knows "
                f"{', '.join(revisions())}): it was migrated by a newer version; upgrade "
                "bassline-storage-postgres",
                transient=False,
            )
        return StorageError(
            ErrorCode.CORRUPTION,
            f"{where} records schema revision {current!r}, which no release of "
            f"bassline-storage-postgres writes (this one knows {', '.join(revisions())}; a "
            f"newer one would write a number after {head!r}): the record was changed by hand "
            "or by another tool; " + _stamp_remedy(state, config),
            transient=False,
        )
    expected = objects_at(current)
    if state.objects != expected:
        missing = sorted(expected - state.objects)
        extra = sorted(state.objects - expected)
        diff = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra)}" if extra else "",
            )
            if part
        )
        return StorageError(
            ErrorCode.CORRUPTION,
            f"{where} records schema revision {current!r}, but its tables and indexes are "
            f"not those of {current!r} ({diff}); " + _stamp_remedy(state, config),
            transient=False,
        )
    if current != head:
        return StorageError(
            ErrorCode.UNSUPPORTED,
            f"database {database!r} at {config.masked} is at schema revision {current!r}, "
            f"older than this bassline-storage-postgres needs ({head!r}); {hint}",
            transient=False,
        )
    return None


def check_revision(connection: Connection, config: PostgresConfig) -> StorageError | None:
    """None if the schema is at head and consistent; else an error saying what to do."""
    return schema_problem(inspect_schema(connection, config.schema), config)


def _blocks_migration(state: SchemaState, config: PostgresConfig) -> StorageError | None:
    """What keeps a migration from running safely (None: a missing, empty, older or current
    schema, which migrating handles)."""
    problem = schema_problem(state, config)
    if problem is None or not state.exists:
        return None
    if not state.versions and not state.objects:
        return None  # never migrated
    versions = state.versions or ()
    known = len(versions) == 1 and versions[0] in revisions()
    if known and problem.code is ErrorCode.UNSUPPORTED:
        return None  # an older revision
    return problem


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

    With ``down``, downgrade to ``revision`` instead. Raises :class:`MigrationError` when
    the schema's version record is inconsistent (see :func:`schema_problem`: several rows,
    no record beside Bassline tables, an unknown or newer revision, tables that are not
    those of the recorded revision), driver exceptions and
    :class:`alembic.util.exc.CommandError`; returns the revision reached ("base": none).
    """
    with engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_lock(LOCK_CLASS, _lock_key(config.schema))))
        conn.commit()
        try:
            if not _schema_exists(conn, config.schema):
                conn.execute(sa.schema.CreateSchema(config.schema, if_not_exists=True))
            conn.commit()
            problem = _blocks_migration(inspect_schema(conn, config.schema), config)
            conn.commit()
            if problem is not None:
                raise MigrationError(config.masked, problem)
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
    with _migration_engine(config, "migration") as engine:
        return upgrade(engine, config, revision, down=down)


@contextlib.contextmanager
def _migration_engine(config: PostgresConfig, doing: str) -> Iterator[Engine]:
    """A one-connection engine without a statement timeout, disposed of afterwards;
    whatever fails inside becomes a :class:`MigrationError` (alembic's errors INVALID,
    the driver's mapped by SQLSTATE)."""
    engine = make_engine(config.replace(statement_timeout=0), pool_size=1)
    try:
        yield engine
    except MigrationError:
        raise
    except CommandError as exc:
        raise MigrationError(
            config.masked,
            StorageError(ErrorCode.INVALID, f"alembic: {exc}", transient=False, cause=exc),
        ) from exc
    except Exception as exc:
        error = map_exception(exc, ErrorContext.of(config), doing)
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


def stamp(url: str, revision: str, **options: Any) -> str:
    """Record that the schema at ``url`` is at ``revision``, replacing whatever the version
    table holds (creating it if missing); changes no other table. Returns ``revision``.

    The remedy for a damaged version record (several rows, a missing table beside the
    Bassline tables, an unknown revision): refused with a :class:`MigrationError`
    (CORRUPTION) unless the schema's tables and indexes are exactly those of ``revision``,
    so it can only make the record right. Same lock as :func:`migrate`; ValueError for an
    unknown revision, a bad URL or option.
    """
    return stamp_config(parse_postgres_url(url, options), revision)


def stamp_config(config: PostgresConfig, revision: str) -> str:
    """:func:`stamp` for a parsed configuration."""
    expected = objects_at(revision)  # ValueError for an unknown revision
    with (
        _migration_engine(config, "stamping the schema revision") as engine,
        engine.connect() as conn,
    ):
        conn.execute(sa.select(sa.func.pg_advisory_lock(LOCK_CLASS, _lock_key(config.schema))))
        conn.commit()
        try:
            state = inspect_schema(conn, config.schema)
            conn.commit()
            if not state.exists or state.objects != expected:
                found = ", ".join(sorted(state.objects)) or "no Bassline tables"
                raise MigrationError(
                    config.masked,
                    StorageError(
                        ErrorCode.CORRUPTION,
                        f"schema {config.schema!r} does not hold the tables and indexes of "
                        f"revision {revision!r} (it holds {found}); recording "
                        f"{revision!r} would make the record wrong, so nothing was changed",
                        transient=False,
                    ),
                )
            if state.malformed:  # alembic cannot read it: made again from scratch
                quote = conn.dialect.identifier_preparer.quote
                conn.execute(sa.text(f"DROP TABLE {quote(config.schema)}.{quote(VERSION_TABLE)}"))
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.stamp(cfg, revision, purge=True)
            conn.commit()
        finally:
            _unlock(conn, config.schema)
    return revision
