"""``bassline start`` as a real process: what it logs, and where its options may come from."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from bassline.cli.app import app
from bassline.cli.node_commands import QUIET_LOGGERS, configure_logging
from bassline.net import api_token

from .conftest import EXAMPLES, Cli, cli_env, run_cli

CALC = str(EXAMPLES / "calculator.json")


def run_start(
    *args: str,
    env: dict[str, str] | None = None,
    while_running: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``bassline start ARGS`` until it prints its URL, ``while_running(url)``, then SIGTERM.

    Returns its whole output (the URL line included).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "bassline", "start", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env or cli_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the node listens (or exits)
        if first.startswith("http"):
            try:
                if while_running is not None:
                    while_running(first.strip())
            finally:
                proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, first + out, err)


@pytest.mark.postgres
def test_start_on_postgres_logs_no_alembic_chatter(pg_url: str) -> None:
    done = run_start(CALC, "--node-id", "m1", "--listen", "127.0.0.1:0", "--storage", pg_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")
    assert "alembic" not in done.stderr, done.stderr
    assert "INFO bassline.net: node m1 joined calculator" in done.stderr  # INFO still shows


@pytest.fixture
def saved_logging() -> Iterator[None]:
    """Put the root logger and the quietened loggers back as they were afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("saved_logging")
def test_quiet_loggers_keep_warnings_and_show_everything_at_debug() -> None:
    alembic = logging.getLogger("alembic.runtime.migration")
    configure_logging(logging.INFO)
    assert not alembic.isEnabledFor(logging.INFO)
    assert alembic.isEnabledFor(logging.WARNING) and alembic.isEnabledFor(logging.ERROR)
    configure_logging(logging.DEBUG)
    assert alembic.isEnabledFor(logging.DEBUG)
    configure_logging(logging.ERROR)
    assert not alembic.isEnabledFor(logging.WARNING) and alembic.isEnabledFor(logging.ERROR)


def test_every_start_option_and_the_spec_has_its_environment_variable() -> None:
    root = typer.main.get_command(app)
    start = root.commands["start"]  # type: ignore[attr-defined]
    params = [p for p in start.params if p.name != "help"]
    assert len(params) == 22
    for param in params:
        assert param.envvar == f"BASSLINE_{param.name.upper()}", param.name


def test_start_takes_its_options_from_the_environment_and_flags_win(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"environment-secret-0123456789")
    ready = tmp_path / "ready"
    store = tmp_path / "store"
    env = cli_env(
        BASSLINE_SPEC=CALC,
        BASSLINE_NODE_ID="from-env",
        BASSLINE_LISTEN="127.0.0.1:0",
        BASSLINE_PEER="ws://127.0.0.1:1 ws://127.0.0.1:2/x",
        BASSLINE_STORAGE=f"file://{store}",
        BASSLINE_SECRET_FILE=str(secret),
        BASSLINE_READY_FILE=str(ready),
        BASSLINE_NO_DISCOVER="true",
        BASSLINE_LOG_LEVEL="WARNING",
        BASSLINE_GROUPS="add-gadget",
    )
    seen: dict[str, Any] = {}

    def status(url: str) -> None:
        headers = {"authorization": f"Bearer {api_token(secret.read_bytes())}"}
        seen.update(httpx.get(f"{url}/api/status", headers=headers, timeout=10).json())
        seen["ready"] = ready.read_text().strip()

    done = run_start(env=env, while_running=status)
    assert done.returncode == 0, done.stderr
    assert seen["node"] == "from-env" and seen["groups"] == ["add-gadget"]
    assert sorted(t["url"] for t in seen["targets"]) == ["ws://127.0.0.1:1", "ws://127.0.0.1:2/x"]
    assert seen["ready"] == done.stdout.strip()
    assert any(store.iterdir())  # the file store was created there
    assert " INFO " not in done.stderr  # BASSLINE_LOG_LEVEL=WARNING

    seen.clear()
    flags = run_start(
        "--node-id", "from-flag", "--log-level", "info", env=env, while_running=status
    )
    assert flags.returncode == 0, flags.stderr
    assert seen["node"] == "from-flag"
    assert "INFO bassline.net: node from-flag joined" in flags.stderr


@pytest.mark.parametrize(
    ("flags", "env", "said"),
    [
        ([], {}, "lazy push on, link state on, discovery on"),
        (["--no-lazy-push"], {}, "lazy push off, link state on, discovery on"),
        (["--no-link-state", "--no-discover"], {}, "lazy push on, link state off, discovery off"),
        (
            [],
            {"BASSLINE_NO_LAZY_PUSH": "1", "BASSLINE_NO_LINK_STATE": "yes"},
            "lazy push off, link state off, discovery on",
        ),
    ],
    ids=["defaults", "no-lazy-push", "no-link-state", "environment"],
)
def test_lazy_push_and_link_state_can_be_turned_off(
    flags: list[str], env: dict[str, str], said: str
) -> None:
    """GossipSettings.lazy_push and link_state had no flag: a node started on the command
    line always pruned. The node says which gossip it runs when it starts."""
    done = run_start(CALC, "--node-id", "n", "--listen", "127.0.0.1:0", *flags, env=cli_env(**env))
    assert done.returncode == 0, done.stderr
    assert f"INFO bassline.node: gossip: {said}\n" in done.stderr


@pytest.mark.parametrize("groups", ["", ","])
def test_groups_given_empty_runs_no_gadget_group(groups: str) -> None:
    """docs/network.md starts a node with --groups '' to run no gadgets (as groups=[] does
    in Python); it ran every unassigned gadget group, as if --groups were not given."""
    seen: dict[str, Any] = {}

    def status(url: str) -> None:
        seen.update(httpx.get(f"{url}/api/status", timeout=10).json())

    done = run_start(
        CALC, "--node-id", "n", "--listen", "127.0.0.1:0", "--groups", groups,
        while_running=status,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert seen["groups"] == [] and "running no gadget groups" in done.stderr


def test_a_bad_value_in_the_environment_is_named_like_a_flag() -> None:
    env = cli_env(BASSLINE_NODE_ID="n", BASSLINE_HEARTBEAT="often")
    done = run_start(CALC, env=env)
    assert done.returncode == 2, done.stderr
    assert "Invalid value for '--heartbeat'" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--shutdown-timeout", "-1"),
        ("--shutdown-timeout", "nan"),
        ("--shutdown-timeout", "0"),
        ("--reconnect-max", "-1"),
        ("--reconnect-max", "inf"),
        # were "heartbeat_interval must be positive, got 0.0", naming no flag, and for
        # 1e308 "heartbeat_timeout must be positive, got inf", a setting not given at all
        ("--heartbeat", "0"),
        ("--heartbeat", "nan"),
        ("--anti-entropy", "-2"),
        ("--anti-entropy", "inf"),
    ],
)
def test_a_timeout_that_is_not_a_positive_number_is_refused_before_starting(
    flag: str, value: str
) -> None:
    """A negative or NaN --shutdown-timeout once started the node and ended it with an
    internal error (a traceback) on the first SIGTERM. Out of range is a usage error
    (status 2, as docs/cli.md says of a value of the wrong range; it was 1)."""
    done = run_start(CALC, "--node-id", "n", "--listen", "127.0.0.1:0", flag, value)
    assert done.returncode == 2, done.stdout + done.stderr
    assert not done.stdout.startswith("http"), done.stdout  # it never listened
    assert f"error: {flag} {float(value)}: give a positive, finite number of seconds" in done.stderr
    assert "Traceback" not in done.stderr


def test_set_takes_a_one_megabyte_value_from_standard_input(tmp_path: Path) -> None:
    """A value is one argument, and Linux caps one argument at 128 KiB: ``bassline set``
    could not write a larger one. ``--value-file -`` reads it from standard input (a real
    ``bassline set`` process, into a real node). A request body over 1 MiB is over the
    node's own limit: the node says so."""
    spec = tmp_path / "doc.json"
    spec.write_text('{"id": "doc", "contacts": [{"id": "doc"}]}')
    big = "x" * 1_000_000  # 1,000,002 bytes of JSON
    seen: dict[str, subprocess.CompletedProcess[str]] = {}

    def write_and_read(url: str) -> None:
        seen["set"] = run_cli("set", url, "doc", "--value-file", "-", input=f'"{big}"')
        seen["get"] = run_cli("get", url, "doc")
        over = "y" * (1 << 20)
        seen["over"] = run_cli("set", url, "doc", "--value-file", "-", input=f'"{over}"')

    done = run_start(
        str(spec), "--node-id", "n", "--listen", "127.0.0.1:0", while_running=write_and_read
    )
    assert done.returncode == 0, done.stderr
    assert seen["set"].returncode == 0, seen["set"].stderr
    assert seen["set"].stdout == "doc written; 1 contacts changed\n"
    assert seen["get"].returncode == 0 and seen["get"].stdout == f'"{big}"\n'
    assert seen["over"].returncode == 1
    assert seen["over"].stderr == (
        f"error: node at {done.stdout.strip()} refused PUT /api/contacts/doc: request body "
        "of 1048600 bytes exceeds 1048576 (HTTP 413 too-large)\n"
    )


def test_a_node_id_peers_would_refuse_is_refused_before_starting() -> None:
    """A tab in the id started the node, and every peer then refused its hello
    ("hello.node must be a node id (1-200 characters, no control characters)") for ever."""
    done = run_start(CALC, "--node-id", "bad\tid", "--listen", "127.0.0.1:0")
    assert done.returncode == 1 and not done.stdout.startswith("http"), done.stderr
    assert (
        "error: --node-id 'bad\\tid': give a non-empty id of at most 200 characters "
        "without control characters" in done.stderr
    )


def test_a_heartbeat_whose_timeout_overflows_is_refused_naming_the_flag() -> None:
    """It said "heartbeat_timeout must be positive, got inf", a setting nobody gave."""
    done = run_start(CALC, "--node-id", "n", "--listen", "127.0.0.1:0", "--heartbeat", "1e308")
    assert done.returncode == 2 and not done.stdout.startswith("http"), done.stderr
    assert "error: --heartbeat 1e+308: too large (links time out after 3 heartbeats" in (
        done.stderr
    )


@pytest.mark.parametrize("how", ["flag", "env"])
def test_the_backend_is_read_in_any_case_as_the_log_level_is(cli: Cli, how: str) -> None:
    """BASSLINE_LOG_LEVEL=DEBUG was taken but BASSLINE_BACKEND=TRIO refused. Both get past
    the options to the first check of the command's own (TLS needs a key too), which proves
    the choices were read."""
    env = {"BASSLINE_LOG_LEVEL": "DEBUG"}
    args = ["start", CALC, "--node-id", "n", "--cert-file", CALC]
    if how == "flag":
        done = cli(*args, "--backend", "TRIO", env=cli_env(**env))
    else:
        done = cli(*args, env=cli_env(BASSLINE_BACKEND="AsyncIO", **env))
    assert done.returncode == 2
    assert done.stderr == "error: TLS needs both --cert-file and --key-file\n", done.stderr


def test_set_and_get_say_a_contact_id_as_written_never_as_markup(tmp_path: Path) -> None:
    """'[/x] written' was an internal error (Rich's MarkupError), in a real node."""
    spec = tmp_path / "brackets.json"
    spec.write_text('{"id": "b", "contacts": [{"id": "[/x]"}, {"id": "[bold]y"}]}')
    seen: dict[str, subprocess.CompletedProcess[str]] = {}

    def write_and_read(url: str) -> None:
        seen["set"] = run_cli("set", url, "[/x]", "1")
        seen["get"] = run_cli("get", url, "[bold]y")

    done = run_start(
        str(spec), "--node-id", "n", "--listen", "127.0.0.1:0", while_running=write_and_read
    )
    assert done.returncode == 0, done.stderr
    assert (seen["set"].returncode, seen["set"].stdout) == (0, "[/x] written; 1 contacts changed\n")
    assert (seen["get"].returncode, seen["get"].stderr) == (0, "[bold]y has no content\n")
