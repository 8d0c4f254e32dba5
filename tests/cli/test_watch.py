"""``bassline run --watch``: re-runs when the spec changes, survives a broken save, stops on SIGINT.

The test waits on the command's output (with a deadline), never on time. Both streams are
read as one (stderr into stdout), in the order the command wrote them, so each step waits
for the output that follows the previous one: the notice after a run, not an earlier one.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .conftest import EXAMPLES, cli_env, run_in_process

DEADLINE = 120.0
"""Seconds a step may take: generous, for a loaded machine (a passing run never waits it out:
starting the interpreter alone can take tens of seconds there)."""
WATCH_ARGS = ("--interval", "0.05", "--set", "input-b=2")


class Lines:
    """Every line a stream produces, readable with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, match: Callable[[str], bool], what: str) -> str:
        end = time.monotonic() + DEADLINE
        while (left := end - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if match(line):
                return line
        raise AssertionError(f"no {what} within {DEADLINE}s; got {self.seen!r}")


def _write_atomically(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _result_is(value: int) -> Callable[[str], bool]:
    return lambda line: line.startswith("{") and json.loads(line)["contacts"]["result"] == value


def test_watch_reruns_on_change_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    spec = tmp_path / "calculator.json"
    data = json.loads((EXAMPLES / "calculator.json").read_text())
    spec.write_text(json.dumps(data))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bassline", "run", str(spec), "--watch", "--json", *WATCH_ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(),
    )
    assert proc.stdout is not None
    out = Lines(proc.stdout)
    watching = f"watching {spec} for changes"
    try:
        out.wait_for(_result_is(12), "first run")  # 10 + 2
        out.wait_for(lambda line: watching in line, "watching notice")

        data["contacts"]["input-a"]["content"] = 1000
        _write_atomically(spec, data)
        out.wait_for(_result_is(1002), "re-run after the change")
        out.wait_for(lambda line: watching in line, "watching after the change")

        spec.write_text("{ not json")
        out.wait_for(lambda line: line.startswith("error:"), "error for a broken save")
        assert proc.poll() is None  # still watching

        data["contacts"]["input-a"]["content"] = 7
        _write_atomically(spec, data)
        out.wait_for(_result_is(9), "re-run after the fix")
        out.wait_for(lambda line: watching in line, "watching again")

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=DEADLINE) == 0
        out.wait_for(lambda line: "stopped watching" in line, "goodbye")
        assert not any("Traceback" in line for line in out.seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_interval_no_sleep_can_take_is_a_usage_error(tmp_path: Path) -> None:
    """``--interval inf`` (or 1e10 s, past what ``time.sleep`` takes) ran once, then ended
    with an internal error (``OverflowError: timestamp out of range``, exit status 70)."""
    for interval in ("inf", "1e10", "86400.5"):
        done = run_in_process(
            "run", str(EXAMPLES / "calculator.json"), "--watch", "--interval", interval
        )
        assert (done.returncode, done.stdout) == (2, ""), (interval, done.stdout, done.stderr)
        assert "--interval" in done.stderr and "86400" in done.stderr, done.stderr
        assert "internal error" not in done.stderr
