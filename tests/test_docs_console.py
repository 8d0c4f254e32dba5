"""Every ```console block in README.md and docs/*.md runs, and prints what it shows.

A page is one test case, named by its path: its blocks run in order, in one fresh temporary
directory holding a copy of ``examples/`` (paths in the docs are written as from the
repository root), as a reader following the page would type them, so a later command sees
what an earlier one made (a store, a project, a running node, ``cd``, ``export``).

In a block, lines starting with ``$ `` are commands (a trailing ``\\`` continues one), and
the lines after a command are what it prints (stdout and stderr, as a terminal shows them).
A block without any ``$ `` line is all commands, with no output shown. Each command runs in
``bash`` with the virtualenv's ``bin`` first on ``PATH``; its working directory and exported
variables carry over to the next one.

A command must exit 0, or 1 when the shown output has an ``error:`` line. When output is
shown, the command's whole output must match it, after this normalisation (both sides):

- blank lines and trailing spaces are dropped; runs of spaces, and of a table's rule
  characters (``━``, ``─``), count as one (table widths follow the values);
- durations (``2.30s``, ``16.9 ms``) and convergence digests (``digest e0e31184``) vary;
- every loopback port (``127.0.0.1:40779``) varies;
- the working directory is shown as ``/home/me/bassline``.

In the shown output, ``...`` inside a line stands for any text, and a line that is only
``...`` (perhaps inside a table row's borders) stands for any number of lines.

``bassline start`` (in the background with ``&`` or, as the docs say, "in another
terminal") starts a node: it listens on a free port instead of the documented one, which is
replaced in every later command of the page (and put back in what they print); the test
waits for its ``--ready-file`` (polling, with a deadline) and checks the URL it shows. A
``start`` on the address of a node already running stops that node first (SIGINT, as
Ctrl-C), so "stop it and start it again" is typed as the same command again. Every node is
stopped at the end of the page. ``bassline get`` reads a node that is still converging, so
it is retried until it shows the documented value (or the deadline passes). A snapshot id
a command prints (``snap-...``) replaces the documented one in later commands.

The ``<!-- doctest: ... -->`` directive of ``tests/test_docs_examples.py`` adjusts a block:
``skip reason="..."`` (it cannot run here), ``setup=NAME`` (hidden setup from
:data:`CONSOLE_SETUP_FUNCS`), ``requires=PROG`` (skipped without that program) and
``interrupt`` (a command that runs until Ctrl-C). A ```json block with
``<!-- doctest: file=NAME -->`` is saved as ``NAME`` when the page reaches it, as the text
asks the reader to.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.test_docs_examples import (
    CONSOLE_LANGUAGES,
    CONSOLE_SETUPS,
    DOCS,
    REPO,
    Block,
    DocTestError,
    parse_markdown,
)

BIN = Path(sys.executable).parent
"""The virtualenv's ``bin``: ``bassline`` and ``python`` as the docs mean them."""
DEADLINE = 120.0
"""Seconds a node may take to listen, a read to converge, an interrupted command to show its
output or to stop: generous, for a loaded machine (a passing page never waits them out)."""
COMMAND_TIMEOUT = 120
"""Seconds before a hung command is killed (a guard, never a synchronisation)."""
DOC_CWD = "/home/me/bassline"
"""How the docs show the working directory."""

# ------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class Command:
    text: str
    """As typed, continuation lines joined."""
    line: int
    """1-based line in the page."""
    shown: tuple[str, ...] = ()
    """The output the docs show after it."""


def commands(block: Block) -> list[Command]:
    """The commands of a console block, each with the output shown after it."""
    lines = block.source.splitlines()
    prompted = any(ln.startswith("$ ") or ln == "$" for ln in lines)
    found: list[tuple[str, int, list[str]]] = []
    i = 0
    while i < len(lines):
        ln, at = lines[i], block.line + 1 + i
        if prompted and not (ln.startswith("$ ") or ln == "$"):
            if not found:
                raise DocTestError(f"{block.path}:{at}: output before the first command")
            found[-1][2].append(ln)
            i += 1
            continue
        text = ln[2:] if prompted else ln
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        if text.strip():
            found.append((text.strip(), at, []))
        i += 1
    return [Command(text, at, tuple(shown)) for text, at, shown in found]


def blocks_of(path: str) -> list[Block]:
    """The console blocks and the ``file=`` blocks of one page, in order."""
    text = (REPO / path).read_text(encoding="utf-8")
    every = parse_markdown(text, path, languages=_every_language(text))
    return [b for b in every if b.lang in CONSOLE_LANGUAGES or b.file is not None]


def _every_language(text: str) -> set[str]:
    return {m[1].lower() for m in re.finditer(r"^[ \t]*(?:`{3,}|~{3,})[ \t]*(\w+)", text, re.M)}


PAGES = [
    doc.relative_to(REPO).as_posix()
    for doc in DOCS
    if any(b.lang in CONSOLE_LANGUAGES for b in blocks_of(doc.relative_to(REPO).as_posix()))
]


# ------------------------------------------------------------------ normalising output

_DURATION = re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b")
_DIGEST = re.compile(r"\bdigest [0-9a-f]{8}\b")
_PORT = re.compile(r"\b127\.0\.0\.1:\d+\b")
_SNAPSHOT = re.compile(r"\bsnap-[0-9a-f]{16}\b")
_RULES = re.compile(r"━+|─+")
_BORDERS = "│┃ "


def normalise(line: str) -> str:
    """One output line, with what legitimately varies made equal (see the module doc)."""
    line = _DURATION.sub("<duration>", line)
    line = _DIGEST.sub("digest <digest>", line)
    line = _PORT.sub("127.0.0.1:<port>", line)
    line = _RULES.sub(lambda m: m[0][0], line)
    return re.sub(r" +", " ", line).strip()


def _pattern(shown: str) -> re.Pattern[str] | None:
    """A regex for one shown line (``...`` is any text); None for a line of ``...`` alone."""
    if shown.strip(_BORDERS) == "...":
        return None
    parts = normalise(shown).split("...")
    return re.compile(".*?".join(re.escape(p) for p in parts) + r"\Z")


def matches(shown: tuple[str, ...], output: str) -> bool:
    """Whether the whole output matches the shown lines (normalised, with ``...``)."""
    want = [_pattern(s) for s in shown if s.strip()]
    have = [normalise(ln) for ln in output.splitlines() if ln.strip()]
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(want):
                result = j == len(have)
            elif want[i] is None:
                result = match(i + 1, j) or (j < len(have) and match(i, j + 1))
            else:
                pattern = want[i]
                result = (
                    j < len(have)
                    and pattern is not None
                    and pattern.match(have[j]) is not None
                    and match(i + 1, j + 1)
                )
            memo[i, j] = result
        return memo[i, j]

    return match(0, 0)


# ------------------------------------------------------------------ the page's session


@dataclass
class Node:
    documented: str
    """The ``--listen`` address the docs give."""
    proc: subprocess.Popen[bytes]
    log: Path
    url: str = ""


@dataclass
class Session:
    """One reader following one page: a directory, a shell's state, running nodes."""

    page: str
    cwd: Path
    state: Path
    """Outside ``cwd``: the shell's exported variables, and node logs."""
    subs: list[tuple[str, str]] = field(default_factory=list)
    """(documented, actual) pairs: documented in commands, actual in output."""
    nodes: list[Node] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    ran: int = 0

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", str(self.state)),
            "LANG": "C.UTF-8",
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "TMPDIR": str(self.state),
        }

    def bind(self, documented: str, actual: str) -> None:
        """From now on ``documented`` in commands means ``actual`` (and back in output)."""
        self.subs = [s for s in self.subs if s[0] != documented]
        self.subs.append((documented, actual))

    def substitute(self, text: str) -> str:
        for documented, actual in self.subs:
            text = text.replace(documented, actual)
        return text

    def unsubstitute(self, output: str) -> str:
        for documented, actual in reversed(self.subs):
            output = output.replace(actual, documented)
        return output.replace(str(self.cwd), DOC_CWD)

    def fail(self, command: Command, message: str, output: str = "") -> NoReturn:
        text = f"{self.page}:{command.line}: $ {command.text}\n{message}"
        if output:
            text += f"\n--- output:\n{output}"
        for node in self.nodes:
            text += f"\n--- log of node {node.documented}:\n{_tail(node.log)}"
        pytest.fail(text, pytrace=False)

    # -------------------------------------------------------------- one command

    def _shell(self, text: str) -> list[str]:
        """bash running ``text`` in the session's directory and environment, saving both."""
        script = (
            'source "$1" && cd "$2" || exit 97\n'
            'eval "$3"\n__rc=$?\n'
            'export -p > "$1"; pwd > "$1.cwd"; exit $__rc\n'
        )
        env_file = self.state / "env.sh"
        env_file.touch()
        return ["bash", "-c", script, "bash", str(env_file), str(self.cwd), text]

    def _after_shell(self) -> None:
        cwd_file = self.state / "env.sh.cwd"
        if cwd_file.exists():
            self.cwd = Path(cwd_file.read_text().strip())

    def run(self, command: Command, *, interrupt: bool = False) -> None:
        self.ran += 1
        words = _words(command.text)
        if words[:2] == ["bassline", "start"]:
            self.start_node(command, words)
            return
        text = self.substitute(command.text)
        expect = 1 if any(s.startswith("error:") for s in command.shown) else 0
        deadline = time.monotonic() + DEADLINE
        while True:
            if interrupt:
                rc, output = self._interrupted(command, text)
            else:
                done = subprocess.run(
                    self._shell(text),
                    env=self.env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    timeout=COMMAND_TIMEOUT,
                    check=False,
                )
                rc, output = done.returncode, done.stdout.decode()
            self._after_shell()
            self._learn(command, output)
            output = self.unsubstitute(output)
            ok = rc == expect and (not command.shown or matches(command.shown, output))
            retry = words[:2] == ["bassline", "get"] and time.monotonic() < deadline
            if ok or not retry:
                break
        if rc != expect:
            self.fail(command, f"exit status {rc}, the docs imply {expect}", output)
        if command.shown and not matches(command.shown, output):
            shown = "\n".join(command.shown)
            self.fail(command, f"the output does not match what the docs show:\n{shown}", output)

    def _spawn(self, text: str, log: Path, *, new_session: bool = False) -> subprocess.Popen[bytes]:
        """Start ``text`` in the page's shell, its output (both streams) going to ``log``."""
        with log.open("wb") as out:
            return subprocess.Popen(
                self._shell(f"exec {text}"),
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=new_session,
            )

    def _interrupted(self, command: Command, text: str) -> tuple[int, str]:
        """Run until the shown output (or, if none, any output) appears, then Ctrl-C."""
        log = self.state / f"interrupted-{command.line}.log"
        proc = self._spawn(text, log)
        try:
            deadline = time.monotonic() + DEADLINE
            while proc.poll() is None:
                output = self.unsubstitute(log.read_text(errors="replace"))
                if matches(command.shown, output) if command.shown else output.strip():
                    break
                if time.monotonic() > deadline:  # Ctrl-C now would only hide why
                    self.fail(command, f"no output as shown within {DEADLINE} s", output)
                time.sleep(0.05)  # polling the log under a deadline, not synchronising
            proc.send_signal(signal.SIGINT)
            try:
                rc = proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                output = log.read_text(errors="replace")
                self.fail(command, f"still running {DEADLINE} s after Ctrl-C", output)
        finally:
            _kill(proc)
        return rc, log.read_text(errors="replace")

    def _learn(self, command: Command, output: str) -> None:
        """Snapshot ids the command printed replace the documented ones from now on."""
        documented = _SNAPSHOT.findall("\n".join(command.shown))
        actual = _SNAPSHOT.findall(output)
        if documented and len(documented) == len(actual):
            for doc, act in zip(documented, actual, strict=True):
                self.bind(doc, act)

    # -------------------------------------------------------------- nodes

    def start_node(self, command: Command, words: list[str]) -> None:
        words = [w for w in words if w != "&"]
        listen = words[words.index("--listen") + 1] if "--listen" in words else "127.0.0.1:8455"
        for node in [n for n in self.nodes if n.documented == listen]:
            stop_node(node, graceful=True)
            self.nodes.remove(node)
        ready = self.state / f"node-{command.line}.url"
        ready.unlink(missing_ok=True)
        host = listen.rpartition(":")[0]
        text = re.sub(r"\s*&\s*$", "", command.text)
        if "--listen" in words:
            text = text.replace(f"--listen {listen}", f"--listen {host}:0")
        else:
            text += f" --listen {host}:0"
        text = self.substitute(f"{text} --ready-file {shlex.quote(str(ready))}")
        log = self.state / f"node-{command.line}.log"
        proc = self._spawn(text, log, new_session=True)
        node = Node(listen, proc, log)
        self.nodes.append(node)
        deadline = time.monotonic() + DEADLINE
        while not (ready.exists() and ready.read_text().strip()):
            if proc.poll() is not None:
                self.fail(command, f"the node exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                self.fail(command, f"the node did not listen within {DEADLINE} s")
            time.sleep(0.05)
        node.url = ready.read_text().strip()
        actual = node.url.rpartition("://")[2].rstrip("/")
        self.bind(listen, actual)
        if command.shown and not matches(command.shown, self.unsubstitute(node.url)):
            self.fail(command, f"the node's URL is {node.url}, not as shown")

    def close(self) -> None:
        for node in self.nodes:
            stop_node(node, graceful=False)
        self.nodes.clear()
        for cleanup in reversed(self.cleanups):
            cleanup()


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return []


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=COMMAND_TIMEOUT)


def stop_node(node: Node, *, graceful: bool) -> None:
    """Ctrl-C (SIGINT) the node, and wait for it; a graceful stop must exit 0."""
    if node.proc.poll() is None:
        node.proc.send_signal(signal.SIGINT)
        try:
            node.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            _kill(node.proc)
            if graceful:
                pytest.fail(f"node {node.documented} did not stop on Ctrl-C", pytrace=False)
    if graceful and node.proc.returncode != 0:
        pytest.fail(
            f"node {node.documented} exited {node.proc.returncode} on Ctrl-C:\n{_tail(node.log)}",
            pytrace=False,
        )


# ------------------------------------------------------------------ setups


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _postgres_migrated(session: Session, block: Block) -> Callable[[], None] | None:
    """Each postgresql:// URL of the block: the test server, in a new migrated schema."""
    import psycopg
    from bassline_storage_postgres import migrate
    from psycopg import sql

    from tests.postgres_support import require_postgres_url, with_query

    server = require_postgres_url()
    urls = sorted(set(re.findall(r"postgresql://[^\s\"'<>]+", block.source)), key=len)
    if not urls:
        raise DocTestError(f"{block.id}: setup postgres_migrated needs a postgresql:// URL")
    schemas = []
    for url in reversed(urls):  # the longest first, so no URL replaces part of another
        from urllib.parse import parse_qsl, urlsplit

        schema = f"bt_doc_{uuid.uuid4().hex[:12]}"
        schemas.append(schema)
        options = dict(parse_qsl(urlsplit(url).query))
        local = with_query(server, **{**options, "schema": schema})
        migrate(local)
        session.bind(url, local)

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )

    return drop


BROKEN_SPEC = """{
  "format": "bassline/1",
  "id": "broken",
  "contacts": [{"id": "a", "blend": "x"}],
  "wires": [{"from": "a", "to": "b"}]
}
"""


def _broken_spec(session: Session, block: Block) -> None:
    (session.cwd / "broken.json").write_text(BROKEN_SPEC, encoding="utf-8")


def _damaged_store(session: Session, block: Block) -> Callable[[], None]:
    """``./state`` (holding ``calculator``) gets an unknown contact and a future stamp.

    The store is put back as it was after the block.
    """
    import asyncio

    from bassline.clock import LOGICAL_BITS, Stamp
    from bassline.storage import open_storage
    from bassline.storage.records import ContentRecord

    store = session.cwd / "state"
    backup = session.state / "state.backup"
    shutil.copytree(store, backup)
    future = (int(time.time() * 1000) + 3_600_000) << LOGICAL_BITS

    async def damage() -> None:
        async with open_storage(store.as_uri()) as storage:
            batch = [
                ContentRecord("calculator", "root", "ghost", 1, Stamp(5, "x")),
                ContentRecord("calculator", "root", "result", 25, Stamp(future, "x")),
            ]
            (await storage.write(batch)).unwrap()

    asyncio.run(damage())

    def restore() -> None:
        shutil.rmtree(store)
        shutil.move(backup, store)

    return restore


def _damaged_log(session: Session, damage: Callable[[bytes], bytes]) -> Callable[[], None]:
    """``./state``'s log replaced by ``damage(log)``; the store is put back after the block."""
    store = session.cwd / "state"
    backup = session.state / "state.backup"
    shutil.copytree(store, backup)
    log = store / "log"
    log.write_bytes(damage(log.read_bytes()))

    def restore() -> None:
        shutil.rmtree(store)
        shutil.move(backup, store)

    return restore


def _torn_store(session: Session, block: Block) -> Callable[[], None]:
    """The last 5 bytes of ``./state``'s log are cut off: its last batch is torn."""
    return _damaged_log(session, lambda data: data[:-5])


def _flip_in_first_batch(data: bytes) -> bytes:
    from bassline_storage_fs.frames import Frame, read_frame

    header = read_frame(data, 0)
    assert isinstance(header, Frame)
    damaged = bytearray(data)
    damaged[header.end + 20] ^= 0x01  # inside the first record after the header
    return bytes(damaged)


def _corrupt_store(session: Session, block: Block) -> Callable[[], None]:
    """A bit of the first batch in ``./state``'s log is flipped: committed batches follow."""
    return _damaged_log(session, _flip_in_first_batch)


CONSOLE_SETUP_FUNCS: dict[str, Callable[[Session, Block], Callable[[], None] | None]] = {
    "postgres_migrated": _postgres_migrated,
    "broken_spec": _broken_spec,
    "damaged_store": _damaged_store,
    "torn_store": _torn_store,
    "corrupt_store": _corrupt_store,
}
"""What each of :data:`~tests.test_docs_examples.CONSOLE_SETUPS` does before its block.

It may return a cleanup: for the block (``damaged_store``) or the page (the others).
"""
BLOCK_SCOPED = {"damaged_store", "torn_store", "corrupt_store"}


# ------------------------------------------------------------------ the tests


def _skip_reason(block: Block) -> str | None:
    if block.skip is not None:
        return block.skip
    missing = [p for p in block.requires if shutil.which(p) is None]
    return f"needs {', '.join(missing)} on PATH" if missing else None


def _param(page: str) -> Any:
    postgres = any("postgres_migrated" in b.setups for b in blocks_of(page))
    return pytest.param(page, id=page, marks=[pytest.mark.postgres] if postgres else [])


def _runnable(page: str) -> bool:
    """Whether any console block of ``page`` runs here (the rest are skipped, with reasons)."""
    return any(b.lang in CONSOLE_LANGUAGES and b.skip is None for b in blocks_of(page))


@pytest.mark.parametrize("page", [p for p in PAGES if not _runnable(p)])
def test_pages_whose_console_blocks_cannot_run_here_still_parse(page: str) -> None:
    """Every block on these pages is skipped, each with its reason: they must still parse."""
    for block in blocks_of(page):
        if block.lang in CONSOLE_LANGUAGES:
            assert block.skip, f"{block.id} runs, so its page belongs to test_docs_console"
            commands(block)


@pytest.mark.parametrize("page", [_param(p) for p in PAGES if _runnable(p)])
def test_docs_console(page: str) -> None:
    """The page's console blocks run in order, exit as implied and print what they show."""
    blocks = blocks_of(page)
    for block in blocks:
        if block.lang in CONSOLE_LANGUAGES:
            commands(block)  # parses, even when skipped
    # A short path, as the docs' /home/me/bassline: tables wrap a long one in their title.
    with tempfile.TemporaryDirectory(prefix="bl-") as tmp:
        cwd, state = Path(tmp) / "w", Path(tmp) / "s"
        state.mkdir()
        shutil.copytree(REPO / "examples", cwd / "examples")
        _run_page(page, blocks, Session(page, cwd, state))


def _run_page(page: str, blocks: list[Block], session: Session) -> None:
    skipped = []
    try:
        for block in blocks:
            if block.file is not None:
                (session.cwd / block.file).write_text(block.source, encoding="utf-8")
                continue
            reason = _skip_reason(block)
            if reason is not None:
                skipped.append(f"{block.id} ({reason})")
                continue
            after_block: list[Callable[[], None]] = []
            for name in block.setups:
                cleanup = CONSOLE_SETUP_FUNCS[name](session, block)
                if cleanup is not None:
                    (after_block if name in BLOCK_SCOPED else session.cleanups).append(cleanup)
            try:
                for command in commands(block):
                    session.run(command, interrupt=block.interrupt)
            finally:
                for cleanup in after_block:
                    cleanup()
    finally:
        session.close()
    if not session.ran:
        pytest.skip(f"{page}: every block skipped: {'; '.join(skipped)}")


def test_console_setups_are_implemented() -> None:
    assert set(CONSOLE_SETUP_FUNCS) == set(CONSOLE_SETUPS)
    assert set(CONSOLE_SETUP_FUNCS) >= BLOCK_SCOPED


def test_every_console_block_is_found() -> None:
    """The parser finds as many console blocks as there are console fences (a cross-check)."""
    total = 0
    for doc in DOCS:
        path = doc.relative_to(REPO).as_posix()
        fences = sum(
            1
            for line in doc.read_text(encoding="utf-8").splitlines()
            if re.match(r"^\s*```(console|shell|bash|sh)\s*$", line)
        )
        found = [b for b in blocks_of(path) if b.lang in CONSOLE_LANGUAGES]
        assert len(found) == fences, path
        assert (path in PAGES) == bool(fences)
        total += fences
    assert total > 0


def test_commands_and_output() -> None:
    block = Block(
        "x.md",
        1,
        "$ bassline start a.json \\\n    --listen 127.0.0.1:1 &\n$ bassline get u x\n42\n",
        lang="console",
    )
    assert commands(block) == [
        Command("bassline start a.json  --listen 127.0.0.1:1 &", 2),
        Command("bassline get u x", 4, ("42",)),
    ]
    plain = Block("x.md", 1, "python -m pip install x\nbassline demo  # live\n", lang="console")
    assert [c.text for c in commands(plain)] == ["python -m pip install x", "bassline demo  # live"]
    assert all(c.shown == () for c in commands(plain))
    table = "┏━━━┳━━┓\n│ a │  1 │\n│ ... │   │\n│ z │ 26 │\n"
    output = "┏━━━━━┳━━━┓\n│ a   │ 1 │\n│ b   │ 2 │\n│ c   │ 3 │\n│ z   │ 26 │\n"
    assert matches(tuple(table.splitlines()), output)
    assert not matches(tuple(table.splitlines()), output + "extra\n")
    assert matches(("took 2.30s on ws://127.0.0.1:1",), "took 17 ms on ws://127.0.0.1:4000\n")
    assert matches(("stamp 118... of node 'x'",), "stamp 1181234 of node 'x'")
    assert not matches(("42",), "30")
    with pytest.raises(DocTestError):
        commands(Block("x.md", 1, "output first\n$ ls\n", lang="console"))


def test_console_directives() -> None:
    text = (
        '<!-- doctest: skip reason="needs the network" -->\n```console\n$ pip install x\n```\n'
        "<!-- doctest: setup=postgres_migrated requires=dot interrupt -->\n"
        "```console\n$ ls\n```\n"
        "<!-- doctest: file=sum.json -->\n```json\n{}\n```\n"
    )
    skip, full, saved = parse_markdown(text, "x.md", languages={"console", "json"})
    assert skip.skip == "needs the network"
    assert (full.setups, full.requires, full.interrupt) == (("postgres_migrated",), ("dot",), True)
    assert (saved.file, saved.source) == ("sum.json", "{}\n")
    for bad in [
        "<!-- doctest: setup=postgres -->\n```console\n$ ls\n```\n",
        "<!-- doctest: check=run_tests -->\n```console\n$ ls\n```\n",
        "<!-- doctest: interrupt -->\n```python\n```\n",
        '<!-- doctest: skip reason="x" interrupt -->\n```console\n$ ls\n```\n',
        "<!-- doctest: file=a/b.json -->\n```json\n{}\n```\n",
        "<!-- doctest: skip -->\n```json\n{}\n```\n",
    ]:
        with pytest.raises(DocTestError):
            parse_markdown(bad, "bad.md", languages={"console", "json", "python"})
