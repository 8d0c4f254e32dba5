"""What ``bassline`` does when the reader of its output goes away, in real pipelines.

docs/cli.md said such a command "stops quietly with status 1"; it is 1 only when a write
finds the reader gone. Output that was all written into the pipe before the reader left
(``| head`` of a short output) costs no error: the status is the command's own, 0. These
tests pin what the docs now say.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES, cli_env

CALC = str(EXAMPLES / "calculator.json")
HEAD = shutil.which("head")


def _bassline(
    *args: str, stdout: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bassline", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env or cli_env(),  # buffered stdout, as a user's shell has it
    )


def _into_head(
    head_args: list[str], *args: str, env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """``bassline ARGS | head HEAD_ARGS``: bassline's status and stderr, head's output."""
    assert HEAD is not None
    writer = _bassline(*args, stdout=subprocess.PIPE, env=env)
    assert writer.stdout is not None and writer.stderr is not None
    reader = subprocess.Popen([HEAD, *head_args], stdin=writer.stdout, stdout=subprocess.PIPE)
    writer.stdout.close()  # head holds the only read end: when it leaves, the pipe breaks
    shown, _ = reader.communicate(timeout=120)
    stderr = writer.stderr.read()
    writer.stderr.close()
    return writer.wait(timeout=120), stderr, shown


def test_a_pipe_with_no_reader_before_the_first_write_is_status_1_and_quiet() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader at all: the first write fails
    try:
        proc = _bassline("run", CALC, "--json", stdout=write_end)
    finally:
        os.close(write_end)
    _, stderr = proc.communicate(timeout=120)
    assert (proc.returncode, stderr.decode()) == (1, "")


@pytest.mark.skipif(HEAD is None, reason="needs head(1)")
def test_head_of_a_short_output_leaves_the_status_of_the_command() -> None:
    """All of it fits in the pipe before head reads a line: nothing fails, status 0."""
    status, stderr, shown = _into_head(["-n", "1"], "run", CALC, "--json")
    assert (status, stderr.decode(), shown) == (0, "", b"{\n")


def _big_spec(tmp_path: Path) -> str:
    """A network whose ``run --json`` prints a megabyte, far more than a pipe holds."""
    spec = tmp_path / "big.json"
    spec.write_text(json.dumps({"id": "big", "contacts": [{"id": "doc", "content": "x" * 10**6}]}))
    return str(spec)


@pytest.mark.skipif(HEAD is None, reason="needs head(1)")
def test_head_leaving_in_the_middle_of_a_long_output_is_status_1_and_quiet(
    tmp_path: Path,
) -> None:
    """head leaves after 10 bytes of a megabyte: the next write finds no reader."""
    status, stderr, shown = _into_head(["-c", "10"], "run", _big_spec(tmp_path), "--json")
    assert (status, stderr.decode(), shown) == (1, "", b'{\n  "conta')


@pytest.mark.skipif(HEAD is None, reason="needs head(1)")
def test_unbuffered_the_long_write_comes_back_short_with_no_error(tmp_path: Path) -> None:
    """With PYTHONUNBUFFERED the megabyte is one write to the pipe, which the kernel ends
    short when head leaves; Python reports no error, so the status is 0."""
    status, stderr, shown = _into_head(
        ["-c", "10"], "run", _big_spec(tmp_path), "--json", env=cli_env(PYTHONUNBUFFERED="1")
    )
    assert (status, stderr.decode(), shown) == (0, "", b'{\n  "conta')
