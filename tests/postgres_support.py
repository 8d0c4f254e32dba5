"""What every PostgreSQL test fixture shares: the server URL, and skip-or-fail when it is down."""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy.engine import make_url

__all__ = ["DEFAULT_URL", "require_postgres_url", "with_parts", "with_query"]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def with_query(url: str, **query: str) -> str:
    """``url`` with query parameters added or replaced."""
    return make_url(url).update_query_dict(query).render_as_string(hide_password=False)


def with_parts(url: str, **parts: object) -> str:
    """``url`` with user, password, host, port or database replaced."""
    return make_url(url).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


def require_postgres_url() -> str:
    """``BASSLINE_TEST_POSTGRES_URL`` (or the default) if reachable.

    Otherwise skip with the reason — or fail, when ``BASSLINE_REQUIRE_POSTGRES=1`` (CI sets
    it, so the suite can never pass by not running these tests).
    """
    url = os.environ.get("BASSLINE_TEST_POSTGRES_URL", DEFAULT_URL)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = f"PostgreSQL not reachable at {url} ({str(exc).strip().splitlines()[0]})"
        if os.environ.get("BASSLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; BASSLINE_REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(f"{reason}; set BASSLINE_TEST_POSTGRES_URL to a server to run these tests")
    return url
