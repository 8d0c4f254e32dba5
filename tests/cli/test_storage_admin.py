"""``bassline storage migrate|check|copy`` against real file and PostgreSQL storage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import psycopg
import pytest
from bassline_storage_postgres import head_revision
from psycopg import sql

from bassline.clock import LOGICAL_BITS, Stamp
from bassline.codec import encode
from bassline.storage import ContentRecord, open_storage
from bassline.storage.toolkit import NormalisedBatch, StorageBackend

from .conftest import EXAMPLES, Cli

CALC = str(EXAMPLES / "calculator.json")
MEETING = str(EXAMPLES / "meeting.json")


def _seed(cli: Cli, url: str) -> None:
    assert cli("run", CALC, "--set", "input-a=5", "--storage", url).returncode == 0
    assert cli("run", MEETING, "--set", 'alice=["tue"]', "--storage", url).returncode == 0


# ---------------------------------------------------------------------------- migrate


@pytest.mark.postgres
def test_migrate_creates_the_schema_and_is_idempotent(cli: Cli, pg_fresh_url: str) -> None:
    before = cli("run", CALC, "--storage", pg_fresh_url)
    assert before.returncode == 1 and "bassline storage migrate" in before.stderr
    done = cli("storage", "migrate", pg_fresh_url)
    assert done.returncode == 0, done.stderr
    assert f"schema at revision {head_revision()}" in done.stdout
    again = cli("storage", "migrate", pg_fresh_url, "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["migrations"] is True and data["revision"] == head_revision()
    assert data["backend"] == "bassline_storage_postgres"
    assert cli("run", CALC, "--storage", pg_fresh_url).returncode == 0


def test_migrate_on_backends_without_migrations_says_so(cli: Cli, store_a: str) -> None:
    for url, backend in (
        ("memory://", "bassline_storage_memory"),
        (store_a, "bassline_storage_fs"),
    ):
        done = cli("storage", "migrate", url)
        assert done.returncode == 0, done.stderr
        assert f"the {backend} backend has no schema to migrate; nothing to do" in done.stdout


@pytest.mark.postgres
def test_migrate_errors_are_one_line(cli: Cli) -> None:
    down = cli("storage", "migrate", "postgresql://postgres:pw@127.0.0.1:1/test?connect_timeout=2")
    assert down.returncode == 1
    assert "cannot migrate" in down.stderr and "pw@" not in down.stderr
    bad = cli("storage", "migrate", "postgresql://postgres@127.0.0.1/test?pool_size=lots")
    assert bad.returncode == 1 and "pool_size" in bad.stderr
    for done in (down, bad):
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.postgres
def test_a_damaged_schema_version_record_is_one_clear_error_and_stamp_mends_it(
    cli: Cli, pg_url: str, pg_admin: psycopg.Connection[tuple[object, ...]], pg_schema: str
) -> None:
    _seed(cli, pg_url)
    pg_admin.execute(
        sql.SQL("INSERT INTO {}.bassline_schema_version VALUES ('0001')").format(
            sql.Identifier(pg_schema)
        )
    )
    head = head_revision()
    for command in (("export", pg_url, "calculator"), ("storage", "migrate", pg_url)):
        done = cli(*command)
        assert done.returncode == 1, done.stdout
        assert "internal error" not in done.stderr and "CommandError" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert f"bassline_schema_version holds 2 rows (0001, {head})" in done.stderr
        assert f"run `bassline storage migrate {pg_url} --stamp {head}` to record it" in (
            done.stderr
        )
    wrong = cli("storage", "migrate", pg_url, "--stamp", "0002")
    assert wrong.returncode == 1 and "would make the record wrong" in wrong.stderr
    mended = cli("storage", "migrate", pg_url, "--stamp", head)
    assert mended.returncode == 0, mended.stderr
    assert mended.stdout.strip() == (
        f"{pg_url}: recorded schema revision {head} (no other table changed)"
    )
    assert cli("export", pg_url, "calculator").returncode == 0
    memory = cli("storage", "migrate", "memory://", "--stamp", head)
    assert memory.returncode == 1
    assert "the bassline_storage_memory backend keeps no schema revision" in memory.stderr


# ---------------------------------------------------------------------------- check


@pytest.mark.parametrize(
    "command",
    [
        ("storage", "check", "{url}"),
        ("export", "{url}", "calculator"),
        ("snapshot", "{url}", "calculator", "--list"),
        ("storage", "copy", "{url}", "memory://"),
    ],
    ids=["check", "export", "snapshot-list", "copy-from"],
)
def test_commands_that_only_read_never_create_a_store(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A typo in the path must be an error, not a new empty store that reads as "no networks"."""
    missing = tmp_path / "no-such-store"
    url = f"file://{missing}"
    done = cli(*(part.format(url=url) for part in command))
    assert done.returncode == 1, done.stdout
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    # the backend's own words: no option the user did not write, and what to do
    assert "create=false" not in done.stderr and "read_only=true" not in done.stderr
    assert "check the path" in done.stderr
    assert not missing.exists()


def test_a_write_to_a_store_opened_read_only_says_why_not_what_to_check(
    cli: Cli, store_a: str
) -> None:
    """The generic advice for a PERMISSION error was added: "...: nothing is written;
    check the credentials and the permissions on the store", where read_only=true in the
    URL was the reason."""
    _seed(cli, store_a)
    url = f"{store_a}?read_only=true"
    done = cli("snapshot", url, "calculator")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: taking a snapshot of 'calculator' in {url} failed: permission: storage "
        f"{url} is open read-only (read_only=true): nothing is written; use its URL without "
        "read_only=true to write"
    )


def test_check_reports_a_healthy_store(cli: Cli, store_a: str) -> None:
    _seed(cli, store_a)
    assert cli("snapshot", store_a, "calculator").returncode == 0
    done = cli("storage", "check", store_a, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["health"] == "ok"
    assert [(n["network"], n["contents"], n["snapshots"]) for n in report["networks"]] == [
        ("calculator", 6, 1),
        ("meeting", 6, 0),
    ]
    table = cli("storage", "check", store_a)
    assert table.returncode == 0 and "calculator" in table.stdout and "ok" in table.stdout
    empty = cli("storage", "check", "memory://")
    assert empty.returncode == 0 and "no networks stored" in empty.stdout


@pytest.mark.parametrize("as_json", [False, True])
def test_check_of_a_network_not_stored_says_what_is_stored(
    cli: Cli, store_a: str, as_json: bool
) -> None:
    """``--network`` with a name the store does not hold (a typo) was reported as an
    integrity problem ("spec does not load: network-not-found"), with the advice to
    repair or restore the store from an export; export, copy and snapshot say what is
    stored instead."""
    _seed(cli, store_a)
    done = cli("storage", "check", store_a, "--network", "calculatr", *(["--json"] * as_json))
    assert (done.returncode, done.stdout) == (1, ""), done.stdout
    assert done.stderr == (
        f"error: no network 'calculatr' in {store_a}; stored networks: calculator, meeting\n"
    )


@pytest.mark.parametrize("as_json", [False, True])
def test_check_and_copy_take_a_network_named_twice_once(
    cli: Cli, store_a: str, store_b: str, as_json: bool
) -> None:
    """``--network X --network X`` listed X twice in the check's report, and made
    ``storage copy`` copy X, then refuse it as already existing (exit 1 after writing)."""
    _seed(cli, store_a)
    twice = ("--network", "calculator", "-n", "calculator", *(["--json"] * as_json))
    checked = cli("storage", "check", store_a, *twice)
    assert checked.returncode == 0, checked.stderr
    if as_json:
        names = [n["network"] for n in json.loads(checked.stdout)["networks"]]
        assert names == ["calculator"]
    else:
        assert checked.stdout.count("calculator") == 1, checked.stdout
    copied = cli("storage", "copy", store_a, store_b, *twice)
    assert (copied.returncode, copied.stderr) == (0, "")
    if as_json:
        assert [n["network"] for n in json.loads(copied.stdout)["networks"]] == ["calculator"]
    else:
        assert copied.stdout.count("copied network 'calculator'") == 1, copied.stdout


def test_check_finds_every_kind_of_problem(cli: Cli, store_a: str) -> None:
    _seed(cli, store_a)
    now_ms = time.time_ns() // 1_000_000
    now, future = now_ms << LOGICAL_BITS, (now_ms + 3_600_000) << LOGICAL_BITS

    async def damage() -> None:
        async with open_storage(store_a) as storage:
            result = await storage.write(
                [
                    ContentRecord("calculator", "root", "ghost", 1, Stamp(5, "x")),
                    ContentRecord("calculator", "add-gadget", "input-b", 2, Stamp(6, "x")),
                    ContentRecord("calculator", "root", "result", 3, Stamp(future, "x")),
                    ContentRecord("meeting", "root", "day", "not a set", Stamp(now, "x")),
                ]
            )
            assert result.unwrap().contents == 4
            # what an earlier version stored: writes now refuse a stamp no peer would take,
            # so it goes in through the backend's own hook, past the shared checks
            bad = ContentRecord("calculator", "root", "input-a", 4, Stamp(now, "a\tb"))
            assert isinstance(storage, StorageBackend)
            stored = await storage.do_write(NormalisedBatch((), (), (), (bad,), (encode(4),)))
            assert stored.unwrap().contents == 1

    anyio.run(damage)
    done = cli("storage", "check", store_a)
    assert done.returncode == 1
    assert "5 integrity problems" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "calculator: contact 'ghost' is not in the spec" in done.stdout
    assert (
        "contact 'input-b' is stored under group 'add-gadget', but the spec puts it in 'root'"
        in done.stdout
    )
    assert "contact 'result': stamp" in done.stdout and "in the future" in done.stdout
    assert (  # every peer refuses a delta that carries such a stamp
        f"contact 'input-a': stamp {now} names node 'a\\tb', which is no node id" in done.stdout
    )
    assert "meeting: contact 'day':" in done.stdout
    assert "4 problems" in done.stdout and "1 problem " in done.stdout  # meeting: singular
    assert "1 problems" not in done.stdout
    report = json.loads(cli("storage", "check", store_a, "--json", "-n", "meeting").stdout)
    assert report["ok"] is False and len(report["networks"]) == 1
    assert report["networks"][0]["problems"][0].startswith("contact 'day'")
    assert "contact 'day': contact 'day'" not in done.stdout  # named once


@pytest.mark.postgres
def test_check_finds_undecodable_postgres_contents(
    cli: Cli, pg_url: str, pg_admin: psycopg.Connection[tuple[object, ...]], pg_schema: str
) -> None:
    _seed(cli, pg_url)
    assert cli("storage", "check", pg_url).returncode == 0
    pg_admin.execute(
        sql.SQL(
            """UPDATE {}.bassline_contacts SET content = '{{"$type": "bogus", "value": 1}}'
            WHERE network_id = 'calculator' AND contact_id = 'input-a'"""
        ).format(sql.Identifier(pg_schema))
    )
    pg_admin.execute(
        sql.SQL(
            "UPDATE {}.bassline_contacts SET stamp_hlc = -5 WHERE network_id = 'meeting' "
            "AND contact_id = 'alice'"
        ).format(sql.Identifier(pg_schema))
    )
    done = cli("storage", "check", pg_url, "--json")
    assert done.returncode == 1
    networks = {n["network"]: n for n in json.loads(done.stdout)["networks"]}
    assert any(
        "contents do not load" in p and "bogus" in p for p in networks["calculator"]["problems"]
    )
    assert any("alice" in p for p in networks["meeting"]["problems"])


@pytest.mark.postgres
def test_stored_content_this_version_refuses_is_named_by_check_export_and_run(
    cli: Cli, pg_url: str, pg_admin: psycopg.Connection[tuple[object, ...]], pg_schema: str
) -> None:
    """An empty interval an earlier version stored on an accept-last contact: each command
    names the contact once and points at `storage check` (none blames the clock)."""
    _seed(cli, pg_url)
    pg_admin.execute(
        sql.SQL(
            """UPDATE {}.bassline_contacts SET content = '{{"$type": "interval", "value": [3, 1]}}'
            WHERE network_id = 'calculator' AND contact_id = 'input-a'"""
        ).format(sql.Identifier(pg_schema))
    )
    empty = "contact 'input-a': the interval [3, 1] is empty (lo > hi)"
    checked = cli("storage", "check", pg_url, "-n", "calculator")
    assert checked.returncode == 1 and f"calculator: {empty}" in checked.stdout
    exported = cli("export", pg_url, "calculator")
    assert exported.returncode == 1 and exported.stderr.startswith(f"error: {empty}")
    assert "storage check" in exported.stderr and "Traceback" not in exported.stderr
    ran = cli("run", CALC, "--storage", pg_url)
    assert ran.returncode == 1 and empty in ran.stderr and "storage check" in ran.stderr
    assert "clock" not in ran.stderr


# ---------------------------------------------------------------------------- damage


def _store_dir(url: str) -> Path:
    return Path(url.removeprefix("file://"))


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def _tear(url: str, cut: int = 5) -> int:
    """Cut ``cut`` bytes from the end of the store's log (a torn last batch); its new size."""
    log = _store_dir(url) / "log"
    data = log.read_bytes()
    log.write_bytes(data[:-cut])
    return len(data) - cut


def _flip(url: str, position: int) -> None:
    log = _store_dir(url) / "log"
    data = bytearray(log.read_bytes())
    data[position] ^= 0x01
    log.write_bytes(bytes(data))


def test_check_never_changes_a_torn_store_and_fails_saying_what_it_found(
    cli: Cli, store_a: str
) -> None:
    _seed(cli, store_a)
    size = _tear(store_a)
    before = _tree(_store_dir(store_a))
    done = cli("storage", "check", store_a)
    assert done.returncode == 1, done.stdout
    assert "found a torn tail in the log, NOT cut (opened read-only)" in done.stdout
    assert "1 unfinished batch, never acknowledged" in done.stdout
    assert "1 integrity problem" in done.stderr
    as_json = cli("storage", "check", store_a, "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["ok"] is False
    assert _tree(_store_dir(store_a)) == before, "storage check changed the store"
    assert (_store_dir(store_a) / "log").stat().st_size == size


@pytest.mark.parametrize("command", ["export", "run"])
def test_a_command_that_cuts_a_torn_tail_says_what_it_cut(
    cli: Cli, store_a: str, command: str
) -> None:
    _seed(cli, store_a)
    size = _tear(store_a)
    if command == "export":
        done = cli("export", store_a, "meeting")
    else:
        done = cli("run", MEETING, "--storage", store_a)
    assert done.returncode == 0, done.stderr
    (warning,) = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    committed = (_store_dir(store_a) / "log").stat().st_size
    assert f"cut a torn tail from the log: {size - committed} bytes at offset {committed}" in (
        warning
    )
    assert "1 unfinished batch, never acknowledged, with" in warning and "content" in warning


def test_check_reports_a_store_too_damaged_to_open(cli: Cli, store_a: str) -> None:
    _seed(cli, store_a)
    _flip(store_a, 200)  # early in the log: committed batches follow
    before = _tree(_store_dir(store_a))
    done = cli("storage", "check", store_a)
    assert done.returncode == 1
    assert done.stdout.startswith("damage: log ") and "committed batches follow it" in done.stdout
    assert f"bassline storage repair {store_a}" in done.stdout
    assert done.stderr.strip() == (
        f"error: {store_a} is damaged and does not open (see above for what to do)"
    )
    report = json.loads(cli("storage", "check", store_a, "--json").stdout)
    assert report["ok"] is False and "committed batches follow it" in report["damage"]
    (_store_dir(store_a) / "log").unlink()
    missing = cli("storage", "check", store_a)
    assert missing.returncode == 1 and "has no log file" in missing.stdout
    assert _tree(_store_dir(store_a)) == {k: v for k, v in before.items() if k != "log"}


def test_reading_never_repairs_and_repair_keeps_what_it_discards(cli: Cli, store_a: str) -> None:
    _seed(cli, store_a)
    _flip(store_a, 200)
    before = _tree(_store_dir(store_a))
    refused = cli("export", f"{store_a}?repair=true", "calculator")
    assert refused.returncode == 1
    assert "the repair option is gone" in refused.stderr
    assert f"bassline storage repair {store_a} --dry-run" in refused.stderr
    assert cli("export", store_a, "calculator").returncode == 1
    dry = cli("storage", "repair", store_a, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"{store_a} (dry run, nothing changed): the log is damaged")
    assert "would discard" in dry.stdout and "committed batches (acknowledged writes)" in dry.stdout
    assert _tree(_store_dir(store_a)) == before, "a dry run changed the store"

    done = cli("storage", "repair", store_a, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["needed"] and not report["dry_run"] and report["committed_batches"] >= 2
    saved = Path(report["saved_to"])
    log = before["log"]
    assert log is not None and saved.read_bytes() == log[report["offset"] :]
    assert (_store_dir(store_a) / "log").read_bytes() == log[: report["offset"]]
    check = cli("storage", "check", store_a)
    assert check.returncode == 0, check.stdout + check.stderr
    again = cli("storage", "repair", store_a)
    assert again.returncode == 0 and "the log is intact: nothing to repair" in again.stdout


def test_repair_on_backends_without_a_log_and_on_a_store_in_use(cli: Cli, store_a: str) -> None:
    done = cli("storage", "repair", "memory://")
    assert done.returncode == 0
    assert "the bassline_storage_memory backend keeps no log of its own" in done.stdout
    _seed(cli, store_a)

    async def hold() -> str:
        async with open_storage(store_a):
            return cli("storage", "repair", store_a).stderr

    refused = anyio.run(hold)
    assert "cannot repair" in refused and "conflict: store directory" in refused
    assert "is locked" in refused and len(refused.strip().splitlines()) == 1


# ---------------------------------------------------------------------------- copy


def _copies(cli: Cli, src: str, dst: str) -> None:
    _seed(cli, src)
    done = cli("storage", "copy", src, dst, "--batch-size", "3", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["networks"] == [
        {"network": "calculator", "contents": 6, "verified": True},
        {"network": "meeting", "contents": 6, "verified": True},
    ]
    for network in ("calculator", "meeting"):
        assert cli("export", dst, network).stdout == cli("export", src, network).stdout


def test_copy_between_file_stores_and_verify(cli: Cli, store_a: str, store_b: str) -> None:
    _copies(cli, store_a, store_b)


@pytest.mark.postgres
def test_copy_file_to_postgres_and_back(cli: Cli, store_a: str, store_b: str, pg_url: str) -> None:
    _copies(cli, store_a, pg_url)
    back = cli("storage", "copy", pg_url, store_b, "--network", "meeting")
    assert back.returncode == 0, back.stderr
    assert "copied network 'meeting' (6 contents)" in back.stdout and "verified" in back.stdout
    assert cli("export", store_b, "meeting").stdout == cli("export", store_a, "meeting").stdout
    assert cli("storage", "check", store_b, "--json").returncode == 0


def test_copy_refuses_to_overwrite_and_the_same_store(cli: Cli, store_a: str, store_b: str) -> None:
    _seed(cli, store_a)
    assert cli("storage", "copy", store_a, store_b, "-n", "calculator").returncode == 0
    refused = cli("storage", "copy", store_a, store_b)
    assert refused.returncode == 1
    assert (
        "network 'calculator' already exists" in refused.stderr and "--overwrite" in refused.stderr
    )
    listed = json.loads(cli("storage", "check", store_b, "--json").stdout)
    assert [n["network"] for n in listed["networks"]] == ["calculator"]  # nothing half-copied
    assert cli("run", CALC, "--set", "input-b=0", "--storage", store_b).returncode == 0
    forced = cli("storage", "copy", store_a, store_b, "--overwrite")
    assert forced.returncode == 0, forced.stderr
    assert (
        cli("export", store_b, "calculator").stdout == cli("export", store_a, "calculator").stdout
    )
    same = cli("storage", "copy", store_a, store_a)
    assert same.returncode == 1 and "the same storage" in same.stderr
    missing = cli("storage", "copy", store_a, store_b, "-n", "nope", "--overwrite")
    assert missing.returncode == 1 and "no network 'nope'" in missing.stderr


@pytest.mark.postgres
def test_copy_refuses_one_store_under_two_urls(cli: Cli, pg_url: str) -> None:
    """Only equal URL strings were refused: the same database reached as ``localhost``
    and as ``127.0.0.1`` was copied onto itself, and ``--overwrite`` deleted its
    snapshots."""
    _seed(cli, pg_url)
    assert cli("snapshot", pg_url, "calculator", "--label", "keep").returncode == 0
    host = "localhost" if "127.0.0.1" in pg_url else "127.0.0.1"
    other = pg_url.replace("@127.0.0.1", f"@{host}").replace("@localhost", f"@{host}")
    assert other != pg_url
    done = cli("storage", "copy", pg_url, other, "--overwrite")
    assert (done.returncode, done.stdout) == (1, ""), done.stdout
    assert done.stderr == (
        f"error: source and destination are the same storage ({pg_url} and {other} open "
        "one store)\n"
    )
    listed = json.loads(cli("snapshot", pg_url, "calculator", "--list", "--json").stdout)
    assert [s["label"] for s in listed] == ["keep"]


def test_copy_refuses_one_file_store_under_other_spellings(
    cli: Cli, store_a: str, tmp_path: Path
) -> None:
    """A file store under another spelling was opened a second time and refused as
    "locked" (by this very process): it is the same store, and the message says so."""
    _seed(cli, store_a)
    (tmp_path / "link").symlink_to(tmp_path / "store-a")
    (tmp_path / "sub").mkdir()
    for other in (
        f"{store_a}/",
        (tmp_path / "link").as_uri(),
        (tmp_path / "sub").as_uri() + "/../store-a",
        store_a.replace("file://", "file://localhost"),
    ):
        done = cli("storage", "copy", store_a, other, "--overwrite")
        assert (done.returncode, done.stdout) == (1, ""), (other, done.stdout)
        assert done.stderr == (
            f"error: source and destination are the same storage ({store_a} and {other} "
            f"open one store, {tmp_path.resolve() / 'store-a'})\n"
        ), other
    listed = json.loads(cli("storage", "check", store_a, "--json").stdout)
    assert [n["network"] for n in listed["networks"]] == ["calculator", "meeting"]


def test_copy_refuses_one_memory_store_under_two_names(cli: Cli) -> None:
    done = cli("storage", "copy", "memory://two words", "memory://two%20words", "--overwrite")
    assert done.returncode == 1 and "are the same storage" in done.stderr, done.stderr


def test_copy_from_an_empty_source_creates_no_destination(cli: Cli, tmp_path: Path) -> None:
    """A copy from ``memory://`` (empty whenever a command starts) made an empty file store
    at the destination while saying nothing was copied."""
    dst = tmp_path / "never"
    done = cli("storage", "copy", "memory://", dst.as_uri())
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "no networks in memory:// (memory:// is private to one process: empty when a "
        "command starts); nothing copied\n"
    )
    assert not dst.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("run", CALC, "--storage", empty.as_uri()).returncode == 0
    assert cli("storage", "copy", empty.as_uri(), dst.as_uri(), "-n", "x").returncode == 1
    assert not dst.exists()


def test_storage_help_lists_its_commands(cli: Cli) -> None:
    done = cli("storage", "--help")
    assert done.returncode == 0
    for command in ("migrate", "check", "repair", "copy"):
        assert command in done.stdout
    bare = cli("storage")
    assert "migrate" in bare.stdout + bare.stderr
