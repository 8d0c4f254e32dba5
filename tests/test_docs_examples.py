"""Every ```python block in README.md and docs/*.md runs, and prints what its comments say.

Each block is one test case, named ``PATH:LINE`` (the line of its opening fence). It runs
in a child process (``python -m tests.test_docs_examples PATH LINE``), so a block that
registers a gadget or a storage scheme cannot leak into the rest of the suite: in a fresh
``__main__`` namespace, compiled with ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` (a block with
top-level ``await`` / ``async with`` is a coroutine, run with asyncio; a block without runs
in a worker thread of that loop, so it may start its own). The working directory is a
fresh temporary directory holding a copy of ``examples/``: paths in the docs are written
as from the repository root, and whatever a block writes is thrown away.

A trailing comment on a one-line ``print(...)`` is its expected output: ``print(x)  # 43``
passes only if the block prints the line ``43``. Expected lines must appear in the order of
the source; a comment holding ``...`` is schematic and not checked.

An HTML comment (invisible in the rendered docs) on the line just before a block adjusts
how it runs::

    <!-- doctest: setup=NAME[,NAME...] check=NAME[,NAME...] -->
    <!-- doctest: skip reason="why it cannot run" -->

``setup`` names hidden setup from :data:`SETUPS`: it defines the names a fragment uses, or
points a URL that only makes sense in production (a PostgreSQL host, a peer) at something
local. ``check`` names checks from :data:`CHECKS`, run on the block's namespace after it.
A skipped block must give a reason, and is still compiled.

The same directive, with other options, adjusts the ```console blocks that
``tests/test_docs_console.py`` runs (see :data:`CONSOLE_OPTIONS`), and names the file a
```json (or other) block is saved as (``<!-- doctest: file=sum.json -->``). This module
parses them all, so a directive is never silently ignored.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import io
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tokenize
import types
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CHILD_TIMEOUT = 300
"""Seconds before a hung block's process is killed (a guard, never a synchronisation)."""


class DocTestError(Exception):
    """A malformed doctest directive, or a setup that does not fit its block."""


# ------------------------------------------------------------------ setups and checks


@dataclass
class Context:
    """What setups work on: the block's source (before it is compiled) and its namespace."""

    block: Block
    source: str
    namespace: dict[str, Any]

    def substitute(self, pattern: str, replacement: str | Callable[[re.Match[str]], str]) -> None:
        """Replace a regex in the source; the block must contain it and keep its lines."""
        if isinstance(replacement, str):
            text = replacement
            replacement = lambda _: text  # noqa: E731 - taken literally, backslashes and all
        source, count = re.subn(pattern, replacement, self.source)
        if not count:
            raise DocTestError(f"{self.block.id}: the setup expects {pattern!r} in the block")
        if source.count("\n") != self.source.count("\n"):
            raise DocTestError(f"{self.block.id}: a substitution must not add or remove lines")
        self.source = source


Setup = Callable[[Context], AbstractAsyncContextManager[None]]

SETUPS: dict[str, Setup] = {}
"""Hidden setup by name: an async context manager around the block's run."""

POSTGRES_SETUPS: set[str] = set()
"""Setups that need the PostgreSQL test server (their cases are marked ``postgres``)."""

CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {}
"""Checks by name: called with the block's namespace after it ran, inside its setups."""


def setup(name: str, *, postgres: bool = False) -> Callable[[Any], Setup]:
    """Register an async generator function as the setup ``name``."""

    def register(fn: Callable[[Context], AsyncIterator[None]]) -> Setup:
        SETUPS[name] = asynccontextmanager(fn)
        if postgres:
            POSTGRES_SETUPS.add(name)
        return SETUPS[name]

    return register


@setup("storage_memory")
async def _storage_memory(ctx: Context) -> AsyncIterator[None]:
    """``storage``: an open ``memory://`` storage holding ``examples/calculator.json``."""
    from bassline import load_spec
    from bassline.storage import open_storage

    async with open_storage("memory://") as storage:
        (await storage.save_network(load_spec("examples/calculator.json"))).unwrap()
        ctx.namespace["storage"] = storage
        yield


@setup("tmp_file_store")
async def _tmp_file_store(ctx: Context) -> AsyncIterator[None]:
    """``file:///var/lib/bassline`` becomes a directory in the working directory."""
    url = (Path.cwd() / "var-lib-bassline").as_uri()
    ctx.substitute(re.escape("file:///var/lib/bassline"), url)
    yield


@asynccontextmanager
async def _postgres(ctx: Context, *, migrated: bool) -> AsyncIterator[None]:
    import psycopg
    from bassline_storage_postgres import migrate
    from psycopg import sql

    from tests.postgres_support import DEFAULT_URL, with_query

    server = os.environ.get("BASSLINE_TEST_POSTGRES_URL", DEFAULT_URL)
    schema = f"bt_doc_{uuid.uuid4().hex[:12]}"

    def local(match: re.Match[str]) -> str:
        options = dict(parse_qsl(urlsplit(match[0]).query))
        return with_query(server, **{**options, "schema": schema})

    ctx.substitute(r"postgresql(?:\+psycopg)?://[^\s\"'<>]+", local)
    try:
        if migrated:
            migrate(with_query(server, schema=schema))
        yield
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@setup("postgres", postgres=True)
async def _postgres_fresh(ctx: Context) -> AsyncIterator[None]:
    """Every ``postgresql://`` URL in the block points at the test server, in a new schema.

    The URL's own options are kept (``schema`` is replaced); the schema is dropped after.
    """
    async with _postgres(ctx, migrated=False):
        yield


@setup("postgres_migrated", postgres=True)
async def _postgres_migrated(ctx: Context) -> AsyncIterator[None]:
    """As ``postgres``, with the schema migrated first (the block assumes a deployed store)."""
    async with _postgres(ctx, migrated=True):
        yield


@setup("gossip_peer")
async def _gossip_peer(ctx: Context) -> AsyncIterator[None]:
    """``cluster.key``, and peer ``n2`` (running ``add-gadget``) on a free loopback port.

    The block's ``ws://n2.example:8455`` dials that peer, and its own ``"0.0.0.0", 8455``
    listens on a free loopback port instead.
    """
    from bassline.net import BasslineNetwork, NodeServer

    key = secrets.token_hex(32)
    Path("cluster.key").write_text(key + "\n")  # noqa: ASYNC240 - a few bytes, before any task
    n2 = BasslineNetwork("n2", "examples/calculator.json", groups=["add-gadget"], secret=key)
    async with n2, NodeServer(n2, "127.0.0.1", 0) as server:
        assert server.url is not None
        ctx.substitute(re.escape('"ws://n2.example:8455"'), json.dumps(server.url.ws))
        ctx.substitute(re.escape('"0.0.0.0", 8455'), '"127.0.0.1", 0')
        yield


@setup("node_n2")
async def _node_n2(ctx: Context) -> AsyncIterator[None]:
    """``cluster.key``, and node ``n2`` (running ``add-gadget``) on a free loopback port,
    which the block's ``ws://n2.example:8455`` reaches."""
    from bassline.net import BasslineNetwork, NodeServer

    key = secrets.token_hex(32)
    Path("cluster.key").write_text(key + "\n")  # noqa: ASYNC240 - a few bytes, before any task
    n2 = BasslineNetwork("n2", "examples/calculator.json", groups=["add-gadget"], secret=key)
    async with n2, NodeServer(n2, "127.0.0.1", 0) as server:
        assert server.url is not None
        ctx.substitute(re.escape('"ws://n2.example:8455"'), json.dumps(server.url.ws))
        yield


@setup("mydb_backend")
async def _mydb_backend(ctx: Context) -> AsyncIterator[None]:
    """``open_mydb_storage``: a storage factory to register (it opens ``memory://`` stores).

    After the block, ``mydb://`` URLs must open.
    """
    from bassline.storage import open_storage

    def open_mydb_storage(url: str, **options: Any) -> Any:
        return open_storage("memory://", **options)

    ctx.namespace["open_mydb_storage"] = open_mydb_storage
    yield
    async with open_storage("mydb://example") as storage:
        (await storage.health()).unwrap()


@setup("my_lattice")
async def _my_lattice(ctx: Context) -> AsyncIterator[None]:
    """``MyLattice`` (the built-in ``max`` lattice's class) and ``my_values_strategy()``."""
    from bassline import get_lattice
    from bassline.testing import strategies

    ctx.namespace["MyLattice"] = type(get_lattice("max"))
    ctx.namespace["my_values_strategy"] = lambda: strategies.lattice_values("max")
    yield


def _run_tests(namespace: dict[str, Any]) -> None:
    """Call each ``test_*`` function and ``Test*`` class method the block defined.

    For blocks whose tests take no fixtures (hypothesis ``@given`` tests, law mixins).
    """
    ran = []
    for name, obj in list(namespace.items()):
        if getattr(obj, "__module__", None) != namespace["__name__"]:
            continue  # imported, not defined by the block
        if name.startswith("test_") and inspect.isfunction(obj):
            obj()
            ran.append(name)
        elif name.startswith("Test") and inspect.isclass(obj):
            for attr in sorted(dir(obj)):
                if attr.startswith("test_"):
                    getattr(obj(), attr)()
                    ran.append(f"{name}.{attr}")
    if not ran:
        raise AssertionError("check run_tests: the block defines no test")


CHECKS["run_tests"] = _run_tests


# ------------------------------------------------------------------ finding the blocks


@dataclass(frozen=True)
class Block:
    """One ```python block of a Markdown file, with its doctest directive."""

    path: str
    """Relative to the repository root."""
    line: int
    """1-based line of the opening fence."""
    source: str
    setups: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    skip: str | None = None
    lang: str = "python"
    """The fence's info string (lower case)."""
    requires: tuple[str, ...] = ()
    interrupt: bool = False
    file: str | None = None
    """A ```json (or other) block: the file the reader is told to save it as."""

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    def compile(self, source: str | None = None) -> types.CodeType:
        """Compile with top-level await allowed; line numbers (and tracebacks) are the file's."""
        text = "\n" * self.line + (self.source if source is None else source)
        return compile(text, str(REPO / self.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


_PYTHON = {"python", "py", "python3"}
CONSOLE_LANGUAGES = frozenset({"console", "shell", "bash", "sh"})
"""The info strings of the blocks ``tests/test_docs_console.py`` runs."""

CONSOLE_SETUPS: dict[str, str] = {
    "postgres_migrated": "every postgresql:// URL of the block points at the test server, "
    "in a new migrated schema (for the rest of the page)",
    "broken_spec": "broken.json: a spec with two problems",
    "damaged_store": "the file store ./state holds two problems during the block",
    "torn_store": "the last 5 bytes of the file store ./state's log are cut off (a torn last "
    "batch) during the block",
    "corrupt_store": "a bit of the first batch in the file store ./state's log is flipped "
    "during the block",
}
"""Hidden setup for console blocks by name (implemented in ``tests/test_docs_console.py``)."""

CONSOLE_OPTIONS = {
    "skip": 'skip reason="..." - the block cannot run here; it is parsed, not run',
    "setup": "setup=NAME[,NAME...] - hidden setup from CONSOLE_SETUPS",
    "requires": "requires=PROG[,PROG...] - skip the block unless these programs are on PATH",
    "interrupt": "interrupt - each command runs until Ctrl-C: it gets SIGINT once it has "
    "printed what the block shows, and must then exit 0",
}
"""The directive options of a console block."""


def _block_kind(info: str) -> str:
    """Which directive options a block of this info string takes."""
    info = info.lower()
    if info in _PYTHON:
        return "python"
    return "console" if info in CONSOLE_LANGUAGES else "file"


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\s`{]*)")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:(?P<body>.*?)-->\s*$")
_ANY_DIRECTIVE = re.compile(r"^\s*<!--\s*doctest\b")


def _names(value: str, known: dict[str, Any], kind: str, where: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    for n in names:
        if n not in known:
            raise DocTestError(f"{where}: unknown doctest {kind} {n!r} (known: {sorted(known)})")
    if not names:
        raise DocTestError(f"{where}: empty doctest {kind} list")
    return names


def parse_directive(body: str, where: str, kind: str = "python") -> dict[str, Any]:
    """The options of ``<!-- doctest: BODY -->`` as keyword arguments of :class:`Block`.

    ``kind`` is the block's (:func:`_block_kind`): ``python`` blocks take ``setup``, ``check``
    and ``skip``; ``console`` blocks take :data:`CONSOLE_OPTIONS`; other blocks only ``file``.
    """
    try:
        words = shlex.split(body)
    except ValueError as exc:
        raise DocTestError(f"{where}: malformed doctest directive: {exc}") from None
    if not words:
        raise DocTestError(f"{where}: empty doctest directive")
    options: dict[str, Any] = {}
    skip = False
    for word in words:
        key, eq, value = word.partition("=")
        if kind == "file":
            if key == "file" and eq and value.strip() and "/" not in value:
                options["file"] = value.strip()
                continue
            raise DocTestError(
                f"{where}: unknown doctest option {word!r} for a non-Python, non-console "
                "block (use file=NAME)"
            )
        if key == "skip" and not eq:
            skip = True
        elif key == "reason" and eq and value.strip():
            options["skip"] = value.strip()
        elif key == "setup" and eq:
            known = SETUPS if kind == "python" else CONSOLE_SETUPS
            options["setups"] = _names(value, known, f"{kind} setup", where)
        elif key == "check" and eq and kind == "python":
            options["checks"] = _names(value, CHECKS, "check", where)
        elif key == "requires" and eq and kind == "console":
            options["requires"] = tuple(p.strip() for p in value.split(",") if p.strip())
        elif key == "interrupt" and not eq and kind == "console":
            options["interrupt"] = True
        else:
            usage = (
                'setup=NAME, check=NAME or skip reason="..."'
                if kind == "python"
                else "; ".join(CONSOLE_OPTIONS.values())
            )
            raise DocTestError(f"{where}: unknown doctest option {word!r} (use {usage})")
    if skip != ("skip" in options):
        raise DocTestError(f'{where}: a doctest skip needs a reason ("skip reason=...") and back')
    if skip and set(options) - {"skip"}:
        raise DocTestError(f"{where}: a skipped block takes no other option")
    return options


def parse_markdown(text: str, path: str, languages: Iterable[str] = _PYTHON) -> list[Block]:
    """Every block of ``text`` in ``languages``, each with the directive just before it.

    Directives before blocks of other languages are checked too (for their kind of block).
    """
    wanted = {lang.lower() for lang in languages}
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: tuple[int, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        fence = _FENCE.match(line)
        if _ANY_DIRECTIVE.match(line) and not directive:
            raise DocTestError(
                f"{path}:{i + 1}: write a doctest directive on one line, as "
                "<!-- doctest: OPTIONS -->"
            )
        if directive:
            if pending is not None:
                raise DocTestError(f"{path}:{pending[0]}: doctest directive without its block")
            pending = (i + 1, directive["body"])
        elif fence:
            indent, mark = fence["indent"], fence["fence"]
            close = re.compile(rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
            end = i + 1
            while end < len(lines) and not close.match(lines[end]):
                end += 1
            if end == len(lines):
                raise DocTestError(f"{path}:{i + 1}: unclosed code block")
            info = fence["info"].lower()
            options = (
                parse_directive(pending[1], f"{path}:{pending[0]}", _block_kind(info))
                if pending is not None
                else {}
            )
            if info in wanted:
                body = [
                    ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : end]
                ]
                blocks.append(Block(path, i + 1, "\n".join(body) + "\n", lang=info, **options))
            pending = None
            i = end
        elif line.strip() and pending is not None:
            raise DocTestError(f"{path}:{pending[0]}: doctest directive without its block")
        i += 1
    if pending is not None:
        raise DocTestError(f"{path}:{pending[0]}: doctest directive without its block")
    return blocks


def collect() -> list[Block]:
    """The blocks of README.md and docs/*.md."""
    return [
        block
        for doc in DOCS
        for block in parse_markdown(
            doc.read_text(encoding="utf-8"), doc.relative_to(REPO).as_posix()
        )
    ]


BLOCKS = collect()


def expected_output(source: str) -> list[str]:
    """The trailing comments of one-line ``print(...)`` statements, in order (not ``...``)."""
    comments = {
        tok.start[0]: (tok.start[1], tok.string[1:].strip())
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    expected = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "print"
            and node.lineno == node.end_lineno
        ):
            continue
        col, text = comments.get(node.lineno, (-1, ""))
        if col > (node.end_col_offset or 0) and text and "..." not in text:
            expected.append((node.lineno, text))
    return [text for _, text in sorted(expected)]


def check_output(block: Block, stdout: str) -> None:
    """Fail unless every expected line was printed, in order."""
    printed = [line.rstrip() for line in stdout.splitlines()]
    at = 0
    for want in expected_output(block.source):
        if want not in printed[at:]:
            pytest.fail(
                f"{block.id}: a comment says the block prints {want!r} (after the lines "
                f"matched so far), but it printed:\n{stdout}",
                pytrace=False,
            )
        at = printed.index(want, at) + 1


# ------------------------------------------------------------------ running one block


async def _run(block: Block, namespace: dict[str, Any]) -> None:
    ctx = Context(block, block.source, namespace)
    async with AsyncExitStack() as stack:
        for name in block.setups:
            await stack.enter_async_context(SETUPS[name](ctx))
        code = block.compile(ctx.source)
        if code.co_flags & inspect.CO_COROUTINE:
            await eval(code, namespace)
        else:
            await asyncio.to_thread(exec, code, namespace)
        for name in block.checks:
            await asyncio.to_thread(CHECKS[name], namespace)


def run_block(block: Block) -> None:
    """Run ``block`` in this process (the child), in the current directory."""
    if "hypothesis" in block.source or "bassline.testing" in block.source:
        from hypothesis import HealthCheck, settings

        # No deadline (no timing assertions) and no example database left behind.
        settings.register_profile(
            "docs", deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
        )
        settings.load_profile("docs")
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    asyncio.run(_run(block, module.__dict__))


def _child(argv: list[str]) -> None:
    path, line = argv[0], int(argv[1])
    (block,) = [b for b in BLOCKS if b.path == path and b.line == line]
    run_block(block)


# ------------------------------------------------------------------ the tests


def _param(block: Block) -> Any:
    postgres = any(s in POSTGRES_SETUPS for s in block.setups)
    return pytest.param(block, id=block.id, marks=[pytest.mark.postgres] if postgres else [])


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_docs_example(block: Block, tmp_path: Path) -> None:
    """The block compiles, runs without error and prints what its comments say."""
    block.compile()
    if block.skip is not None:
        pytest.skip(f"{block.id}: {block.skip} (compiled only)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if any(s in POSTGRES_SETUPS for s in block.setups):
        from tests.postgres_support import require_postgres_url

        env["BASSLINE_TEST_POSTGRES_URL"] = require_postgres_url()
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.test_docs_examples", block.path, str(block.line)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{block.id} failed (exit {proc.returncode}):\n{proc.stderr}\n--- stdout:\n{proc.stdout}",
            pytrace=False,
        )
    check_output(block, proc.stdout)


def test_every_python_block_is_found() -> None:
    """The parser finds as many blocks as there are ```python fences (a cross-check)."""
    for doc in DOCS:
        fences = sum(
            1
            for line in doc.read_text(encoding="utf-8").splitlines()
            if line.startswith("```python")
        )
        found = [b for b in BLOCKS if b.path == doc.relative_to(REPO).as_posix()]
        assert len(found) == fences, doc
    assert any(b.path == "README.md" for b in BLOCKS)


def test_directives() -> None:
    """Directives attach to the next block; malformed ones are errors, not silently ignored."""
    text = (
        "Intro.\n\n"
        "<!-- doctest: setup=storage_memory check=run_tests -->\n"
        "```python\nx = 1\n```\n\n"
        '<!-- doctest: skip reason="needs a production host" -->\n\n'
        "```python\ny = 2\n```\n\n"
        "```console\n$ bassline run\n```\n\n"
        "- a list\n\n    ```python\n    z = 3\n    ```\n"
    )
    first, second, third = parse_markdown(text, "x.md")
    assert (first.line, first.source, first.setups, first.checks) == (
        4,
        "x = 1\n",
        ("storage_memory",),
        ("run_tests",),
    )
    assert (second.line, second.skip, second.setups) == (10, "needs a production host", ())
    assert (third.line, third.source, third.skip) == (20, "z = 3\n", None)
    for bad in [
        "<!-- doctest: setup=nope -->\n```python\n```\n",
        "<!-- doctest: skip -->\n```python\n```\n",
        '<!-- doctest: reason="why" -->\n```python\n```\n',
        '<!-- doctest: skip reason="x" setup=postgres -->\n```python\n```\n',
        "<!-- doctest: frobnicate -->\n```python\n```\n",
        "<!-- doctest: setup=postgres -->\nSome text.\n\n```python\n```\n",
        "<!-- doctest: setup=postgres -->\n```console\n$ ls\n```\n",
        "<!-- doctest: setup=postgres -->\n",
        "```python\nx = 1\n",
        "<!-- doctest: setup=postgres\n-->\n```python\n```\n",
        "<!-- doctest setup=postgres -->\n```python\n```\n",
    ]:
        with pytest.raises(DocTestError):
            parse_markdown(bad, "bad.md")


def test_expected_output() -> None:
    """Only trailing comments of one-line prints count, and not schematic ones."""
    source = (
        "print(1)  # 1\n"
        "x = 2  # not a print\n"
        "# a comment line\n"
        "print(x)\n"
        "print(f'{x}')  # 2\n"
        "print(x, x)  # Stats(calls=..., ...)\n"
        "async with a:\n"
        "    print(await b)  # 3\n"
    )
    assert expected_output(source) == ["1", "2", "3"]


if __name__ == "__main__":
    _child(sys.argv[1:])
