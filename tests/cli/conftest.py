"""CLI test fixtures: the real ``bassline`` command, and real storages.

``cli(...)`` runs the command through :func:`bassline.cli.app.main` inside the test process
(the same entry point the console script uses, exit codes included) because starting a
fresh interpreter for each of the hundreds of calls would dominate the suite's time; tests
that need a real process (a custom environment, a working directory, signals, a terminal)
use :func:`run_cli`, which starts ``python -m bassline``.

PostgreSQL follows ``tests/postgres/conftest.py``: the server is
``BASSLINE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
if it cannot be reached the PostgreSQL tests skip with the reason, unless
``BASSLINE_REQUIRE_POSTGRES=1`` turns that into a failure. Each test gets a fresh schema,
dropped afterwards.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from bassline_storage_postgres import migrate
from psycopg import sql

from tests.postgres_support import require_postgres_url, with_query

EXAMPLES = Path(__file__).parents[2] / "examples"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(**extra: str) -> dict[str, str]:
    """A small, predictable environment for the CLI: wide, colourless, no terminal."""
    env = {"COLUMNS": "200", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1"}
    env.update(extra)
    return env


def run_cli(
    *args: str, input: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bassline ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "bassline", *args],
        capture_output=True,
        text=True,
        timeout=120,
        input=input,
        env=env or cli_env(),
        cwd=cwd,
    )


def run_in_process(
    *args: str, input: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``bassline ARGS`` through ``main()`` in this process, capturing its output.

    With ``env`` or ``cwd`` it runs in a subprocess instead (those belong to a process).
    """
    if env is not None or cwd is not None:
        return run_cli(*args, input=input, env=env, cwd=cwd)
    from bassline.cli.app import main
    from bassline.cli.console import err, out

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stdin = io.TextIOWrapper(io.BytesIO((input or "").encode()), encoding="utf-8")
    saved_stdin = sys.stdin
    # wide consoles, as COLUMNS=200 gives a subprocess; Rich keeps the width privately
    saved_widths = [console._width for console in (out, err)]
    out.width = err.width = 200
    sys.stdin = stdin
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(list(args))
    finally:
        sys.stdin = saved_stdin
        out._width, err._width = saved_widths
    stdout.flush()
    stderr.flush()
    text = [s.buffer.getvalue().decode() for s in (stdout, stderr)]  # type: ignore[attr-defined]
    return subprocess.CompletedProcess(["bassline", *args], code, text[0], text[1])


@pytest.fixture
def cli() -> Cli:
    """Run the real CLI: ``cli("run", spec, "--json")`` (see the module docstring)."""
    return run_in_process


def file_url(path: Path) -> str:
    """A ``file://`` storage URL for a directory."""
    return f"file://{path.resolve()}"


@pytest.fixture
def store_a(tmp_path: Path) -> str:
    """A fresh filesystem store."""
    return file_url(tmp_path / "store-a")


@pytest.fixture
def store_b(tmp_path: Path) -> str:
    """Another fresh filesystem store."""
    return file_url(tmp_path / "store-b")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server URL; skips (or fails, with BASSLINE_REQUIRE_POSTGRES=1) if unreachable."""
    return require_postgres_url()


@pytest.fixture
def pg_admin(postgres_server: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection for setup and inspection."""
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_schema(pg_admin: psycopg.Connection[tuple[object, ...]]) -> Iterator[str]:
    """A fresh schema name, dropped with everything in it afterwards (created by migrate)."""
    name = f"bt_cli_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        pg_admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def pg_fresh_url(postgres_server: str, pg_schema: str) -> str:
    """A storage URL for a schema that does not exist yet (nothing migrated)."""
    return with_query(postgres_server, schema=pg_schema)


@pytest.fixture
def pg_url(pg_fresh_url: str) -> str:
    """A storage URL for a fresh schema migrated to head."""
    migrate(pg_fresh_url)
    return pg_fresh_url
