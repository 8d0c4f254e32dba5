"""Nodes as real processes started with ``bassline start``: a cluster, a crash, the CLI."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bassline.cli.app import main

from .conftest import SECRET
from .nodes import Node
from .nodes import wait_converged as _wait_converged

pytestmark = pytest.mark.slow


def _spec_file(tmp_path: Path, contacts: int) -> Path:
    spec = {
        "id": "cluster",
        "contacts": [{"id": f"c{i}"} for i in range(contacts)]
        + [{"id": "tags", "lattice": "grow-set"}],
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def _wait_caught_up(sender: Node, peer: str, within: float) -> None:
    """Poll until ``sender`` reports ``peer`` has confirmed its whole log (nothing behind)."""
    start = time.monotonic()
    links: list[object] = []
    while time.monotonic() - start < within:
        links = [p for p in sender.status()["peers"] if p["node"] == peer]  # type: ignore[attr-defined,index]
        if links and all(p["behind"] == 0 for p in links):  # type: ignore[index]
            return
        time.sleep(0.05)  # a polling interval with a deadline, not a synchronisation
    raise AssertionError(f"{peer} did not catch up with {sender.node_id} within {within}s: {links}")


@pytest.fixture
def cleanup() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for n in started:
        if n.proc is not None and n.proc.poll() is None:
            n.stop(signal.SIGKILL)


def test_ten_processes_converge_after_ten_thousand_updates(
    tmp_path: Path, cleanup: list[Node]
) -> None:
    spec = _spec_file(tmp_path, 1000)
    nodes: list[Node] = []
    # waves started in parallel: p0; p1-p3 dial p0; p(i) dials p(i-3): up to 3 hops apart
    for wave in ([0], [1, 2, 3], [4, 5, 6], [7, 8, 9]):
        batch_of_nodes = []
        for i in wave:
            peers = ["--peer", nodes[max(0, i - 3)].url.replace("http", "ws")] if i else []
            node = Node(tmp_path, spec, f"p{i}", *peers, "--no-discover")
            cleanup.append(node)
            batch_of_nodes.append(node.launch())
        nodes += [n.ready() for n in batch_of_nodes]
    rng = random.Random(10)
    plans: list[list[dict[str, object]]] = [[] for _ in nodes]
    written: set[str] = set()
    for batch in range(100):  # 10,000 updates in batches of 100, spread over the nodes
        values: dict[str, object] = {}
        for k in range(100):
            cid = f"c{rng.randrange(1000)}"
            values[cid] = {"batch": batch, "k": k, "node": batch % 10}
        written |= set(values)
        plans[batch % 10].append(values)

    def write_all(i: int) -> None:
        for values in plans[i]:
            nodes[i].write(values)

    with ThreadPoolExecutor(10) as pool:  # every node is written to at the same time
        list(pool.map(write_all, range(10)))
    for n in nodes:
        n.write({"tags": [n.node_id]})
    _wait_converged(nodes, within=60)
    listing = httpx.get(f"{nodes[7].url}/api/contacts", timeout=10).json()
    held = {c["id"]: c["value"] for c in listing["contacts"]}
    assert written <= set(held)
    assert sorted(held["tags"]["value"]) == sorted(f"p{i}" for i in range(10))
    for n in nodes:
        assert n.stop() == 0, n.log.read_text()


def test_a_killed_node_restarts_from_its_storage_and_converges(
    tmp_path: Path, cleanup: list[Node]
) -> None:
    spec = _spec_file(tmp_path, 200)
    a = Node(tmp_path, spec, "a").start()
    cleanup.append(a)
    b = Node(tmp_path, spec, "b", "--peer", a.url).start()
    cleanup.append(b)
    store = tmp_path / "c-store"
    c = Node(tmp_path, spec, "c", "--peer", b.url, "--storage", f"file://{store}")
    cleanup.append(c)
    c.start()
    a.write({f"c{i}": f"first {i}" for i in range(100)})
    _wait_converged([a, b, c], within=30)
    # equal digests say what c holds in memory; c has *stored* it once its cursor on b's
    # log (which moves only after storage took a delta) is at b's head
    _wait_caught_up(b, "c", within=30)
    assert c.stop(signal.SIGKILL) == -signal.SIGKILL
    for round_ in range(5):  # writes continue while c is dead
        a.write({f"c{i}": f"round {round_} {i}" for i in range(50, 200)})
        b.write({"tags": [f"r{round_}"]})
    c.start()
    recovered = c.status()["storage"]["recovered"]  # type: ignore[index]
    assert recovered == 100  # what c had stored before the SIGKILL
    _wait_converged([a, b, c], within=30)
    held = httpx.get(f"{c.url}/api/contacts/c199", timeout=10).json()
    assert held["value"] == "round 4 199"
    for n in (a, b, c):
        assert n.stop() == 0


def test_a_node_that_cuts_a_torn_tail_at_start_says_so_in_its_log(
    tmp_path: Path, cleanup: list[Node]
) -> None:
    spec = _spec_file(tmp_path, 3)
    store = tmp_path / "store"
    n = Node(tmp_path, spec, "torn", "--storage", f"file://{store}")
    cleanup.append(n)
    n.start()
    n.write({"c0": "kept"})
    n.write({"c1": "torn away"})
    assert n.stop() == 0
    log = store / "log"
    data = log.read_bytes()
    log.write_bytes(data[:-5])  # the last batch's commit marker is torn
    n.start()
    held = httpx.get(f"{n.url}/api/contacts", timeout=10).json()
    values = {c["id"]: c["value"] for c in held["contacts"]}
    assert values["c0"] == "kept" and "c1" not in values
    assert n.stop() == 0
    committed = log.stat().st_size
    text = n.log.read_text()
    assert f"WARNING bassline.storage.fs: file store {store}: at open: replayed" in text
    assert (
        f"cut a torn tail from the log: {len(data) - 5 - committed} bytes at offset "
        f"{committed}: 1 unfinished batch, never acknowledged, with 2 readable records "
        "holding 1 content"  # the content and its justifications (a WHYS record)
    ) in text


def test_the_cli_commands_against_a_running_node(
    tmp_path: Path, cleanup: list[Node], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec_file(tmp_path, 3)
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    n = Node(tmp_path, spec, "cli", "--secret-file", str(secret))
    cleanup.append(n)
    n.start()
    ws = n.url.replace("http", "ws")
    assert main(["set", ws, "c1", '{"a": [1, 2]}', "--secret-file", str(secret)]) == 0
    capsys.readouterr()
    assert main(["get", n.url, "c1", "--secret-file", str(secret)]) == 0
    assert json.loads(capsys.readouterr().out) == {"a": [1, 2]}
    assert main(["status", n.url, "--json", "--secret-file", str(secret)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["node"] == "cli" and status["storage"]["breaker"] == "closed"
    assert main(["status", n.url, "--secret-file", str(secret)]) == 0
    assert "digest" in capsys.readouterr().out

    wrong = tmp_path / "wrong"
    wrong.write_bytes(b"x" * 32)
    cases = [
        (["get", n.url, "c1", "--secret-file", str(wrong)], "wrong or missing --secret-file"),
        (["get", n.url, "c1"], "wrong or missing --secret-file"),
        (["get", n.url, "nope", "--secret-file", str(secret)], "unknown contact 'nope'"),
        (["set", n.url, "c1", "{bad", "--secret-file", str(secret)], "is not valid JSON"),
        (["get", "ftp://x", "c1"], "must start with ws://"),
        (["get", "http://127.0.0.1:9", "c1"], "cannot reach node"),
        (["status", "not a url"], "must start with ws://"),
        (
            ["set", n.url, "tags", "5", "--secret-file", str(secret)],
            "this number is not a value of the grow-set lattice",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        assert message in capsys.readouterr().err, argv
    # the refused write changed nothing: the empty grow-set still reads as empty
    assert main(["get", n.url, "tags", "--secret-file", str(secret)]) == 0
    printed = capsys.readouterr()  # nothing on stdout (a script reads no value); a note on stderr
    assert printed.out == "" and "tags has no content" in printed.err
    assert n.stop(signal.SIGTERM) == 0


def test_start_refuses_what_it_cannot_do_safely(tmp_path: Path) -> None:
    spec = _spec_file(tmp_path, 1)
    cases = [
        (["--listen", "0.0.0.0:0"], "without a cluster secret"),
        (["--listen", "127.0.0.1:http"], "expected HOST:PORT"),
        (["--peer", "gopher://x"], "must start with ws://"),
        (["--secret-file", str(tmp_path / "missing")], "cannot read secret file"),
        (["--storage", "nowhere"], "expected a URL"),
    ]
    for extra, message in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "bassline", "start", str(spec), "--node-id", "x", *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert proc.returncode == 1, (extra, proc.stderr)
        assert message in proc.stderr, (extra, proc.stderr)
        assert "Traceback" not in proc.stderr
