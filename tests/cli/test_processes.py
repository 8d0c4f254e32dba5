"""The commands as real processes: help; exit status 1 for failures, 2 for usage errors, 70 for bugs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bassline.storage import backends, register

from .conftest import EXAMPLES, Cli, run_cli

COMMANDS = [
    ["init"],
    ["graph"],
    ["run"],
    ["export"],
    ["import"],
    ["snapshot"],
    ["storage", "migrate"],
    ["storage", "check"],
    ["storage", "copy"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    done = run_cli(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: bassline " + " ".join(command) in done.stdout


def test_user_errors_exit_1_with_one_line_in_a_real_process(tmp_path: Path) -> None:
    calc = str(EXAMPLES / "calculator.json")
    cases = [
        (["export", "memroy://", "n"], "did you mean memory://?"),
        (["import", "memory://", str(tmp_path / "none.json")], "file not found"),
        (["snapshot", "memory://", "calculator"], "no network 'calculator' in memory://"),
        (["storage", "check", "bogus"], "malformed storage URL"),
        (["storage", "copy", "memory://", "memory://x", "-n", "nope"], "no network 'nope'"),
        (["graph", calc, "-o", str(tmp_path / "g.bmp")], "unknown format"),
        (["run", calc, "--storage", "pg://x"], "no storage backend for pg://"),
    ]
    for args, message in cases:
        done = run_cli(*args)
        assert done.returncode == 1, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


class _BrokenStorage:
    """A backend with a bug: opening raises instead of returning a Failure."""

    url = "broken://"

    async def __aenter__(self) -> Any:
        raise RuntimeError("backend bug")

    async def __aexit__(self, *exc: object) -> None:
        return None


def test_usage_errors_exit_2_in_a_real_process(tmp_path: Path) -> None:
    calc = str(EXAMPLES / "calculator.json")
    cases = [
        (["run"], "Missing argument 'SPEC'"),
        (["run", calc, "--no-such-option"], "No such option: --no-such-option"),
        (["nonsense"], "No such command 'nonsense'"),
        (["import", "memory://", "-", "--batch-size", "0"], "Invalid value for '--batch-size'"),
        (["start", calc, "--node-id", "n", "--log-level", "loud"], "Invalid value"),
        (["start", calc, "--node-id", "n", "--cert-file", calc], "needs both --cert-file and"),
        (["snapshot", "memory://", "n", "--list", "--label", "x"], "cannot be used with --list"),
    ]
    for args, message in cases:
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_bug_exits_70_with_a_report(cli: Cli) -> None:
    register("broken", lambda url, **options: _BrokenStorage())
    try:
        done = cli("storage", "check", "broken://")
    finally:
        backends.unregister("broken")
    assert done.returncode == 70  # EX_SOFTWARE: 2 is a usage error
    assert "internal error: RuntimeError: backend bug (please report this)" in done.stderr


def test_a_bug_report_prints_brackets_as_they_are(cli: Cli) -> None:
    class _Bracketed(_BrokenStorage):
        async def __aenter__(self) -> Any:
            raise RuntimeError("see [trio] and [bold]this[/bold]")

    register("bracketed", lambda url, **options: _Bracketed())
    try:
        done = cli("storage", "check", "bracketed://")
    finally:
        backends.unregister("bracketed")
    assert done.returncode == 70
    assert "RuntimeError: see [trio] and [bold]this[/bold] (please report this)" in done.stderr


def test_start_on_trio_without_trio_says_how_to_install_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trio", None)  # as if trio were not installed
    done = cli("start", str(EXAMPLES / "calculator.json"), "--node-id", "n1", "--backend", "trio")
    assert done.returncode == 1
    assert done.stderr == (
        'error: --backend trio: trio is not installed; install it with: pip install "bassline[trio]"\n'
    )
