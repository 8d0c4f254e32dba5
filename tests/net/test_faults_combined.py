"""Faults together, real processes: no acknowledged write is lost, and every node agrees.

Three ``bassline start`` processes: ``a`` stores in a throwaway PostgreSQL cluster of its
own (never the shared server), ``b`` and ``c`` in file stores. ``b`` dials ``a``; ``c``
dials both through TCP proxies, so cutting the proxies partitions ``c`` off. While a
writer thread writes to the three nodes in turn, the test crashes PostgreSQL (immediate
shutdown: no checkpoint, crash recovery at the next start) and starts it again,
partitions ``c``, SIGKILLs ``c`` and starts it again (still partitioned), then heals the
partition. At the end every write a node acknowledged (HTTP 200) is on every node, and the
three digests are equal.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from anyio.from_thread import start_blocking_portal
from bassline_storage_postgres import migrate

from tests.postgres_support import with_query
from tests.runtime.pgcluster import PgCluster

from .nodes import Node, wait_converged
from .proxy import TcpProxy

pytestmark = pytest.mark.slow

CONTACTS = 6000
"""Each write goes to a contact of its own, so "acknowledged" has one meaning per contact."""


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL server of our own (never the shared one)."""
    from tests.runtime.pgcluster import throwaway_cluster

    yield from throwaway_cluster()


class Writer:
    """One thread per node, each writing ``c<k>`` = ``"v<k>"`` and tag ``t<k>`` (a grow-set)
    to its node, for its own ``k``s: a write that hangs on one node (its storage is down)
    holds up no other node's writes."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.acknowledged: dict[str, str] = {}
        self.tags: set[str] = set()
        self.ok: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.done = threading.Event()
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(len(nodes))
        ]

    def start(self) -> None:
        """Start writing."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop writing and wait for the writes in flight."""
        self.done.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, i: int) -> None:
        node = self.nodes[i]
        try:
            for k in range(i, CONTACTS, len(self.nodes)):
                if self.done.is_set():
                    return
                body = {"values": {f"c{k}": f"v{k}", "tags": [f"t{k}"]}}
                try:
                    r = httpx.post(f"{node.url}/api/contacts", json=body, timeout=30)
                    acknowledged = r.status_code == 200  # else 503: storage is down
                except httpx.HTTPError:
                    acknowledged = False  # the node is down
                with self._lock:
                    if acknowledged:
                        self.acknowledged[f"c{k}"] = f"v{k}"
                        self.tags.add(f"t{k}")
                        self.ok[node.node_id] += 1
                    else:
                        self.failed[node.node_id] += 1
                self.done.wait(0.02)  # the workload's pace, not a synchronisation
        except BaseException as exc:  # reported by the test, never lost in the thread
            self.errors.append(exc)


def _until(what: str, condition: Callable[[], bool], within: float = 60) -> None:
    """Poll ``condition`` until it holds (fails at the deadline)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within}s"
        time.sleep(0.02)  # a polling interval with a deadline, not a synchronisation


def _contents(node: Node) -> dict[str, object]:
    r = httpx.get(f"{node.url}/api/contacts", timeout=30)
    r.raise_for_status()
    return {c["id"]: c["value"] for c in r.json()["contacts"]}


def test_a_postgres_crash_a_killed_node_and_a_partition_lose_no_acknowledged_write(
    tmp_path: Path, cluster: PgCluster
) -> None:
    spec = tmp_path / "spec.json"
    contacts: list[dict[str, object]] = [{"id": f"c{i}"} for i in range(CONTACTS)]
    contacts.append({"id": "tags", "lattice": "grow-set"})
    spec.write_bytes(orjson.dumps({"id": "faults", "contacts": contacts}))
    pg_url = with_query(cluster.url, schema="faults", connect_timeout="2")
    migrate(pg_url)
    started: list[Node] = []
    with start_blocking_portal() as portal:
        try:
            a = Node(tmp_path, spec, "a", "--storage", pg_url, "--no-discover").start()
            started.append(a)
            b = Node(
                tmp_path,
                spec,
                "b",
                "--storage",
                f"file://{tmp_path / 'b-store'}",
                "--peer",
                a.url.replace("http", "ws"),
                "--no-discover",
            ).start()
            started.append(b)
            port = int(a.url.rsplit(":", 1)[1]), int(b.url.rsplit(":", 1)[1])
            to_a = portal.wrap_async_context_manager(TcpProxy(port[0]))
            to_b = portal.wrap_async_context_manager(TcpProxy(port[1]))
            with to_a as proxy_a, to_b as proxy_b:
                c = Node(
                    tmp_path,
                    spec,
                    "c",
                    "--storage",
                    f"file://{tmp_path / 'c-store'}",
                    "--peer",
                    proxy_a.url,
                    "--peer",
                    proxy_b.url,
                    "--no-discover",
                ).start()
                started.append(c)
                _until("c linked to a and b", lambda: len(c.status()["peers"]) == 2)  # type: ignore[arg-type]
                writer = Writer([a, b, c])
                writer.start()
                try:
                    _run_faults(cluster, portal, proxy_a, proxy_b, writer, a, c)
                finally:
                    writer.stop()
                assert not writer.errors, writer.errors
                wait_converged([a, b, c], within=60)
            held = [_contents(n) for n in (a, b, c)]
            for node, contents in zip((a, b, c), held, strict=True):
                lost = {k: v for k, v in writer.acknowledged.items() if contents.get(k) != v}
                assert not lost, f"{node.node_id} lost acknowledged writes: {sorted(lost)[:10]}"
                tags = contents["tags"]
                assert isinstance(tags, dict)
                assert writer.tags <= set(tags["value"]), node.node_id
            assert held[0] == held[1] == held[2]
            for node in (a, b, c):
                assert node.stop() == 0, node.log.read_text()
        finally:
            for node in started:
                if node.proc is not None and node.proc.poll() is None:
                    node.stop(signal.SIGKILL)


def _run_faults(
    cluster: PgCluster,
    portal: object,
    proxy_a: TcpProxy,
    proxy_b: TcpProxy,
    writer: Writer,
    a: Node,
    c: Node,
) -> None:
    call = portal.call  # type: ignore[attr-defined]
    _until("writes acknowledged by all three", lambda: min(writer.ok[n] for n in "abc") >= 5)

    # PostgreSQL crashes under a: its writes fail (not acknowledged) until it is back
    failed_before = writer.failed["a"]
    cluster.crash()
    _until(
        "a write to a refused while PostgreSQL is down", lambda: writer.failed["a"] > failed_before
    )
    cluster.start()
    ok_after = writer.ok["a"]
    _until("a acknowledging writes again", lambda: writer.ok["a"] >= ok_after + 5)

    # c is partitioned off, keeps acknowledging writes on its own, and is SIGKILLed
    call(proxy_a.cut)
    call(proxy_b.cut)
    _until("c partitioned", lambda: not c.status()["peers"])
    ok_c = writer.ok["c"]
    _until("writes acknowledged by c alone", lambda: writer.ok["c"] >= ok_c + 5)
    assert c.stop(signal.SIGKILL) == -signal.SIGKILL
    failed_c = writer.failed["c"]
    _until("a write to c refused while it is dead", lambda: writer.failed["c"] > failed_c)
    c.start()
    ok_c = writer.ok["c"]
    _until("c acknowledging writes after its restart", lambda: writer.ok["c"] >= ok_c + 5)

    # the partition heals while the writes go on
    call(proxy_a.restore)
    call(proxy_b.restore)
    _until("c linked again", lambda: len(c.status()["peers"]) == 2)  # type: ignore[arg-type]
    ok_all = {n: writer.ok[n] for n in "abc"}
    _until(
        "writes acknowledged by all three after healing",
        lambda: all(writer.ok[n] >= ok_all[n] + 3 for n in "abc"),
    )
