"""kill -9 of the process that owns the gadget groups, with the change feed carrying the
writes: an owner, a survivor and a writer (which runs no gadget), three real processes
on one PostgreSQL database, no gossip. Every wait is a poll with a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
CHILD = Path(__file__).with_name("feed_child.py")
DEADLINE = 60.0


class Child:
    """One ``feed_child.py`` process, asked over its stdin."""

    def __init__(self, url: str, node_id: str, runs: str, log: Path) -> None:
        self.node_id = node_id
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(CHILD), url, node_id, runs],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        first = self._line()
        assert first.startswith("ready "), f"{node_id}: {first!r} {log.read_text()}"
        self.started_with = json.loads(first.removeprefix("ready "))

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the child answers every command with a line
        assert line, f"{self.node_id} ended: {self.log.read_text()}"
        return line.strip()

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._line()
        return answer if answer == "ok" else json.loads(answer)

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # end of commands: the child closes its runtime
            self.proc.wait(timeout=DEADLINE)


def _wait(check: Callable[[], bool], what: str) -> None:
    """Poll ``check()`` until true; fail at the deadline (not a synchronisation)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {DEADLINE}s waiting for {what}")


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for c in started:
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()


def test_kill_9_of_the_owner_the_survivor_takes_over_and_the_writers_outputs_reach_everyone(
    store_url: str, tmp_path: Path, children: list[Child]
) -> None:
    """Planted: (1) the runtime queueing nothing while a feed batch is applied (so a
    gadget output caused by another process's write is never stored) -> the survivor
    never sees 5; (2) ``GroupOwnership.run`` claiming only once -> the survivor never takes the
    groups over."""
    owner = Child(store_url, "owner", "all", tmp_path / "owner.err")
    children.append(owner)
    assert owner.started_with == ["left", "right"]
    survivor = Child(store_url, "survivor", "all", tmp_path / "survivor.err")
    children.append(survivor)
    assert survivor.started_with == []  # the owner holds both groups
    writer = Child(store_url, "writer", "none", tmp_path / "writer.err")
    children.append(writer)
    assert writer.started_with == []

    # before the kill: the writer's inputs reach the owner through the database; its
    # output comes back to everyone the same way
    writer.ask("set l-a 2")
    writer.ask("set l-b 3")
    for c in (owner, survivor, writer):
        _wait(lambda c=c: c.ask("get l-sum") == 5, f"l-sum at {c.node_id}")

    owner.proc.send_signal(signal.SIGKILL)
    owner.proc.wait(timeout=DEADLINE)
    _wait(lambda: survivor.ask("groups") == ["left", "right"], "the survivor to take over")

    # after: the writer's later writes produce outputs, computed by the survivor, seen by both
    writer.ask("set r-a 20")
    writer.ask("set r-b 30")
    writer.ask("set l-a 10")
    for c in (survivor, writer):
        _wait(lambda c=c: c.ask("get r-sum") == 50, f"r-sum at {c.node_id}")
        _wait(lambda c=c: c.ask("get l-sum") == 13, f"the new l-sum at {c.node_id}")
    assert writer.ask("groups") == []  # the writer never ran a gadget
    for c in (survivor, writer):
        c.stop()
        assert c.proc.returncode == 0, c.log.read_text()
