"""``bassline watch`` against real nodes: the live change stream of two gossiping processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from .test_processes import Node, _spec_file

DEADLINE = 120
"""Seconds a watcher may take to finish: generous, for a loaded machine, where starting the
interpreter alone can take tens of seconds (a passing run never waits it out)."""


def _watch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bassline", "watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_watch_streams_a_change_written_on_another_node(tmp_path: Path) -> None:
    spec = _spec_file(tmp_path, 3)
    first = Node(tmp_path, spec, "w1").start()
    second = Node(tmp_path, spec, "w2", "--peer", first.url).start()
    try:
        watcher = _watch(second.url, "c1", "--json", "--count", "1")
        assert watcher.stdout is not None
        snapshot = json.loads(watcher.stdout.readline())  # the stream is open once this arrives
        assert snapshot == {"event": "snapshot", "data": []}
        first.write({"c1": "hello", "c2": "ignored"})  # written on the OTHER node
        change = json.loads(watcher.stdout.readline())
        assert change["event"] == "change"
        assert change["data"]["contact"] == "c1" and change["data"]["value"] == "hello"
        assert watcher.wait(timeout=DEADLINE) == 0  # --count 1: done after one change
        # not a terminal: a line per value, each written as it arrives (no live table)
        piped = _watch(second.url, "--count", "1")
        assert piped.stdout is not None
        assert piped.stdout.readline().startswith(f"watching {second.url}")  # subscribed
        snapshot_lines = {tuple(piped.stdout.readline().split()) for _ in range(2)}
        assert snapshot_lines == {("-", "c1", '"hello"'), ("-", "c2", '"ignored"')}
        httpx.put(f"{second.url}/api/contacts/c2", json={"value": 101}, timeout=10)
        change = piped.stdout.readline().split()
        assert change[1:] == ["c2", "101"] and change[0].count(":") == 2  # HH:MM:SS
        assert piped.wait(timeout=DEADLINE) == 0
    finally:
        second.stop()
        first.stop()


def test_watch_errors_are_one_line(tmp_path: Path) -> None:
    spec = _spec_file(tmp_path, 1)
    node = Node(tmp_path, spec, "w3").start()
    try:
        unknown = _watch(node.url, "nope")
        _, err = unknown.communicate(timeout=DEADLINE)
        assert unknown.returncode == 1 and "unknown contact 'nope'" in err
    finally:
        node.stop()
    closed = _watch("http://127.0.0.1:9", "--count", "1")
    _, err = closed.communicate(timeout=DEADLINE)
    assert closed.returncode == 1 and "cannot reach node" in err and "Traceback" not in err
    bad = _watch("not a url")
    _, err = bad.communicate(timeout=DEADLINE)
    assert bad.returncode == 1 and "Traceback" not in err


def test_watch_prints_contradictions_and_gadget_failures_without_json(tmp_path: Path) -> None:
    spec = tmp_path / "problems.json"
    spec.write_text(
        json.dumps(
            {
                "id": "problems",
                "groups": [{"id": "adder", "gadget": "add"}],
                "contacts": [
                    {"id": "d", "lattice": "defined"},
                    {"id": "x"},
                    {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
                    {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
                    {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
                ],
            }
        )
    )
    node = Node(tmp_path, spec, "w4").start()
    try:
        httpx.put(f"{node.url}/api/contacts/d", json={"value": 1}, timeout=10)
        piped = _watch(node.url, "d", "adder.sum", "x", "--count", "1")
        assert piped.stdout is not None
        assert piped.stdout.readline().startswith(f"watching {node.url}")  # subscribed
        assert piped.stdout.readline().split() == ["-", "d", "1"]
        httpx.put(f"{node.url}/api/contacts/d", json={"value": 2}, timeout=10)
        r = httpx.post(
            f"{node.url}/api/contacts", json={"values": {"adder.a": "one", "adder.b": 2}}
        )
        assert r.status_code == 200, r.text
        httpx.put(f"{node.url}/api/contacts/x", json={"value": 3}, timeout=10)
        out, _ = piped.communicate(timeout=DEADLINE)  # --count 1: it ends after x's change
        assert piped.returncode == 0
        lines = [line.split("  ", 2) for line in out.splitlines()]
        assert [line[1:] for line in lines] == [
            ["d", "contradiction: 1 and 2 disagree (from update)"],
            ["adder.sum", "gadget add in adder failed: " + lines[1][2].split(": ", 1)[1]],
            ["x", "3"],
        ]
        assert all(line[0].count(":") == 2 for line in lines)  # HH:MM:SS
        assert "'one'" in lines[1][2]
    finally:
        node.stop()
