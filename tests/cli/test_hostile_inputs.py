"""Bad input, closed pipes and failing starts: one clear ``error:`` line, no traceback, no loss.

Each test here was a bug found by using the CLI as a demanding user would: a hidden gadget
failure, JSON errors that dropped the reason, an import that deleted the network it was
about to replace and then failed, tracebacks from ``set`` and ``start``, and ``demo``
crashing when its reader went away.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import EXAMPLES, Cli, cli_env, run_cli

CALC = str(EXAMPLES / "calculator.json")


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


# ------------------------------------------------------------------------ run


def test_run_table_shows_a_gadget_failure_even_on_a_hidden_port_contact(cli: Cli) -> None:
    # 1e308 + 1e308 overflows: the add gadget fails, and its failure sits on port add-sum
    done = cli("run", CALC, "--set", "input-a=1e308", "--set", "input-b=1e308")
    assert done.returncode == 0, done.stderr
    assert "gadget add in add-gadget failed" in done.stdout
    assert "not a finite number" in done.stdout
    assert "add-a" not in done.stdout  # ports without a problem stay hidden


BRACKETS = {"id": "[/n]", "contacts": [{"id": "[/x]", "content": "[bold]v[/bold] [/y]"}]}


def test_run_table_draws_ids_and_values_as_written_never_as_markup(
    cli: Cli, tmp_path: Path
) -> None:
    """Ids and strings may hold brackets: '[/x]' was an internal error (Rich's MarkupError),
    '[bold]' vanished into styling."""
    spec = tmp_path / "brackets.json"
    spec.write_text(json.dumps(BRACKETS))
    done = cli("run", str(spec))
    assert done.returncode == 0, done.stderr
    assert "[/n] (v1)" in done.stdout and "[/x]" in done.stdout
    assert '"[bold]v[/bold] [/y]"' in done.stdout
    url = f"file://{tmp_path / 'store'}"
    assert cli("run", str(spec), "--storage", url).returncode == 0
    checked = cli("storage", "check", url)
    assert checked.returncode == 0, checked.stderr
    assert "[/n]" in checked.stdout


@pytest.mark.parametrize(
    ("value", "reason"),
    # the depth reason is orjson's: "depth limit exceeded" since 3.12, "array and object
    # recursion depth exceeded" before (the declared floor is older)
    [("1e999", "infinity"), ("[" * 1100 + "]" * 1100, "depth")],
    ids=["infinite", "too-deep"],
)
def test_set_json_errors_say_why_and_do_not_suggest_quoting_a_number(
    cli: Cli, value: str, reason: str
) -> None:
    line = _one_error_line(cli("run", CALC, "--set", f"input-a={value}"))
    assert "is not valid JSON" in line and reason in line
    assert "quote strings" not in line


def test_a_spec_file_that_is_not_utf8_is_refused_naming_the_byte(cli: Cli, tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"contacts": [{"id": "café"}]}'.encode("latin-1"))
    done = cli("validate", str(latin1))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "  $: not valid JSON: byte 0xe9 at byte offset 25 is not UTF-8 text, which JSON text "
        "must be: line 1 column 26 (char 25)"
    ), done.stderr


def test_a_bare_word_still_gets_the_quoting_hint(cli: Cli) -> None:
    line = _one_error_line(cli("run", CALC, "--set", "input-a=abc"))
    assert "quote strings, e.g. --set input-a='\"abc\"'" in line


# ------------------------------------------------------------------------ set


def test_set_refuses_an_integer_beyond_64_bits_before_any_request(cli: Cli) -> None:
    # port 1 is never a node: the value is refused before the CLI tries to reach it
    done = cli("set", "http://127.0.0.1:1", "input-a", "123456789012345678901234567890")
    line = _one_error_line(done)
    assert "contact 'input-a'" in line and "does not fit in 64 bits" in line


def test_set_refuses_a_malformed_tagged_value_before_any_request(cli: Cli) -> None:
    done = cli("set", "http://127.0.0.1:1", "input-a", '{"$type": "bogus", "value": 1}')
    line = _one_error_line(done)
    assert line.startswith("error: contact 'input-a': unknown tagged type 'bogus'"), line


def test_set_json_error_keeps_the_reason(cli: Cli) -> None:
    line = _one_error_line(cli("set", "http://127.0.0.1:1", "input-a", "1e999"))
    assert "infinity" in line and "quote strings" not in line


# ------------------------------------------------------------------------ import


def test_import_overwrite_refuses_unstorable_content_before_deleting_anything(
    cli: Cli, store_a: str, tmp_path: Path
) -> None:
    assert cli("run", CALC, "--set", "input-a=5", "--storage", store_a).returncode == 0
    before = cli("export", store_a, "calculator")
    assert before.returncode == 0, before.stderr
    doc = json.loads(before.stdout)
    doc["contents"][0]["value"] = 10**30  # valid JSON, but no storage can hold it
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))

    line = _one_error_line(cli("import", store_a, str(bad), "--overwrite"))
    assert "contents[0]" in line and "does not fit in 64 bits" in line
    after = cli("export", store_a, "calculator")
    assert after.returncode == 0, after.stderr  # the network is still there
    assert after.stdout == before.stdout


# ------------------------------------------------------------------------ start


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--storage", "file://relative/dir"], "names host 'relative'"),
        (["--storage", "nosuch://x"], "no storage backend for nosuch://"),
        (["--node-id", ""], "--node-id ''"),
        (["--groups", "nosuch"], "--groups: no group 'nosuch' in network 'calculator'"),
        (["--cert-file", "/nonexistent/c.pem", "--key-file", CALC], "--cert-file /nonexistent"),
        (["--cert-file", CALC, "--key-file", CALC], "not a PEM certificate"),
        # read for ever, until memory ran out; now never opened
        (
            ["--cert-file", "/dev/zero", "--key-file", CALC],
            "--cert-file /dev/zero: not a regular file (a character device): give a PEM file",
        ),
        (["--ready-file", "/nonexistent/dir/ready"], "directory /nonexistent/dir does not exist"),
        # a directory was found only once the node served and had printed its URL
        (["--ready-file", "/tmp"], "--ready-file /tmp: is a directory; give a file name"),
    ],
    ids=[
        "relative-file-url",
        "scheme",
        "empty-node-id",
        "groups",
        "no-cert",
        "bad-cert",
        "endless-cert",
        "ready",
        "ready-dir",
    ],
)
def test_start_refuses_bad_options_with_one_line(extra: list[str], message: str) -> None:
    done = run_cli("start", CALC, "--node-id", "n1", "--listen", "127.0.0.1:0", *extra)
    assert message in _one_error_line(done)
    assert done.stdout == ""  # it never claimed to listen


def test_start_on_a_port_in_use_is_one_error_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(
            "start",
            CALC,
            "--node-id",
            "n1",
            "--listen",
            f"127.0.0.1:{port}",
            "--log-level",
            "error",
        )
    line = _one_error_line(done)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "Address already in use" in line


def test_start_keeps_serving_when_nobody_reads_its_stdout(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    options = ["--listen", "127.0.0.1:0", "--log-level", "warning", "--ready-file", str(ready)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bassline", "start", CALC, "--node-id", "n1", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # like `| head` that has already gone
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a file with a deadline, not synchronising on time
        assert proc.poll() is None, proc.stderr.read().decode()
        assert ready.read_text().startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read().decode() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------ closed pipes


@pytest.mark.parametrize("extra", [["--json"], []], ids=["json", "table"])
def test_demo_into_a_closed_pipe_ends_quietly(extra: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bassline", "demo", "--pause", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first line
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    assert stderr.decode() == ""


def test_set_reads_the_value_from_a_file_or_standard_input_before_any_request(
    cli: Cli, tmp_path: Path
) -> None:
    """Port 1 is never a node: each bad input is refused before the CLI tries to reach it."""
    node = "http://127.0.0.1:1"
    missing = tmp_path / "missing.json"
    line = _one_error_line(cli("set", node, "input-a", "--value-file", str(missing)))
    assert line == f"error: --value-file {missing}: file not found"
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1, 2}\n')
    line = _one_error_line(cli("set", node, "input-a", "--value-file", str(bad)))
    assert line.startswith(f"error: --value-file {bad}: {bad} is not valid JSON ("), line
    assert line.endswith("at line 1 column 12)"), line
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'"caf\xe9"')
    line = _one_error_line(cli("set", node, "input-a", "--value-file", str(latin)))
    assert f"{latin} is not valid JSON (" in line and "UTF-8" in line, line
    line = _one_error_line(cli("set", node, "input-a", "--value-file", "-", input="{bad"))
    assert line.startswith("error: --value-file -: standard input is not valid JSON ("), line
    huge = "123456789012345678901234567890"  # beyond 64 bits: refused as an argument is
    line = _one_error_line(cli("set", node, "input-a", "--value-file", "-", input=huge))
    assert "contact 'input-a'" in line and "does not fit in 64 bits" in line
    for args, message in (
        (["5", "--value-file", "-"], "either as JSON after the contact or with --value-file"),
        ([], "as JSON after the contact, or with --value-file PATH"),
    ):
        done = cli("set", node, "input-a", *args)
        assert done.returncode == 2 and message in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["set", "http://127.0.0.1:1", "input-a", "--value-file", ""], "'--value-file'"),
        (["get", "http://127.0.0.1:1", "input-a", "--secret-file", ""], "'--secret-file'"),
        (["status", "http://127.0.0.1:1", "--ca-file", ""], "'--ca-file'"),
        (["validate", ""], "'SPEC'"),
        (["run", ""], "'SPEC'"),
        (["graph", ""], "'SPEC'"),
        (["graph", CALC, "-o", ""], "'--output' / '-o'"),
        (["explain", "", "result"], "'SPEC_OR_NODE_URL'"),
        (["init", ""], ("'DIR'", "'[DIR]'")),
        (["export", "memory://", "calculator", "-o", ""], "'--output' / '-o'"),
        (["import", "memory://", ""], "'FILE'"),
        # Click names an argument by its metavar, which its versions spell differently
        (["start", "", "--node-id", "n1"], ("'spec'", "'SPEC'")),
        (["start", CALC, "--node-id", "n1", "--ready-file", ""], "'--ready-file'"),
        (["start", CALC, "--node-id", "n1", "--secret-file", ""], "'--secret-file'"),
        (["start", CALC, "--node-id", "n1", "--cert-file", ""], "'--cert-file'"),
    ],
)
def test_an_empty_path_is_refused_as_empty_naming_the_option(
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    option: str | tuple[str, ...],
) -> None:
    """``Path('')`` is ``.``: ``--value-file ''`` was reported as ``--value-file .: cannot read
    it: Is a directory``, ``export -o ''`` and ``start --ready-file ''`` (once the node
    served) were internal errors, and ``init ''`` scaffolded a project here."""
    monkeypatch.chdir(tmp_path)
    done = cli(*args)
    assert (done.returncode, done.stdout) == (2, ""), (done.stdout, done.stderr)
    text = " ".join(done.stderr.replace("│", " ").split())
    names = option if isinstance(option, tuple) else (option,)
    assert any(f"Invalid value for {name}" in text for name in names), done.stderr
    assert "empty" in text, done.stderr
    assert "Traceback" not in done.stderr and " . " not in text
    assert list(tmp_path.iterdir()) == []  # nothing scaffolded, nothing written


def test_a_ca_file_that_cannot_be_read_or_holds_no_certificate_says_so(
    cli: Cli, tmp_path: Path
) -> None:
    """``--ca-file`` gave Python's exception text: ``[Errno 21] Is a directory``,
    ``[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found (_ssl.c:4154)``."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    pipe = tmp_path / "pipe.pem"  # OpenSSL waited for its writer for ever
    os.mkfifo(pipe)
    for path, reason in (
        (tmp_path / "missing.pem", "cannot read it: No such file or directory"),
        (tmp_path, "not a regular file (a directory): give a PEM file"),
        (pipe, "not a regular file (a named pipe): give a PEM file"),
        (Path("/dev/zero"), "not a regular file (a character device): give a PEM file"),
        (junk, "holds no PEM CA certificate (NO_CERTIFICATE_OR_CRL_FOUND)"),
    ):
        line = _one_error_line(cli("get", "http://127.0.0.1:1", "x", "--ca-file", str(path)))
        assert line == f"error: --ca-file {path}: {reason}"


def test_the_ready_file_may_be_a_fifo(tmp_path: Path) -> None:
    """``--ready-file`` was written beside and renamed over: a FIFO a supervisor reads
    (or ``/dev/stdout``) became a regular file, and as root ``/dev/null`` was replaced."""
    import os
    import stat

    from bassline.cli.node_commands import _write_ready

    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        _write_ready(fifo, "http://127.0.0.1:8455")
        assert os.read(reader, 100) == b"http://127.0.0.1:8455\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "{name}"],
        ["import", "memory://", "{name}"],
        ["set", "http://127.0.0.1:1", "x", "--value-file", "{name}"],
        ["graph", CALC, "-o", "{name}"],
        ["run", CALC, "--storage", "bogus{name}://x"],
    ],
)
def test_an_error_quotes_control_characters_escaped(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """File names and URLs came back into the error line as typed: an escape sequence in
    one (``\\x1b[2J``, clear the screen) drove the terminal."""
    monkeypatch.chdir(tmp_path)
    name = "x\x1b[2J\x07\x9b"
    done = cli(*[a.replace("{name}", name) for a in args])
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ")
    assert "\\x1b[2J\\x07\\x9b" in done.stderr, done.stderr
    assert not any(c in done.stderr for c in "\x1b\x07\x9b"), done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["get", "http://u:s3cret@127.0.0.1:1", "x"],
        ["status", "http://u:s3cret@127.0.0.1:99999"],
        ["get", "gopher://u:s3cret@127.0.0.1:1", "x"],
        ["start", CALC, "--node-id", "n1", "--peer", "ws://u:s3cret@127.0.0.1:1"],
    ],
)
def test_a_node_url_with_a_password_is_refused_without_showing_it(
    args: list[str], cli: Cli
) -> None:
    """A node URL takes no credentials, and the error saying so quoted the password."""
    line = _one_error_line(cli(*args))
    assert "s3cret" not in line and "u:***@127.0.0.1" in line, line


def test_start_on_a_storage_holding_another_spec_says_what_to_run(
    cli: Cli, store_a: str, tmp_path: Path
) -> None:
    """The refusal gave the Python API's advice, "open with replace_spec=True", which
    `start` has no option for."""
    spec = tmp_path / "calculator.json"  # the id comes from the file name
    data = json.loads(Path(CALC).read_text())
    data["contacts"]["input-a"]["content"] = 11
    spec.write_text(json.dumps(data))
    assert cli("run", CALC, "--storage", store_a).returncode == 0
    done = run_cli(
        "start", str(spec), "--node-id", "n1", "--listen", "127.0.0.1:0", "--storage", store_a
    )
    line = _one_error_line(done)
    assert line.startswith(f"error: {store_a} holds network 'calculator' with another spec (hash ")
    assert "run `bassline run SPEC --storage URL --replace-spec` first" in line
    assert "replace_spec=True" not in line and done.stdout == ""


def test_set_reaches_a_contact_whose_id_holds_an_equals_sign(cli: Cli, tmp_path: Path) -> None:
    """Ids may hold '=': `--set 'x=y=5'` split at the first '=' only, so contact 'x=y'
    could not be set (`'y=5' is not valid JSON ...; quote strings`)."""
    spec = tmp_path / "eq.json"
    spec.write_text(json.dumps({"id": "eq", "contacts": [{"id": "x=y"}, {"id": "p"}]}))
    done = cli("run", str(spec), "--set", "x=y=5", "--set", 'p="a=b"', "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["contacts"] == {"x=y": 5, "p": "a=b"}
    explained = cli("explain", str(spec), "x=y", "--set", "x=y=[1, 2]")
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith("x=y = [1,2]  <- written (cli)")
    bad = cli("run", str(spec), "--set", "p=foo=bar")  # no split gives JSON: as before
    assert bad.returncode == 1 and "'foo=bar' is not valid JSON" in bad.stderr, bad.stderr


def test_a_file_name_that_is_no_id_is_named_as_the_id_s_source(cli: Cli, tmp_path: Path) -> None:
    """A spec without an "id" takes its file's name; one that is no id was reported as
    `$.id: id must not contain control characters` in a file that has no $.id."""
    spec = tmp_path / "a\tb.json"
    spec.write_text(json.dumps({"contacts": [{"id": "x"}]}))
    done = cli("validate", str(spec))
    assert done.returncode == 1
    assert (
        "  $.id (none given, so the file's name 'a\\tb'): id must not contain control "
        "characters" in done.stderr
    ), done.stderr
    fine = tmp_path / "fine.json"
    fine.write_text(json.dumps({"contacts": [{"id": "x"}]}))
    assert "network 'fine' v1" in cli("validate", str(fine)).stdout


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("localhost", ("localhost", 8455)),
        ("[::1]:0", ("::1", 0)),
        ("[::1]", ("::1", 8455)),  # HOST alone, as the help says: it was refused
        ("::1", ("::1", 8455)),  # was host ':' on port 1
        ("h:\u0663", None),  # ARABIC-INDIC DIGIT THREE: isdigit() took it, as port 3
        ("h:\u00b2", None),  # SUPERSCRIPT TWO: isdigit(), then int() raised (exit 70)
        ("[::1", None),
        ("[::1]x", None),
        ("h:65536", None),
        (":0", None),
        ("8461", None),  # a port alone: was host 8461, which inet_aton reads as 0.0.33.13
        ("999999", None),
    ],
)
def test_listen_takes_host_alone_ipv6_and_ascii_ports_only(
    text: str, parsed: tuple[str, int] | None
) -> None:
    from bassline.cli.console import UserError
    from bassline.cli.node_commands import _parse_listen

    if parsed is not None:
        assert _parse_listen(text) == parsed
    else:
        with pytest.raises(UserError, match="expected HOST:PORT"):
            _parse_listen(text)


def test_listen_on_a_superscript_port_is_one_error_line() -> None:
    done = run_cli("start", CALC, "--node-id", "n1", "--listen", "127.0.0.1:\u00b2")
    assert "--listen '127.0.0.1:²': expected HOST:PORT" in _one_error_line(done)


# ------------------------------------------------------------------------ repeated keys


def test_a_spec_with_a_repeated_key_is_refused_naming_it(cli: Cli, tmp_path: Path) -> None:
    """JSON parsers keep the last of a repeated key: a spec naming a contact's id twice
    silently lost the first."""
    spec = tmp_path / "twice.json"
    spec.write_text('{"id": "x", "contacts": [{"id": "a", "content": 1, "id": "b"}]}')
    done = cli("validate", str(spec))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "  $: not valid JSON: the object at $.contacts[0] has the key 'id' twice (say each "
        "key once)"
    )


def test_a_set_value_with_a_repeated_key_is_refused(cli: Cli) -> None:
    line = _one_error_line(cli("run", CALC, "--set", 'input-a={"k": 1, "k": 2}'))
    assert "the object at $ has the key 'k' twice" in line and "quote strings" not in line


def test_an_import_with_a_repeated_key_is_refused_before_writing(
    cli: Cli, store_a: str, tmp_path: Path
) -> None:
    assert cli("run", CALC, "--set", "input-a=5", "--storage", store_a).returncode == 0
    before = cli("export", store_a, "calculator")
    assert before.returncode == 0, before.stderr
    text = before.stdout.replace('"value":5', '"value":5,"value":7', 1)
    assert text != before.stdout
    twice = tmp_path / "twice.json"
    twice.write_text(text)
    line = _one_error_line(cli("import", store_a, str(twice), "--overwrite"))
    assert "the object at $.contents[0] has the key 'value' twice" in line, line
    assert cli("export", store_a, "calculator").stdout == before.stdout
