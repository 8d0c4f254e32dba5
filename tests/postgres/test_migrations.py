"""Migrations: up from empty, from every earlier revision to head, refusals, and locking."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bassline_storage_postgres
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from bassline_storage_postgres import (
    MigrationError,
    downgrade,
    head_revision,
    migrate,
    revisions,
    stamp,
)
from bassline_storage_postgres.documents import encode_group, encode_spec, search_document
from bassline_storage_postgres.engine import make_engine
from bassline_storage_postgres.migrate import LOCK_CLASS, inspect_schema, objects_at
from bassline_storage_postgres.schema import VERSION_TABLE, metadata
from bassline_storage_postgres.url import parse_postgres_url
from psycopg import sql

from bassline.clock import Stamp
from bassline.storage import ContentRecord, ErrorCode, StorageOpenError, open_storage
from bassline.testing.storage import sample_bassline

Admin = psycopg.Connection[tuple[Any, ...]]


def _revision(admin: Admin, schema: str) -> str | None:
    row = admin.execute(
        sql.SQL("SELECT version_num FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(VERSION_TABLE)
        )
    ).fetchone()
    return None if row is None else str(row[0])


def _tables(admin: Admin, schema: str) -> set[str]:
    rows = admin.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema]
    ).fetchall()
    return {str(r[0]) for r in rows}


def test_ships_a_linear_history_of_several_revisions() -> None:
    assert len(revisions()) >= 2
    assert revisions()[-1] == head_revision()


def test_migrate_from_empty_builds_exactly_the_schema_module(
    admin: Admin, schema_url: str, schema: str
) -> None:
    assert migrate(schema_url) == head_revision()
    assert _revision(admin, schema) == head_revision()
    assert _tables(admin, schema) == {t.name for t in metadata.sorted_tables} | {VERSION_TABLE}
    engine = make_engine(parse_postgres_url(schema_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
    # migrating again is a no-op
    assert migrate(schema_url) == head_revision()


def test_migrate_creates_a_missing_schema(
    admin: Admin, url_with: Callable[..., str], spare_schema: str
) -> None:
    assert migrate(url_with(schema=spare_schema)) == head_revision()
    assert _revision(admin, spare_schema) == head_revision()


def _seed_at_revision(admin: Admin, schema: str) -> None:
    """Write a network, a group and two contents with plain SQL (the app cannot open it yet)."""
    spec = sample_bassline("old")
    ident = sql.Identifier(schema)
    admin.execute(
        sql.SQL("INSERT INTO {}.bassline_networks (id, spec) VALUES (%s, %s::json)").format(ident),
        ["old", encode_spec(spec).decode()],
    )
    for group in spec.groups:
        admin.execute(
            sql.SQL(
                "INSERT INTO {}.bassline_groups (network_id, group_id, body, search) "
                "VALUES (%s, %s, %s::json, %s::jsonb)"
            ).format(ident),
            [
                "old",
                group.id,
                encode_group(group).decode(),
                psycopg.types.json.Jsonb(search_document("old", group.attributes)),
            ],
        )
    for contact, value in (("x", {"v": 1}), ("y", [1, 2.5])):
        admin.execute(
            sql.SQL(
                "INSERT INTO {}.bassline_contacts (network_id, contact_id, group_id, content, "
                "stamp_hlc, stamp_node) VALUES ('old', %s, 'ui', %s::json, 7, %s)"
            ).format(ident),
            [contact, psycopg.types.json.Json(value), b"node"],
        )


@pytest.mark.anyio
@pytest.mark.parametrize("start", ["base", *revisions()[:-1]])
async def test_every_earlier_revision_upgrades_to_head_keeping_data(
    admin: Admin, schema_url: str, schema: str, start: str
) -> None:
    if start != "base":
        assert migrate(schema_url, revision=start) == start
        assert _revision(admin, schema) == start
        _seed_at_revision(admin, schema)
    with pytest.raises(StorageOpenError) as refused:
        async with open_storage(schema_url):
            pass
    error = refused.value.error
    assert error.code is ErrorCode.UNSUPPORTED and not error.transient
    assert "bassline storage migrate" in error.message and "migrate=True" in error.message
    if start == "base":
        assert "never migrated" in error.message
    else:
        assert f"revision {start!r}" in error.message and head_revision() in error.message
    async with open_storage(schema_url, migrate=True) as storage:
        assert _revision(admin, schema) == head_revision()
        if start != "base":
            spec = (await storage.load_network("old")).unwrap()
            assert spec == sample_bassline("old")
            contents = (await storage.load_contents("old")).unwrap()
            assert [(r.contact, r.value, r.stamp, r.justification) for r in contents] == [
                ("x", {"v": 1}, Stamp(7, "node"), None),  # rows from before 0005 have none
                ("y", [1, 2.5], Stamp(7, "node"), None),
            ]
        else:
            (await storage.save_network(sample_bassline("old"))).unwrap()
        (await storage.write([ContentRecord("old", "ui", "z", 3, Stamp(9, "n"))])).unwrap()
        snap = (await storage.save_snapshot("old")).unwrap()
        assert snap.contents == (3 if start != "base" else 1)


def test_downgrade_to_base_and_up_again(admin: Admin, schema_url: str, schema: str) -> None:
    migrate(schema_url)
    assert downgrade(schema_url, revision="base") == "base"
    assert _tables(admin, schema) == {VERSION_TABLE}
    assert migrate(schema_url) == head_revision()


def _catalog(admin: Admin, schema: str) -> list[tuple[Any, ...]]:
    """Every relation of ``schema`` and the version table's rows, to see nothing changed."""
    relations = admin.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
        [schema],
    ).fetchall()
    rows: list[tuple[Any, ...]] = []
    if (VERSION_TABLE, "r") in relations:
        rows = admin.execute(
            sql.SQL("SELECT * FROM {}.{} ORDER BY 1").format(
                sql.Identifier(schema), sql.Identifier(VERSION_TABLE)
            )
        ).fetchall()
    return [*relations, ("rows", *rows)]


_HEAD = revisions()[-1]
_ANOMALIES = {
    # name: (SQL run on the migrated schema, code, words of the message)
    "two-rows": (
        "INSERT INTO {s}.bassline_schema_version VALUES ('0002')",
        ErrorCode.CORRUPTION,
        [f"bassline_schema_version holds 2 rows (0002, {_HEAD})", f"--stamp {_HEAD}`"],
    ),
    "no-version-table": (
        "DROP TABLE {s}.bassline_schema_version",
        ErrorCode.CORRUPTION,
        ["has Bassline tables but no record", "(no such table)", f"--stamp {_HEAD}`"],
    ),
    "empty-version-table": (
        "DELETE FROM {s}.bassline_schema_version",
        ErrorCode.CORRUPTION,
        ["has Bassline tables but no record", "(the table is empty)", f"--stamp {_HEAD}`"],
    ),
    "unknown-revision": (
        "UPDATE {s}.bassline_schema_version SET version_num = 'f00d'",
        ErrorCode.CORRUPTION,
        ["records schema revision 'f00d', which no release", f"--stamp {_HEAD}`"],
    ),
    "newer-revision": (
        "UPDATE {s}.bassline_schema_version SET version_num = '9999'",
        ErrorCode.UNSUPPORTED,
        ["at schema revision '9999', newer than", "upgrade bassline-storage-postgres"],
    ),
    "missing-table": (
        "DROP TABLE {s}.bassline_snapshot_contents",
        ErrorCode.CORRUPTION,
        [
            f"records schema revision {_HEAD!r}, but its tables and indexes are not those",
            # a dropped table takes its added columns with it
            "(missing bassline_snapshot_contents, bassline_snapshot_contents.justification)",
            "match no revision",
            "restore the schema from a backup",
        ],
    ),
    "malformed-version-table": (
        "ALTER TABLE {s}.bassline_schema_version RENAME COLUMN version_num TO v",
        ErrorCode.CORRUPTION,
        ["bassline_schema_version has no version_num column", f"--stamp {_HEAD}`"],
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("anomaly", list(_ANOMALIES))
async def test_every_schema_version_anomaly_is_a_clear_error_and_changes_nothing(
    admin: Admin, store_url: str, schema: str, anomaly: str
) -> None:
    statement, code, words = _ANOMALIES[anomaly]
    admin.execute(statement.format(s=sql.Identifier(schema).as_string(admin)))
    before = _catalog(admin, schema)
    with pytest.raises(StorageOpenError) as refused:
        async with open_storage(store_url):
            pass
    error = refused.value.error
    assert (error.code, error.transient) == (code, False)
    for word in words:
        assert word in error.message, (word, error.message)
    with pytest.raises(MigrationError) as failed:
        migrate(store_url)
    assert failed.value.error.message == error.message
    with pytest.raises(StorageOpenError):  # migrate=True refuses the same way
        async with open_storage(store_url, migrate=True):
            pass
    assert _catalog(admin, schema) == before


@pytest.mark.anyio
async def test_stamping_mends_the_record_and_refuses_to_make_it_wrong(
    admin: Admin, store_url: str, schema: str
) -> None:
    ident = sql.Identifier(schema)
    admin.execute(sql.SQL("INSERT INTO {}.bassline_schema_version VALUES ('0001')").format(ident))
    before = _catalog(admin, schema)
    for wrong in ("0001", "base"):
        with pytest.raises(MigrationError) as refused:
            stamp(store_url, wrong)
        assert "would make the record wrong, so nothing was changed" in refused.value.args[0]
    with pytest.raises(ValueError, match="unknown revision '7'"):
        stamp(store_url, "7")
    assert _catalog(admin, schema) == before
    assert stamp(store_url, _HEAD) == _HEAD
    assert _revision(admin, schema) == _HEAD
    async with open_storage(store_url) as storage:
        assert (await storage.list_networks()).unwrap() == []
    admin.execute(sql.SQL("DROP TABLE {}.bassline_schema_version").format(ident))
    assert stamp(store_url, _HEAD) == _HEAD  # creates the table again
    admin.execute(
        sql.SQL("ALTER TABLE {}.bassline_schema_version RENAME COLUMN version_num TO v").format(
            ident
        )
    )
    assert stamp(store_url, _HEAD) == _HEAD  # makes it again
    assert migrate(store_url) == _HEAD == _revision(admin, schema)


@pytest.mark.parametrize("revision", revisions())
def test_the_objects_of_each_revision_are_known(
    admin: Admin, schema_url: str, schema: str, revision: str
) -> None:
    """How a schema's tables are matched to a revision must follow every new migration."""
    migrate(schema_url, revision=revision)
    engine = make_engine(parse_postgres_url(schema_url))
    try:
        with engine.connect() as conn:
            state = inspect_schema(conn, schema)
    finally:
        engine.dispose()
    assert state.versions == (revision,) and state.looks_like == revision
    assert state.objects == objects_at(revision)


def _waiting_on_migration_lock(admin: Admin) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = %s",
        [LOCK_CLASS],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_concurrent_migrations_in_two_processes_take_turns(
    admin: Admin, postgres_url: str, schema_url: str, schema: str
) -> None:
    # Hold the migration lock, start two migrating processes, and wait until both are
    # queued behind it: they are then certainly concurrent. Releasing it lets one
    # migrate and the other find the schema at head.
    locker = psycopg.connect(postgres_url, autocommit=True)
    try:
        locker.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_CLASS, schema])
        code = (
            "import sys; from bassline_storage_postgres import migrate; print(migrate(sys.argv[1]))"
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, schema_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        while _waiting_on_migration_lock(admin) < 2:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "migrating processes never queued on the lock"
            time.sleep(0.02)
        assert _tables(admin, schema) == set(), "a migration ran while the lock was held"
        locker.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_CLASS, schema])
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        locker.close()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == head_revision()
    assert _revision(admin, schema) == head_revision()


def test_the_wheel_ships_the_migrations(tmp_path: Path) -> None:
    source = Path(bassline_storage_postgres.__file__).parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(source),
            "-w",
            str(tmp_path),
        ],
        check=True,
    )
    [wheel] = tmp_path.glob("bassline_storage_postgres-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"bassline_storage_postgres/migrations/versions/{p.name}"
        for p in (source / "bassline_storage_postgres/migrations/versions").glob("*.py")
    }
    assert len(shipped) == len(revisions())
    assert shipped | {"bassline_storage_postgres/migrations/env.py"} <= names


def test_migrating_ignores_the_storage_statement_timeout(
    admin: Admin, postgres_url: str, schema_url: str, schema: str
) -> None:
    # a migration queued behind the lock for longer than statement_timeout still succeeds
    locker = psycopg.connect(postgres_url, autocommit=True)
    try:
        locker.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_CLASS, schema])
        code = (
            "import sys; from bassline_storage_postgres import migrate; print(migrate(sys.argv[1]))"
        )
        url = f"{schema_url}&statement_timeout=20"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:  # until it has waited on the lock well past its 20 ms
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = %s "
                "AND now() - a.query_start > interval '200 milliseconds'",
                [LOCK_CLASS],
            ).fetchone()
            if row == (1,):
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the migration never queued on the lock"
            time.sleep(0.02)
        locker.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_CLASS, schema])
        out, err = proc.communicate(timeout=120)
    finally:
        locker.close()
    assert proc.returncode == 0, err
    assert out.strip() == head_revision() == _revision(admin, schema)
