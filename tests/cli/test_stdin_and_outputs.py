"""Where commands read a spec or a document and write a file: ``-``, directories, limits.

``import FILE`` and ``set --value-file`` read standard input for ``-``; every command that
takes a spec file now does too (``validate -`` looked for a file named ``-``). An output
file given as a directory (``graph -o out/``) is one ``error:`` line (it said "unknown
format '(no suffix)'", and ``-o new.dot/`` wrote a file ``new.dot``). ``import`` read
endless input (``/dev/zero``) until memory ran out; it reads at most ``--max-bytes``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from bassline.cli.paths import MAX_INPUT_BYTES, MAX_SPEC_BYTES

from .conftest import EXAMPLES, Cli, run_cli

CALC = EXAMPLES / "calculator.json"
SPEC = '{"id": "piped", "contacts": [{"id": "a", "content": 3}]}'


def _one_error_line(done: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert done.returncode == status, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_every_command_that_takes_a_spec_reads_standard_input_for_a_dash(cli: Cli) -> None:
    validated = cli("validate", "-", input=SPEC)
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.startswith("ok -: network 'piped' v1")
    ran = cli("run", "-", "--json", input=SPEC)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["contacts"] == {"a": 3}
    drawn = cli("graph", "-", input=SPEC)
    assert drawn.returncode == 0 and drawn.stdout.startswith('digraph "piped"')
    explained = cli("explain", "-", "a", input=SPEC)
    assert explained.returncode == 0 and explained.stdout.startswith("a = 3")


def test_a_spec_on_standard_input_with_problems_names_standard_input(cli: Cli) -> None:
    done = cli("validate", "-", input='{"contacts": [{"id": "a", "id": "b"}]}')
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: invalid Bassline spec in standard input (1 problem):",
        "  $: not valid JSON: the object at $.contacts[0] has the key 'id' twice (say each "
        "key once)",
    ]


def test_watching_standard_input_is_a_usage_error(cli: Cli) -> None:
    line = _one_error_line(cli("run", "-", "--watch", input=SPEC), status=2)
    assert line == "error: --watch needs a spec file: standard input (-) is read once"


@pytest.mark.parametrize("name", ["out/", "there", "new.dot/"])
def test_an_output_that_is_a_directory_is_one_error_line(
    cli: Cli, tmp_path: Path, name: str
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "there").mkdir()
    target = f"{tmp_path}/{name}"
    for command in (["graph", str(CALC)], ["export", "memory://", "calculator"]):
        line = _one_error_line(cli(*command, "-o", target))
        assert line == f"error: -o {target}: is a directory; give a file name"
    assert not (tmp_path / "new.dot").exists()


def test_import_reads_at_most_max_bytes_and_writes_nothing(
    cli: Cli, store_a: str, tmp_path: Path
) -> None:
    assert cli("run", str(CALC), "--set", "input-a=5", "--storage", store_a).returncode == 0
    before = cli("export", store_a, "calculator")
    assert before.returncode == 0, before.stderr
    document = tmp_path / "calculator.json"
    document.write_text(before.stdout)
    size = len(before.stdout.encode())
    line = _one_error_line(
        cli("import", store_a, str(document), "--overwrite", "--max-bytes", str(size - 1))
    )
    assert line == (
        f"error: {document}: more than {size - 1:,} bytes, the most read (raise it with "
        "--max-bytes)"
    )
    piped = cli("import", store_a, "-", "--overwrite", "--max-bytes", "100", input=before.stdout)
    assert "error: standard input: more than 100 bytes" in _one_error_line(piped)
    assert cli("export", store_a, "calculator").stdout == before.stdout
    exact = cli("import", store_a, str(document), "--overwrite", "--max-bytes", str(size))
    assert exact.returncode == 0, exact.stderr


def test_import_of_endless_input_stops_at_the_limit() -> None:
    done = run_cli("import", "memory://", "/dev/zero", "--max-bytes", "3000000")
    line = _one_error_line(done)
    assert line == (
        "error: /dev/zero: more than 3,000,000 bytes, the most read (raise it with --max-bytes)"
    )
    assert MAX_INPUT_BYTES == 1 << 30  # the default, as cli.md says: 1 GiB


SPEC_COMMANDS = [
    ["validate"],
    ["run"],
    ["graph"],
    ["explain", "{spec}", "a"],
    ["start", "{spec}", "--node-id", "n1", "--listen", "127.0.0.1:0"],
]


def _with_spec(command: list[str], spec: str) -> list[str]:
    if "{spec}" in command:
        return [spec if part == "{spec}" else part for part in command]
    return [*command, spec]


@pytest.mark.parametrize("command", SPEC_COMMANDS, ids=lambda c: c[0])
def test_every_command_that_takes_a_spec_reads_at_most_max_spec_bytes(
    cli: Cli, tmp_path: Path, command: list[str]
) -> None:
    """A spec file was read whole, whatever it was: ``validate /dev/zero`` read until
    memory ran out. Endless input, a FIFO and a file over the limit are one error line."""
    hint = "(raise it with --max-spec-bytes N or BASSLINE_MAX_SPEC_BYTES)"
    endless = _one_error_line(cli(*_with_spec(command, "/dev/zero"), "--max-spec-bytes", "3000000"))
    assert endless == (
        f"error: /dev/zero: more than 3,000,000 bytes, the most read of a spec {hint}"
    )
    size = len(SPEC.encode())
    spec = tmp_path / "piped.json"
    spec.write_text(SPEC)
    small = str(size - 1)
    too_big = _one_error_line(cli(*_with_spec(command, str(spec)), "--max-spec-bytes", small))
    assert too_big == f"error: {spec}: more than {size - 1:,} bytes, the most read of a spec {hint}"
    piped = cli(*_with_spec(command, "-"), "--max-spec-bytes", small, input=SPEC)
    assert _one_error_line(piped) == (
        f"error: standard input: more than {size - 1:,} bytes, the most read of a spec {hint}"
    )
    if command[0] != "start":  # it would serve: the exact size passes
        exact = cli(*_with_spec(command, str(spec)), "--max-spec-bytes", str(size))
        assert exact.returncode == 0, exact.stderr


def test_the_spec_limit_comes_from_the_environment_too(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASSLINE_MAX_SPEC_BYTES", "100")
    line = _one_error_line(cli("validate", str(CALC)))
    assert line.startswith(f"error: {CALC}: more than 100 bytes, the most read of a spec")
    assert cli("validate", str(CALC), "--max-spec-bytes", "100000").returncode == 0


def test_a_fifo_is_read_up_to_the_limit(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as f:
            while True:  # endless, until the reader goes away
                f.write(b" " * 65536)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    line = _one_error_line(cli("validate", str(fifo), "--max-spec-bytes", "1000000"))
    assert line.startswith(f"error: {fifo}: more than 1,000,000 bytes, the most read of a spec")
    writer.join()
    assert MAX_SPEC_BYTES == 1 << 30  # the default, as cli.md says: 1 GiB


def test_a_file_name_or_version_quoted_back_on_success_has_its_control_characters_escaped(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Errors escaped them, the lines that say it worked did not: `validate`'s ok line,
    `graph -o`'s "wrote", `export -o`'s and the `run` table's title printed an escape
    sequence in a file name (or a spec's version) as it was, which drove the terminal."""
    monkeypatch.chdir(tmp_path)
    name = "x\x1b[2J\x07\x9b"
    spec = {"id": "esc", "version": f"1{name}", "contacts": [{"id": "a", "content": 1}]}
    Path(f"{name}.json").write_text(json.dumps(spec))
    store = f"file://{tmp_path / 'store'}"
    for args in (
        ["validate", f"{name}.json"],
        ["graph", f"{name}.json", "-o", f"{name}.dot"],
        ["run", f"{name}.json", "--storage", store],
        ["export", store, "esc", "-o", f"{name}.export.json"],
    ):
        done = cli(*args)
        assert done.returncode == 0, done.stderr
        assert "x\\x1b[2J\\x07\\x9b" in done.stdout, (args, done.stdout)
        assert not any(c in done.stdout for c in "\x1b\x07\x9b"), (args, done.stdout)


def test_set_reads_at_most_the_limit_of_a_value_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``set --value-file /dev/zero`` read until memory ran out (every other input stops
    at 1 GiB). Port 1 is never a node: the refusal comes before any request."""
    from bassline.cli import client_commands

    assert client_commands.VALUE_FILE_LIMIT == MAX_INPUT_BYTES
    monkeypatch.setattr(client_commands, "VALUE_FILE_LIMIT", 1000)
    line = _one_error_line(cli("set", "http://127.0.0.1:1", "a", "--value-file", "/dev/zero"))
    assert line == (
        "error: --value-file /dev/zero: /dev/zero holds more than 1,000 bytes, the most read "
        "(a node takes a request body of at most its max_frame_bytes)"
    )
    line = _one_error_line(
        cli("set", "http://127.0.0.1:1", "a", "--value-file", "-", input="1" * 1001)
    )
    assert "standard input holds more than 1,000 bytes" in line
    exactly = tmp_path / "exactly.json"
    exactly.write_text("1" + " " * 999)  # the limit itself is read whole (then: no node there)
    line = _one_error_line(cli("set", "http://127.0.0.1:1", "a", "--value-file", str(exactly)))
    assert "cannot reach node at http://127.0.0.1:1" in line
