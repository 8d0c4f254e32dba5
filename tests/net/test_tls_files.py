"""A node's TLS files are looked at before OpenSSL reads them: a device, a pipe or a huge
file is refused at once, naming the file and why (OpenSSL read a device, or waited on a
pipe's writer, for ever: only the CLI read its files up to a limit)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bassline.net import BasslineNetwork, NodeServer, TLSFilesError
from bassline.net.node_server import MAX_TLS_FILE_BYTES, tls_file_problem

from .conftest import FAST, flat


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe. A helper thread waits to open its other end, so that a reader that
    opens it (a regression) gets an empty pipe and fails, rather than hangs the suite."""
    path = tmp_path / "pipe.pem"
    os.mkfifo(path)
    writer = threading.Thread(target=lambda: os.close(os.open(path, os.O_WRONLY)), daemon=True)
    writer.start()
    yield path
    # release the helper if unused: its open returns only while a reader is open, so the
    # read end stays open until it has (closed at once, the helper could miss it and wait)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        writer.join()
    finally:
        os.close(reader)


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.pem"
    with open(path, "wb") as f:
        f.truncate(MAX_TLS_FILE_BYTES + 1)  # sparse: nothing written
    return path


@pytest.mark.anyio
@pytest.mark.parametrize("which", ["certificate", "key"])
@pytest.mark.parametrize("kind", ["device", "pipe", "directory", "huge", "missing"])
async def test_a_tls_file_that_is_no_pem_file_is_refused_before_it_is_read(
    tmp_path: Path, fifo: Path, which: str, kind: str
) -> None:
    bad, reason = {
        "device": (Path("/dev/zero"), "not a regular file (a character device): give a PEM file"),
        "pipe": (fifo, "not a regular file (a named pipe): give a PEM file"),
        "directory": (tmp_path, "not a regular file (a directory): give a PEM file"),
        "huge": (
            _huge(tmp_path),
            f"{MAX_TLS_FILE_BYTES + 1:,} bytes, more than the {MAX_TLS_FILE_BYTES:,} taken "
            "of a PEM file",
        ),
        "missing": (tmp_path / "nope.pem", "cannot read it: No such file or directory"),
    }[kind]
    good = tmp_path / "small.pem"
    good.write_text("not looked into before the other file is checked\n")
    cert, key = (bad, good) if which == "certificate" else (good, bad)
    async with BasslineNetwork("tls", flat(1), settings=FAST) as net:
        server = NodeServer(net, "127.0.0.1", 0, certfile=str(cert), keyfile=str(key))
        with pytest.raises(TLSFilesError) as caught:
            await server.__aenter__()
        assert str(caught.value) == f"cannot use TLS {which} file {str(bad)!r}: {reason}"
        assert server.url is None and net.advertise_url is None  # it never listened


def test_a_pem_file_up_to_the_limit_passes_the_look(tmp_path: Path) -> None:
    path = tmp_path / "big.pem"
    with open(path, "wb") as f:
        f.truncate(MAX_TLS_FILE_BYTES)
    assert tls_file_problem(path) is None
    assert tls_file_problem(path, limit=10) == (
        f"{MAX_TLS_FILE_BYTES:,} bytes, more than the 10 taken of a PEM file"
    )
