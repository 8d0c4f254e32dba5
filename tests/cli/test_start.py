"""``bassline start`` as a real process: what it logs, and where its options may come from."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bassline.cli.node_commands import QUIET_LOGGERS, configure_logging

from .conftest import EXAMPLES, cli_env

CALC = str(EXAMPLES / "calculator.json")


def run_start(
    *args: str, env: dict[str, str] | None = None, stop: bool = True
) -> subprocess.CompletedProcess[str]:
    """``bassline start ARGS`` until it prints its URL, then SIGTERM; its whole output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bassline", "start", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env or cli_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the node listens (or exits)
        if stop and first.startswith("http"):
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, first + out, err)


@pytest.mark.postgres
def test_start_on_postgres_logs_no_alembic_chatter(pg_url: str) -> None:
    done = run_start(CALC, "--node-id", "m1", "--listen", "127.0.0.1:0", "--storage", pg_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")
    assert "alembic" not in done.stderr, done.stderr
    assert "INFO bassline.net: node m1 joined calculator" in done.stderr  # INFO still shows


@pytest.fixture
def saved_logging() -> Iterator[None]:
    """Put the root logger and the quietened loggers back as they were afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("saved_logging")
def test_quiet_loggers_keep_warnings_and_show_everything_at_debug() -> None:
    alembic = logging.getLogger("alembic.runtime.migration")
    configure_logging(logging.INFO)
    assert not alembic.isEnabledFor(logging.INFO)
    assert alembic.isEnabledFor(logging.WARNING) and alembic.isEnabledFor(logging.ERROR)
    configure_logging(logging.DEBUG)
    assert alembic.isEnabledFor(logging.DEBUG)
    configure_logging(logging.ERROR)
    assert not alembic.isEnabledFor(logging.WARNING) and alembic.isEnabledFor(logging.ERROR)
