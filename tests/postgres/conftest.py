"""PostgreSQL test fixtures: a real server, and a fresh schema per test.

The server is ``BASSLINE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). If it cannot be reached every test here
is skipped with the reason, unless ``BASSLINE_REQUIRE_POSTGRES=1``, which turns the
skip into a failure (CI sets it, so the suite can never pass by not running).

Each test gets its own schema (``bt_<random>``), created before and dropped (CASCADE)
after; the storage under test is pointed at it with the ``schema`` URL option.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bassline_storage_postgres import migrate
from psycopg import sql

from tests.postgres_support import require_postgres_url, with_parts, with_query

_URL_PARTS = {"username", "password", "host", "port", "database"}
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this directory ``postgres``."""
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The server URL; skips (or fails, with BASSLINE_REQUIRE_POSTGRES=1) if unreachable."""
    return require_postgres_url()


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to the test database, for setup and inspection."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def drop_schema(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> None:
    """DROP SCHEMA ... CASCADE, ignoring a missing one."""
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def schema(admin: psycopg.Connection[tuple[object, ...]]) -> Iterator[str]:
    """A fresh, empty schema name (created), dropped with everything in it afterwards."""
    name = f"bt_{uuid.uuid4().hex[:12]}"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        drop_schema(admin, name)


@pytest.fixture
def url_with(postgres_url: str) -> Callable[..., str]:
    """``url_with(schema=..., user=..., password=..., port=..., database=...)``: a test URL."""

    def build(**changes: Any) -> str:
        query = {k: str(changes.pop(k)) for k in list(changes) if k not in _URL_PARTS}
        url = with_parts(postgres_url, **changes) if changes else postgres_url
        return with_query(url, **query) if query else url

    return build


@pytest.fixture
def spare_schema(admin: psycopg.Connection[tuple[object, ...]]) -> Iterator[str]:
    """A schema name that does not exist yet; dropped afterwards if a test created it."""
    name = f"bt_new_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        drop_schema(admin, name)


@pytest.fixture
def schema_url(postgres_url: str, schema: str) -> str:
    """A storage URL pointing at the fresh (empty, unmigrated) schema."""
    return with_query(postgres_url, schema=schema)


@pytest.fixture
def store_url(schema_url: str) -> str:
    """A storage URL pointing at the fresh schema, migrated to head."""
    migrate(schema_url)
    return schema_url
