"""Sites: two PostgreSQL databases with two ``bassline start`` processes each; the
database carries changes inside a site, gossip between the sites."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from bassline_storage_postgres import migrate
from psycopg import sql

from tests.net.nodes import Node

pytestmark = pytest.mark.slow

CALCULATOR = Path(__file__).parents[2] / "examples" / "calculator.json"


@pytest.fixture
def other_database(postgres_url: str, url_with: Callable[..., str]) -> Iterator[str]:
    """A second database on the server (site 2), migrated; dropped afterwards."""
    name = f"bl_site_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = url_with(database=name)
        migrate(url)
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def cleanup() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for n in started:
        if n.proc is not None and n.proc.poll() is None:
            n.stop(signal.SIGKILL)


def _values(node: Node) -> dict[str, Any]:
    listing = httpx.get(f"{node.url}/api/contacts", timeout=10).json()
    return {c["id"]: c["value"] for c in listing["contacts"]}


def _wait(check: Callable[[], bool], within: float, what: str) -> None:
    """Poll ``check()`` until true; fail at the deadline (not a synchronisation)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what}")


def test_writes_anywhere_reach_every_process_of_both_sites(
    tmp_path: Path, store_url: str, other_database: str, cleanup: list[Node]
) -> None:
    """Site 1: a1, a2 on one database; site 2: b1, b2 on another; one gossip link, a1-b1.
    A write at a2 reaches b2 through db1, the link and db2, and back the other way.
    Planted: the replicator passing feed values over for every peer (``peer_store``
    compared as always equal) -> a2's write never leaves site 1 (timeout)."""
    a1 = Node(tmp_path, CALCULATOR, "a1", "--storage", store_url).start()
    cleanup.append(a1)
    a2 = Node(tmp_path, CALCULATOR, "a2", "--storage", store_url).start()
    cleanup.append(a2)
    b1 = Node(tmp_path, CALCULATOR, "b1", "--storage", other_database, "--peer", a1.url).start()
    cleanup.append(b1)
    b2 = Node(tmp_path, CALCULATOR, "b2", "--storage", other_database).start()
    cleanup.append(b2)
    every = [a1, a2, b1, b2]
    _wait(lambda: [p["node"] for p in a1.status()["peers"]] == ["b1"], 30, "the site link")  # type: ignore[union-attr,index]
    assert a2.status()["peers"] == [] and b2.status()["peers"] == []  # only a1-b1 gossips

    a2.write({"input-a": 5})  # site 1, not on the link
    _wait(lambda: all(_values(n)["input-a"] == 5 for n in every), 60, "a2's write everywhere")
    b2.write({"input-b": 7})  # site 2, not on the link
    _wait(lambda: all(_values(n)["input-b"] == 7 for n in every), 60, "b2's write everywhere")
    # every process holds the gadget's output (each site runs the adder once, same value)
    _wait(lambda: all(_values(n)["result"] == 12 for n in every), 60, "the sum everywhere")
    digests = {n.status()["digest"] for n in every}
    _wait(lambda: len({n.status()["digest"] for n in every}) == 1, 60, f"one state ({digests})")
    # the processes each site sees through its database are its own
    sites = {n.node_id: sorted(p["node"] for p in n.status()["processes"]) for n in every}  # type: ignore[union-attr]
    assert sites == {"a1": ["a1", "a2"], "a2": ["a1", "a2"], "b1": ["b1", "b2"], "b2": ["b1", "b2"]}
    for n in every:
        assert n.stop() == 0, n.log.read_text()
