"""SQLSTATE -> StorageError mapping, on errors a real server raises.

``RAISE ... USING ERRCODE`` makes the server send an error with any SQLSTATE, so each
row of the table is checked on a genuine psycopg exception (of the class psycopg picks
for that SQLSTATE), not on a hand-made object. Conditions that can be provoked for real
are tested as such elsewhere (timeouts, permissions, connection loss, missing database).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from bassline_storage_postgres.errors import ErrorContext, map_exception
from bassline_storage_postgres.url import parse_postgres_url
from psycopg import sql
from returns.result import Failure

from bassline.storage import ErrorCode, open_storage

SECRET = "pw-Secret-0815"

CASES = [
    ("08006", ErrorCode.CONNECTION, True),
    ("08003", ErrorCode.CONNECTION, True),
    ("57P01", ErrorCode.CONNECTION, True),
    ("57P03", ErrorCode.CONNECTION, True),
    ("53300", ErrorCode.CONNECTION, True),
    ("40001", ErrorCode.SERIALIZATION, True),
    ("40P01", ErrorCode.SERIALIZATION, True),
    ("57014", ErrorCode.TIMEOUT, True),
    ("55P03", ErrorCode.TIMEOUT, True),
    ("42501", ErrorCode.PERMISSION, False),
    ("25006", ErrorCode.PERMISSION, False),
    ("28P01", ErrorCode.PERMISSION, False),
    ("28000", ErrorCode.PERMISSION, False),
    ("3D000", ErrorCode.CONNECTION, False),
    ("42P01", ErrorCode.UNSUPPORTED, False),
    ("3F000", ErrorCode.UNSUPPORTED, False),
    ("23505", ErrorCode.CONFLICT, False),
    ("23503", ErrorCode.CONFLICT, False),
    ("22P02", ErrorCode.INVALID, False),
    ("53100", ErrorCode.LIMIT_EXCEEDED, False),
    ("54000", ErrorCode.LIMIT_EXCEEDED, False),
    ("XX001", ErrorCode.CORRUPTION, False),
]


def _server_error(url: str, state: str) -> psycopg.Error:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(
                sql.SQL(
                    "DO $$ BEGIN RAISE EXCEPTION 'raised for the test' USING ERRCODE = {}; END $$"
                ).format(sql.Literal(state))
            )
        except psycopg.Error as exc:
            return exc
    raise AssertionError(f"the server did not raise {state}")


@pytest.mark.parametrize(("state", "code", "transient"), CASES)
def test_sqlstate_maps_to_code_and_transience(
    postgres_url: str, state: str, code: ErrorCode, transient: bool
) -> None:
    exc = _server_error(postgres_url, state)
    assert exc.sqlstate == state
    config = parse_postgres_url(f"postgresql://bob:{SECRET}@db.example/app")
    error = map_exception(exc, ErrorContext.of(config), "write")
    assert error is not None
    assert (error.code, error.transient) == (code, transient), error
    assert f"SQLSTATE {state}" in error.message
    assert "postgresql://bob:***@db.example/app" in error.message
    assert SECRET not in error.message


def test_a_foreign_key_on_networks_means_network_not_found(postgres_url: str, admin: Any) -> None:
    # the backend's own constraint names mark "the network vanished during the write"
    admin.execute("CREATE TEMP TABLE p (id int PRIMARY KEY)")
    admin.execute(
        "CREATE TEMP TABLE c (id int CONSTRAINT bassline_contacts_network_fkey REFERENCES p)"
    )
    with pytest.raises(psycopg.Error) as raised:
        admin.execute("INSERT INTO c VALUES (1)")
    error = map_exception(raised.value, ErrorContext.of(parse_postgres_url(postgres_url)), "write")
    assert error is not None and error.code is ErrorCode.NETWORK_NOT_FOUND


@pytest.mark.anyio
async def test_a_dropped_table_says_the_schema_is_not_migrated(
    admin: Any, store_url: str, schema: str
) -> None:
    async with open_storage(store_url) as storage:
        admin.execute(sql.SQL("DROP TABLE {}.bassline_contacts").format(sql.Identifier(schema)))
        result = await storage.load_contents("calc")
        assert isinstance(result, Failure)
        error = result.failure()
        assert error.code is ErrorCode.UNSUPPORTED and not error.transient
        assert "42P01" in error.message and "bassline storage migrate" in error.message
