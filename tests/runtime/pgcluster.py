"""A throwaway PostgreSQL cluster (initdb + pg_ctl) for tests that stop and start the server.

It never touches the shared server: a new data directory in a temporary folder, a free port
on 127.0.0.1, trust authentication. Under root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PgCluster", "find_pg_bin", "throwaway_cluster"]


def find_pg_bin() -> Path | None:
    """Debian's versioned server binaries (newest first), or those on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One private PostgreSQL server: ``start``, ``stop``, ``crash``, ``restart``, ``url``."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin = bin_dir
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.port = _free_port()
        self._user: str | None = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """A URL for the ``postgres`` database as the ``postgres`` superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self._user:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        """Create the data directory (trust auth, fsync on, small shared memory)."""
        self.sockets.mkdir(parents=True)
        if self._user:
            info = pwd.getpwnam(self._user)
            for path in (self.root, self.sockets):
                os.chown(path, info.pw_uid, info.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c shared_buffers=16MB -c max_connections=40"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown: connections are terminated)."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False
        )

    def crash(self) -> None:
        """Stop the server as a crash would: immediate shutdown, no checkpoint; the next
        start runs crash recovery from the write-ahead log."""
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            "immediate",
            "-w",
            "stop",
            check=False,
        )

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.stop()
        self.start()

    def log(self) -> str:
        """The server log, for failure messages."""
        path = self.root / "server.log"
        return path.read_text() if path.exists() else ""


def throwaway_cluster() -> Iterator[PgCluster]:
    """Yield a started private cluster, removed afterwards: the body of a pytest fixture.

    Without the server binaries the test skips, or fails under ``BASSLINE_REQUIRE_POSTGRES=1``.
    """
    import pytest

    bin_dir = find_pg_bin()
    if bin_dir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if os.environ.get("BASSLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; BASSLINE_REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="bassline-pg-"))
    pg = PgCluster(bin_dir, root)
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
