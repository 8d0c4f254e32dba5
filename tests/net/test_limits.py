"""Memory under hostile peers, measured on a real node process (``bassline start``).

A client streams a 256 MiB WebSocket frame (or the same in fragments, or several at
once) at the node, before and after authenticating. The node must refuse it once the
documented limit has arrived — ``max_handshake_frame_bytes`` (64 KiB) before the
handshake, ``max_frame_bytes`` (1 MiB) after — with close code 1009, and its resident
memory (``/proc/<pid>/status``) must grow by no more than that limit plus a small
overhead. Before the fix the node buffered every byte: +252 MiB for one such frame.
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest

from bassline.net import BasslineNetwork, GossipSettings
from bassline.net.auth import api_token
from bassline.net.handshake import handshake
from bassline.net.transport import ClientTransport, ConnectionClosed, dial
from bassline.net.urls import NodeURL, parse_node_url

from .conftest import SECRET, flat

pytestmark = pytest.mark.slow

MiB = 1 << 20
HUGE = 256 * MiB
HANDSHAKE_LIMIT = 64 << 10  # GossipSettings().max_handshake_frame_bytes
FRAME_LIMIT = 1 * MiB  # GossipSettings().max_frame_bytes
READ = 64 << 10  # one socket read a link may hold besides its message
OVERHEAD = 3 * MiB
"""Allowed growth besides the limit: the interpreter's own allocations while it serves."""
SPEC = flat(2)
CHUNK = b"a" * (64 << 10)  # fragments are at most this long


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


class Memory:
    """The most resident memory a process used while the block ran, above where it began.

    The high-water mark is reset first (``clear_refs``) and read after; RSS is also
    sampled every few milliseconds meanwhile, in case the reset is not permitted.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.growth = 0
        self._stop = threading.Event()
        self._peak = 0

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _status(self.pid, "VmRSS"))

    def __enter__(self) -> Memory:
        with suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        self.start = _status(self.pid, "VmRSS")
        self._peak = self.start
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.growth = max(self._peak, _status(self.pid, "VmHWM")) - self.start


@pytest.fixture(params=["asyncio", "trio"])
def node_process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, NodeURL]]:
    """A fresh node process per test: memory a process freed but kept would hide growth."""
    folder = tmp_path
    spec = folder / "spec.json"
    spec.write_bytes(orjson.dumps(SPEC.to_dict()))
    secret = folder / "secret"
    secret.write_bytes(SECRET)
    log = (folder / "node.log").open("w")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bassline", "start", str(spec)),
            *("--node-id", "target", "--listen", "127.0.0.1:0", "--secret-file", str(secret)),
            *("--log-level", "warning", "--backend", str(request.param)),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), (folder / "node.log").read_text()
        node_url = parse_node_url(url)
        anyio.run(_warm_up, node_url)
        yield proc.pid, node_url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


async def _warm_up(url: NodeURL) -> None:
    """One ordinary link and one refused frame first, so what the node allocates once
    for any link (code paths, caches) is not counted as the attack's."""
    async with BasslineNetwork(
        "friend", SPEC, secret=SECRET, settings=GossipSettings(discover=False)
    ) as friend:
        async with dial(url, max_bytes=FRAME_LIMIT) as link:
            await handshake(friend, link, dialer=True)
            await link.send(b"not json")
            with suppress(ConnectionClosed), anyio.fail_after(30):
                while True:
                    await link.receive()


def _header(opcode: int, fin: bool, size: int) -> bytes:
    """A masked (client) frame header with mask key 0: the payload goes as it is."""
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        length = bytes([0x80 | size])
    elif size < 1 << 16:
        length = bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        length = bytes([0x80 | 127]) + struct.pack("!Q", size)
    return bytes([first]) + length + b"\0\0\0\0"


async def _send_huge(link: ClientTransport, fragment: int | None, size: int) -> None:
    """One binary message of ``size`` bytes: a single frame, or fragments of ``fragment``.

    Written raw, under the link's write lock (the link answers the node's close frame
    on the same socket)."""
    sent = 0
    if fragment is None:
        await link._write(_header(0x2, True, size))
    while sent < size:
        if fragment is None:
            await link._write(CHUNK)
            sent += len(CHUNK)
        else:
            opcode = 0x2 if sent == 0 else 0x0
            await link._write(_header(opcode, sent + fragment >= size, fragment))
            await link._write(CHUNK[:fragment])
            sent += fragment


async def _attack(
    url: NodeURL, authenticate: bool, fragment: int | None, size: int = HUGE
) -> tuple[int | None, dict[str, Any] | None]:
    """Stream the message; the close code and the refusal the node answered with."""
    async with BasslineNetwork(
        "mallory", SPEC, secret=SECRET, settings=GossipSettings(discover=False)
    ) as mallory:
        async with dial(url, max_bytes=FRAME_LIMIT) as link:
            if authenticate:
                await handshake(mallory, link, dialer=True)
            return await _flood_and_listen(link, fragment, size)


async def _flood_and_listen(
    link: ClientTransport, fragment: int | None, size: int
) -> tuple[int | None, dict[str, Any] | None]:
    """Send the whole message whatever the node answers, as a hostile client would (it
    stops only when the node closes the connection); meanwhile read the answer."""
    refusal: dict[str, Any] | None = None
    code: int | None = None
    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:

            async def flood() -> None:
                with suppress(ConnectionClosed):
                    await _send_huge(link, fragment, size)

            tg.start_soon(flood)
            try:
                while True:
                    frame = orjson.loads(await link.receive())
                    if frame["t"] == "refuse":
                        refusal = frame
            except ConnectionClosed as closed:
                code = closed.code
    return code, refusal


CASES = {
    "before-hello": (False, None, HANDSHAKE_LIMIT),
    "before-hello-in-16-KiB-fragments": (False, 16 << 10, HANDSHAKE_LIMIT),
    "after-hello": (True, None, FRAME_LIMIT),
    "after-hello-in-64-KiB-fragments": (True, 64 << 10, FRAME_LIMIT),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_256_mib_message_is_refused_as_it_arrives_and_memory_stays_bounded(
    node_process: tuple[int, NodeURL], case: str
) -> None:
    pid, url = node_process
    authenticate, fragment, limit = CASES[case]
    with Memory(pid) as memory:
        code, refusal = anyio.run(_attack, url, authenticate, fragment)
    print(f"{case}: node RSS grew by {memory.growth / MiB:.2f} MiB (limit {limit / MiB:.3f} MiB)")
    assert code == 1009, (code, refusal)
    assert refusal is not None and refusal["code"] == "oversized", refusal
    assert f"more than {limit} bytes" in refusal["reason"]
    assert memory.growth <= limit + READ + OVERHEAD, (
        f"{case}: the node's memory grew by {memory.growth / MiB:.1f} MiB"
    )
    assert httpx.get(f"{url.http}/healthz", timeout=10).status_code == 200  # still serving


def test_four_concurrent_64_mib_frames_before_hello_stay_bounded(
    node_process: tuple[int, NodeURL],
) -> None:
    pid, url = node_process
    codes: list[int | None] = []

    async def four() -> None:
        async def one() -> None:
            codes.append((await _attack(url, False, None, 64 * MiB))[0])

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(one)

    with Memory(pid) as memory:
        anyio.run(four)
    print(f"four at once: node RSS grew by {memory.growth / MiB:.2f} MiB")
    assert codes == [1009] * 4
    assert memory.growth <= 4 * (HANDSHAKE_LIMIT + READ) + OVERHEAD, (
        f"the node's memory grew by {memory.growth / MiB:.1f} MiB"
    )
    assert httpx.get(f"{url.http}/healthz", timeout=10).status_code == 200  # still serving


WATCH_LIMIT = 2 * MiB  # GossipSettings().watch_buffer_bytes
READERS = 4
VALUE = 200_000
WRITES = 300


class _StalledReader:
    """An ``/api/changes`` reader that stops reading once the node has answered (its
    watcher is registered before the answer starts). A small receive buffer, so the node
    finds it stalled soon rather than after the kernel's buffers fill."""

    def __init__(self, url: NodeURL) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(60)
        self.sock.connect((url.host, url.port))
        self.sock.sendall(
            (
                "GET /api/changes?contact=c0 HTTP/1.1\r\n"
                f"Host: {url.host}\r\nAuthorization: Bearer {api_token(SECRET)}\r\n\r\n"
            ).encode()
        )
        self.received = b""
        while b"\r\n\r\n" not in self.received:
            self.received += self.sock.recv(1)

    def events(self) -> list[tuple[str, Any]]:
        """Everything the reader was sent, as (event, data), until the stream's end."""
        head, _, rest = self.received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower(), (
            head
        )
        body = b""
        while True:  # chunked: "<size in hex>\r\n<data>\r\n"..., then "0\r\n\r\n"
            while b"\r\n" not in rest:
                rest += self._recv()
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += self._recv()
            body, rest = body + rest[:size], rest[size + 2 :]
            if size == 0:
                break
        self.sock.close()
        events = []
        for block in body.split(b"\n\n"):
            if block:
                kind, data = block.split(b"\n", 1)
                events.append((kind.removeprefix(b"event: ").decode(), orjson.loads(data[6:])))
        return events

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        assert chunk, "the connection closed before the stream ended"
        return chunk


def test_stalled_change_readers_are_bounded_by_bytes_and_told_they_were_cut_off(
    node_process: tuple[int, NodeURL],
) -> None:
    """Issue 13: 20 stalled readers with 200 KB values held 290 MiB (1,024 results each,
    whatever their size). A reader may now leave at most watch_buffer_bytes untaken."""
    pid, url = node_process
    readers = [_StalledReader(url) for _ in range(READERS)]
    token = {"authorization": f"Bearer {api_token(SECRET)}"}
    with httpx.Client(base_url=url.http, headers=token, timeout=30) as client:
        with Memory(pid) as memory:
            for n in range(WRITES):
                value = f"{n:08d}" + "v" * (VALUE - 8)
                reply = client.put("/api/contacts/c0", json={"value": value})
                assert reply.status_code == 200, reply.text
        print(
            f"{READERS} stalled readers, {WRITES} writes of 200 KB: node RSS grew by "
            f"{memory.growth / MiB:.2f} MiB"
        )
        # per reader: its buffer, plus what is in flight to it (one event, one read)
        assert memory.growth <= READERS * (WATCH_LIMIT + 2 * VALUE + READ) + OVERHEAD, (
            f"the node's memory grew by {memory.growth / MiB:.1f} MiB"
        )
        assert client.get("/healthz").status_code == 200
    for reader in readers:
        events = reader.events()
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "snapshot" and kinds[-1] == "overflow", kinds
        assert set(kinds[1:-1]) <= {"change"}
        got = [int(data["value"][:8]) for kind, data in events if kind == "change"]
        assert got == list(range(len(got))) and len(got) < WRITES  # in order, then cut
        overflow = events[-1][1]
        assert overflow["limit"] == WATCH_LIMIT and "cut off" in overflow["error"]
