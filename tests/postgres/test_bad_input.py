"""Bad input: each gets a specific error naming the URL (password masked) and what to do.

Every URL here carries the password ``PW_SECRET``; no message may contain it. The test
server trusts every local connection (pg_hba.conf: ``trust`` for 127.0.0.1 and the
socket), so it ignores passwords: a real *wrong password* (SQLSTATE 28P01) cannot be
provoked here. What is tested instead: the server refusing the user (a role that does
not exist, a role that may not log in: SQLSTATE 28000 at connection time), and the
classification of a 28P01 the server raises (see test_error_mapping.py).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import psycopg
import pytest
from bassline_storage_postgres import MigrationError, migrate, open_postgres_storage
from psycopg import sql
from returns.result import Failure

from bassline.clock import Stamp
from bassline.errors import PluginNotFound
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    StorageError,
    StorageOpenError,
    mask_url,
    open_storage,
)
from bassline.testing.storage import sample_bassline

pytestmark = pytest.mark.anyio

PW_SECRET = "pw-Secret-4711"
Admin = psycopg.Connection[tuple[Any, ...]]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return port  # closed again: nothing listens there


async def _open_error(url: str, **options: Any) -> StorageError:
    with pytest.raises(StorageOpenError) as raised:
        async with open_storage(url, **options):
            pass
    text = str(raised.value)
    assert PW_SECRET not in text, text
    assert mask_url(url) in text, text
    assert "***" in text
    return raised.value.error


async def test_unreachable_server(url_with: Callable[..., str]) -> None:
    port = _closed_port()
    url = url_with(password=PW_SECRET, host="127.0.0.1", port=port, connect_timeout=5)
    error = await _open_error(url)
    assert error.code is ErrorCode.CONNECTION and error.transient
    assert f"127.0.0.1:{port}" in error.message
    assert "server is running" in error.message


async def test_missing_database(url_with: Callable[..., str]) -> None:
    name = f"bassline_missing_{uuid.uuid4().hex[:8]}"
    error = await _open_error(url_with(password=PW_SECRET, database=name))
    assert error.code is ErrorCode.CONNECTION and not error.transient
    assert f"database {name!r} does not exist" in error.message
    assert f"createdb {name}" in error.message


async def test_missing_schema(url_with: Callable[..., str], spare_schema: str) -> None:
    error = await _open_error(url_with(password=PW_SECRET, schema=spare_schema))
    assert error.code is ErrorCode.UNSUPPORTED and not error.transient
    assert f"schema {spare_schema!r} does not exist" in error.message
    assert "bassline storage migrate" in error.message


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\r", "\x0b", "\x0c"])
async def test_a_schema_name_with_any_white_space_is_migrated_and_opened(
    admin: Admin, url_with: Callable[..., str], space: str
) -> None:
    """Any name up to 63 bytes, as docs/postgres.md says: a schema named with a tab or a newline failed every
    connection with a transient CONNECTION error ("invalid value for parameter
    "search_path""; "check that the server is running"), so a runtime retried it for
    ever: only spaces were escaped in the connection's startup options, and the server
    splits them at any white space."""
    name = f"bt ws{space}{uuid.uuid4().hex[:8]}"
    url = url_with(schema=name)
    try:
        migrate(url)
        async with open_storage(url) as storage:
            (await storage.save_network(sample_bassline())).unwrap()
            assert (await storage.list_networks()).unwrap() == ["calc"]
        tables = admin.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", [name]
        ).fetchone()
        assert tables is not None and tables[0] > 0
    finally:
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("sslmode", "bogus", 'invalid sslmode value: "bogus"'),
        ("target_session_attrs", "any-one", 'invalid target_session_attrs value: "any-one"'),
        ("keepalives", "abc", 'invalid integer value "abc" for connection option "keepalives"'),
    ],
)
async def test_a_bad_libpq_parameter_value_is_a_permanent_error_naming_it(
    url_with: Callable[..., str], option: str, value: str, complaint: str
) -> None:
    """libpq refuses it before connecting; it was a transient CONNECTION error saying
    "the connection was lost, retry", so a runtime would have retried it for ever."""
    error = await _open_error(url_with(password=PW_SECRET, **{option: value}))
    assert error.code is ErrorCode.INVALID and not error.transient
    assert complaint in error.message
    assert f"fix the libpq connection parameter {option!r} in the URL" in error.message
    assert "retry" not in error.message and "connection is bad" not in error.message


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ("-c statement_timeout=abc", 'invalid value for parameter "statement_timeout": "abc"'),
        ("-c nosuch=1", 'unrecognized configuration parameter "nosuch"'),
        ("-c x", "-c x requires a value"),
        ("-c work_mem=1", 'outside the valid range for parameter "work_mem"'),
        ("-c shared_buffers=1", 'parameter "shared_buffers" cannot be changed'),
    ],
)
async def test_startup_options_the_server_refuses_are_a_permanent_error_naming_them(
    url_with: Callable[..., str], options: str, complaint: str
) -> None:
    """The server ends such a connection at once (FATAL): it was a transient CONNECTION
    error saying "check that the server is running", which a runtime retried for ever."""
    error = await _open_error(url_with(password=PW_SECRET, options=options))
    assert error.code is ErrorCode.INVALID and not error.transient, error
    assert complaint in error.message
    assert "fix the libpq connection parameter 'options' in the URL" in error.message
    assert "server is running" not in error.message


async def test_unknown_role_is_refused(url_with: Callable[..., str]) -> None:
    role = f"bt_nobody_{uuid.uuid4().hex[:8]}"
    error = await _open_error(url_with(username=role, password=PW_SECRET))
    assert error.code is ErrorCode.PERMISSION and not error.transient
    assert f"refused user {role!r}" in error.message and "pg_hba.conf" in error.message


@pytest.fixture
def role(admin: Admin) -> Iterator[str]:
    """A fresh role name; the role (and its grants) is dropped afterwards."""
    name = f"bt_role_{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        if _exists(admin, name):
            admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _exists(admin: Admin, role: str) -> bool:
    return admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None


async def test_role_that_may_not_log_in_is_refused(
    admin: Admin, role: str, url_with: Callable[..., str]
) -> None:
    admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    error = await _open_error(url_with(username=role, password=PW_SECRET))
    assert error.code is ErrorCode.PERMISSION
    assert "may log in" in error.message


async def test_read_only_role_reads_but_writes_are_permission_errors(
    admin: Admin, role: str, store_url: str, schema: str, url_with: Callable[..., str]
) -> None:
    async with open_storage(store_url) as owner:
        (await owner.save_network(sample_bassline())).unwrap()
    ident = sql.Identifier(role)
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), ident))
    admin.execute(
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.Identifier(schema), ident
        )
    )
    url = url_with(username=role, password=PW_SECRET, schema=schema)
    async with open_storage(url) as storage:
        assert (await storage.load_network("calc")).unwrap().id == "calc"
        results = [
            await storage.save_network(sample_bassline("other")),
            await storage.write([ContentRecord("calc", "ui", "x", 1, Stamp(1, "n"))]),
            await storage.delete_network("calc"),
            await storage.save_snapshot("calc"),
        ]
        for result in results:
            assert isinstance(result, Failure), result
            error = result.failure()
            assert error.code is ErrorCode.PERMISSION and not error.transient, error
            assert PW_SECRET not in error.message and mask_url(url) in error.message
            assert "GRANT" in error.message and role in error.message
        assert (await storage.list_networks()).unwrap() == ["calc"]


async def test_migrating_without_create_privilege_says_so(
    admin: Admin, role: str, url_with: Callable[..., str], spare_schema: str
) -> None:
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    url = url_with(username=role, password=PW_SECRET, schema=spare_schema)
    with pytest.raises(MigrationError) as raised:
        await anyio.to_thread.run_sync(migrate, url)
    assert raised.value.error.code is ErrorCode.PERMISSION
    assert PW_SECRET not in str(raised.value) and mask_url(url) in str(raised.value)
    with pytest.raises(StorageOpenError) as refused:
        async with open_storage(url, migrate=True):
            pass
    assert refused.value.error.code is ErrorCode.PERMISSION


async def test_statement_timeout_is_a_transient_timeout(
    admin: Admin, store_url: str, schema: str, url_with: Callable[..., str]
) -> None:
    async with open_storage(store_url) as storage:
        (await storage.save_network(sample_bassline())).unwrap()
        (await storage.write([ContentRecord("calc", "ui", "x", 1, Stamp(1, "n"))])).unwrap()
    # Hold the row's lock from another connection: the update must wait, past the
    # 50 ms statement timeout, until the server cancels it.
    locker = psycopg.connect(url_with(), autocommit=False)
    try:
        locker.execute(
            sql.SQL("SELECT 1 FROM {}.bassline_contacts WHERE contact_id = 'x' FOR UPDATE").format(
                sql.Identifier(schema)
            )
        )
        async with open_storage(store_url, statement_timeout=50) as storage:
            result = await storage.write([ContentRecord("calc", "ui", "x", 2, Stamp(2, "n"))])
            assert isinstance(result, Failure), result
            error = result.failure()
            assert error.code is ErrorCode.TIMEOUT and error.transient
            assert "statement_timeout" in error.message
        locker.rollback()
        async with open_storage(store_url) as storage:
            record = (await storage.load_contact_content("calc", "ui", "x")).unwrap()
            assert (record.value, record.stamp) == (1, Stamp(1, "n"))
    finally:
        locker.close()


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("pool_size=0", "pool_size=0"),
        ("pool_size=many", "pool_size='many'"),
        ("max_overflow=-1", "max_overflow"),
        ("connect_timeout=0", "connect_timeout"),
        ("statement_timeout=1.5", "statement_timeout"),
        ("synchronous_commit=sometimes", "synchronous_commit"),
        ("loop_writes=sometimes", "loop_writes='sometimes'"),
        ("schema=" + "s" * 64, "at most 63 bytes"),
        ("pool_sise=3", "did you mean 'pool_size'"),
        ("pool_size=1&pool_size=2", "more than once"),
        # a blank value was dropped unseen: ?schema= (an unset $SCHEMA) meant public
        ("schema=", "option 'schema' has no value"),
        ("schema", "option 'schema' has no value"),
        ("pool_size=2&schema=&sslmode=require", "option 'schema' has no value"),
        ("sslmode=", "option 'sslmode' has no value"),
        ("pool_size=", "option 'pool_size' has no value"),
        ("application_name=me@host&schema=", "option 'schema' has no value"),
        # libpq parameters the URL itself gives: "unknown option 'host'; did you mean
        # 'hostaddr'?", though libpq knows it
        ("host=/var/run/postgresql", "/db?host=/var/run/postgresql: the URL itself gives it"),
        ("dbname=other", "the URL itself gives it (postgresql://user:password@host:port"),
        ("password=x", "/db?password=x: the URL itself gives it"),
    ],
)
def test_bad_url_options_are_value_errors(query: str, complaint: str) -> None:
    url = f"postgresql://u:{PW_SECRET}@127.0.0.1/db?{query}"
    with pytest.raises(ValueError) as raised:
        open_storage(url)
    assert complaint in str(raised.value)
    assert PW_SECRET not in str(raised.value) and "***" in str(raised.value)


def test_loop_writes_reads_on_and_off_in_every_spelling() -> None:
    for text, expected in (("on", True), ("off", False), ("no", False), ("1", True)):
        storage: Any = open_storage(f"postgresql://127.0.0.1/db?loop_writes={text}")
        assert storage.config.loop_writes is expected
    storage = open_storage("postgresql://127.0.0.1/db", loop_writes=False)
    assert storage.config.loop_writes is False


def test_a_password_holding_a_question_mark_is_not_read_as_a_blank_option() -> None:
    """The check for blank options reads the query where SQLAlchemy does: after the host."""
    storage: Any = open_storage("postgresql://u:a?b=@127.0.0.1/db?schema=s")
    assert (storage.config.url.password, storage.config.schema) == ("a?b=", "s")


def test_bad_keyword_options_are_value_errors() -> None:
    with pytest.raises(ValueError, match="pool_size"):
        open_storage("postgresql://127.0.0.1/db", pool_size=-2)
    with pytest.raises(ValueError, match="did you mean 'statement_timeout'"):
        open_storage("postgresql://127.0.0.1/db", statement_timeot=5)
    with pytest.raises(ValueError, match="psycopg 3"):
        open_postgres_storage("postgresql+psycopg2://127.0.0.1/db")
    with pytest.raises(PluginNotFound, match="did you mean 'postgresql\\+psycopg'"):
        open_storage("postgresql+psycopg2://127.0.0.1/db")


def test_good_options_are_read_and_libpq_parameters_pass_through() -> None:
    storage: Any = open_storage(
        "postgresql+psycopg://u:pw@db.example:6543/app?pool_size=3&max_overflow=2"
        "&connect_timeout=4&statement_timeout=2500&synchronous_commit=off&schema=Tenant%20A"
        "&sslmode=require&application_name=bassline",
        pool_size=7,
    )
    config = storage.config
    assert (config.pool_size, config.max_overflow, config.capacity) == (7, 2, 9)
    assert (config.connect_timeout, config.statement_timeout) == (4, 2500)
    assert (config.synchronous_commit, config.schema) == ("off", "Tenant A")
    assert dict(config.url.query) == {"sslmode": "require", "application_name": "bassline"}
    assert storage.url.startswith("postgresql+psycopg://u:***@db.example:6543/app")
