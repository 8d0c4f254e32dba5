"""Real ``bassline start`` processes on one PostgreSQL database, with no ``--peer``."""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from bassline.codec import to_json
from bassline.storage import open_storage
from tests.net.nodes import Node

pytestmark = pytest.mark.slow

CONTACTS = 12


def _spec_file(tmp_path: Path) -> Path:
    spec = {
        "id": "shared",
        "contacts": [{"id": f"c{i}"} for i in range(CONTACTS)]
        + [{"id": "tags", "lattice": "grow-set"}],
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture
def cleanup() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for n in started:
        if n.proc is not None and n.proc.poll() is None:
            n.stop(signal.SIGKILL)


def _contacts(node: Node) -> dict[str, tuple[Any, Any]]:
    listing = httpx.get(f"{node.url}/api/contacts", timeout=10).json()
    return {c["id"]: (c["value"], c["stamp"]) for c in listing["contacts"]}


def _wait(check: Any, within: float, what: str) -> None:
    """Poll ``check()`` until true; fail at the deadline (not a synchronisation)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {within}s waiting for {what}")


def _held(state: Node | dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """What must be equal everywhere: each accept-last contact's value and stamp, and the
    grow-set's value only (docs/network.md: stamps of equal lattice values may differ, a
    join that adds nothing keeps a process's own stamp, so which stamp a process keeps
    depends on the order the joins reached it)."""
    held = _contacts(state) if isinstance(state, Node) else state
    return {k: v[0] if k == "tags" else v for k, v in held.items()}


def _stored(store_url: str) -> dict[str, tuple[Any, Any]]:
    async def load() -> dict[str, tuple[Any, Any]]:
        async with open_storage(store_url) as storage:
            records = (await storage.load_contents("shared")).unwrap()
        return {r.contact: (to_json(r.value), r.stamp.to_json()) for r in records}

    return anyio.run(load)


def test_two_started_nodes_on_one_database_see_each_others_writes_without_peers(
    tmp_path: Path, store_url: str, cleanup: list[Node]
) -> None:
    spec = _spec_file(tmp_path)
    a = Node(tmp_path, spec, "a", "--storage", store_url).start()
    cleanup.append(a)
    b = Node(tmp_path, spec, "b", "--storage", store_url).start()
    cleanup.append(b)
    a.write({"c0": 20})
    b.write({"c1": 10})
    _wait(lambda: _contacts(b).get("c0", (None,))[0] == 20, 30, "a's write at b")
    _wait(lambda: _contacts(a).get("c1", (None,))[0] == 10, 30, "b's write at a")
    for n in (a, b):
        status = n.status()
        assert status["peers"] == []  # no gossip: the database carried it
        processes = status["processes"]
        assert isinstance(processes, list)
        assert sorted(p["node"] for p in processes) == ["a", "b"]
    assert a.stop() == 0, a.log.read_text()
    # b sees a leave (its listening session ended)
    _wait(lambda: [p["node"] for p in b.status()["processes"]] == ["b"], 30, "a gone")  # type: ignore[union-attr,index]
    assert b.stop() == 0, b.log.read_text()


def test_four_processes_with_concurrent_overlapping_writes_converge_to_one_state(
    tmp_path: Path, store_url: str, cleanup: list[Node]
) -> None:
    spec = _spec_file(tmp_path)
    nodes = [Node(tmp_path, spec, f"p{i}", "--storage", store_url) for i in range(4)]
    for n in nodes:
        cleanup.append(n.launch())
    for n in nodes:
        n.ready()
    rng = random.Random(17)
    plans = [
        [{f"c{rng.randrange(CONTACTS)}": f"{n.node_id}-{k}"} for k in range(40)] for n in nodes
    ]

    def write_all(i: int) -> None:
        for values in plans[i]:
            nodes[i].write(values)
        nodes[i].write({"tags": [nodes[i].node_id]})

    with ThreadPoolExecutor(4) as pool:  # every process writes at the same time
        list(pool.map(write_all, range(4)))
    # what a single process would hold: every contact's newest-stamped write, which is
    # what the database kept (the stamp guard), and the union of every grow-set write
    stored = _stored(store_url)
    try:
        _wait(lambda: all(_held(n) == _held(stored) for n in nodes), 60, "four equal states")
    except AssertionError:
        for n in nodes:
            held = _contacts(n)
            print(n.node_id, {k: (held.get(k), v) for k, v in stored.items() if held.get(k) != v})
        raise
    assert sorted(stored["tags"][0]["value"]) == ["p0", "p1", "p2", "p3"]
    written = {k for plan in plans for values in plan for k in values}
    assert written <= set(stored)
    for cid in written:
        value, stamp = stored[cid]
        # the held value is the write that carried that stamp's node
        assert value.startswith(stamp[1] + "-")
    for n in nodes:
        assert n.stop() == 0, n.log.read_text()
