"""``bassline start`` as a real process, for tests: start, stop, read, write, converge."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["Node", "wait_converged"]


class Node:
    """One ``bassline start`` process; its URL is read from its stdout once it listens."""

    def __init__(self, tmp_path: Path, spec: Path, node_id: str, *extra: str) -> None:
        self.node_id = node_id
        self.log = tmp_path / f"{node_id}.log"
        self.args = [
            sys.executable,
            "-m",
            "bassline",
            "start",
            str(spec),
            "--node-id",
            node_id,
            "--listen",
            "127.0.0.1:0",
            "--heartbeat",
            "0.5",
            "--anti-entropy",
            "0.5",
            "--reconnect-max",
            "0.5",
            "--log-level",
            "warning",
            *extra,
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Node:
        return self.launch().ready()

    def launch(self) -> Node:
        with self.log.open("a") as err:
            self.proc = subprocess.Popen(
                self.args, stdout=subprocess.PIPE, stderr=err, text=True, stdin=subprocess.DEVNULL
            )
        return self

    def ready(self) -> Node:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()  # blocks until the node listens (or dies)
        assert line.startswith("http://"), f"{self.node_id} did not start: {self.log.read_text()}"
        self.url = line
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()
        return code

    def status(self) -> dict[str, object]:
        r = httpx.get(f"{self.url}/api/status", timeout=10)
        r.raise_for_status()
        result: dict[str, object] = r.json()
        return result

    def write(self, values: dict[str, object]) -> None:
        r = httpx.post(f"{self.url}/api/contacts", json={"values": values}, timeout=30)
        assert r.status_code == 200, r.text


def wait_converged(nodes: list[Node], within: float) -> float:
    """Poll digests until equal; returns seconds taken (fails at the deadline)."""
    start = time.monotonic()
    digests: list[object] = []
    while time.monotonic() - start < within:
        digests = [n.status()["digest"] for n in nodes]
        if len(set(digests)) == 1:  # type: ignore[arg-type]
            return time.monotonic() - start
        time.sleep(0.05)  # a polling interval with a deadline, not a synchronisation
    raise AssertionError(f"no convergence within {within}s: {digests}")
