"""``bassline export``, ``import`` and ``snapshot`` against real file and PostgreSQL storage."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import anyio
import psycopg
import pytest
from psycopg import sql

from bassline.cli.exchange import FORMAT, FORMAT_VERSION
from bassline.cli.progress import PhaseEvent, add_listener
from bassline.runtime import StorageBackedRuntime
from bassline.spec import load_spec
from bassline.storage import open_storage

from .conftest import EXAMPLES, Cli, cli_env

MEETING = str(EXAMPLES / "meeting.json")
CALC = str(EXAMPLES / "calculator.json")


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _seed(cli: Cli, url: str) -> None:
    """Two networks: the meeting (lattice values) and the calculator with a write."""
    done = cli("run", MEETING, "--set", 'alice=["tue", "wed"]', "--storage", url)
    assert done.returncode == 0, done.stderr
    done = cli("run", CALC, "--set", "input-a=5", "--storage", url)
    assert done.returncode == 0, done.stderr


def test_export_is_one_canonical_versioned_document(cli: Cli, store_a: str, tmp_path: Path) -> None:
    _seed(cli, store_a)
    done = cli("export", store_a, "meeting")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert done.stdout == _canonical(doc) + "\n"
    assert doc["format"] == FORMAT == "bassline-export" and doc["format_version"] == FORMAT_VERSION
    assert doc["network"] == "meeting" and doc["snapshot"] is None
    assert doc["spec"]["id"] == "meeting" and len(doc["spec_hash"]) == 64
    contacts = [c["contact"] for c in doc["contents"]]
    assert contacts == sorted(contacts) and "day" in contacts
    alice = next(c for c in doc["contents"] if c["contact"] == "alice")
    assert alice["value"] == {"$type": "shrink-set", "value": ["tue", "wed"]}
    assert alice["group"] == "root" and isinstance(alice["stamp"][0], int)
    assert cli("export", store_a, "meeting").stdout == done.stdout  # same state, same bytes
    target = tmp_path / "meeting.json"
    to_file = cli("export", store_a, "meeting", "-o", str(target))
    assert to_file.returncode == 0 and "2" not in to_file.stderr
    assert target.read_text() == done.stdout and "exported network 'meeting'" in to_file.stdout


def _round_trip(cli: Cli, src: str, dst: str, tmp_path: Path) -> None:
    _seed(cli, src)
    exported = tmp_path / "calc.export.json"
    assert cli("export", src, "calculator", "-o", str(exported)).returncode == 0
    done = cli("import", dst, str(exported), "--json", "--batch-size", "4")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == {
        "network": "calculator",
        "storage": report["storage"],
        "contents": 6,
        "batches": 2,
        "spec_hash": json.loads(exported.read_text())["spec_hash"],
        "verified": True,
    }
    again = cli("export", dst, "calculator")
    assert again.stdout == exported.read_text()  # specs, values and stamps all came across
    ran = cli("run", CALC, "--storage", dst, "--json")
    assert json.loads(ran.stdout)["contacts"]["result"] == 25


def test_import_into_file_storage_round_trips_with_stamps(
    cli: Cli, store_a: str, store_b: str, tmp_path: Path
) -> None:
    _round_trip(cli, store_a, store_b, tmp_path)


@pytest.mark.postgres
def test_import_into_postgres_round_trips_with_stamps(
    cli: Cli, store_a: str, pg_url: str, tmp_path: Path
) -> None:
    _round_trip(cli, store_a, pg_url, tmp_path)


def test_import_refuses_existing_networks_unless_overwrite(
    cli: Cli, store_a: str, store_b: str
) -> None:
    _seed(cli, store_a)
    exported = cli("export", store_a, "meeting").stdout
    assert cli("import", store_b, "-", input=exported).returncode == 0
    refused = cli("import", store_b, "-", input=exported)
    assert refused.returncode == 1
    assert "already exists" in refused.stderr and "--overwrite" in refused.stderr
    assert cli("run", MEETING, "--set", 'bob=["wed"]', "--storage", store_b).returncode == 0
    assert cli("export", store_b, "meeting").stdout != exported
    replaced = cli("import", store_b, "-", "--overwrite", input=exported)
    assert replaced.returncode == 0, replaced.stderr
    assert "imported network 'meeting' (6 contents in 1 batch)" in replaced.stdout
    assert cli("export", store_b, "meeting").stdout == exported


def test_import_with_its_arguments_swapped_says_so(
    cli: Cli, store_a: str, store_b: str, tmp_path: Path
) -> None:
    """``export URL NETWORK`` then ``import FILE URL``: the URL was read as a file and
    refused as "file not found: file:/..." (the path of the URL, a slash lost)."""
    _seed(cli, store_a)
    document = tmp_path / "calculator.json"
    document.write_text(cli("export", store_a, "calculator").stdout)
    done = cli("import", str(document), store_b)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"error: FILE {store_b.replace('file://', 'file:')!r} is no file but looks like a "
        "storage URL: the arguments are STORAGE_URL, then FILE (bassline import STORAGE_URL "
        "FILE)\n"
    )
    assert cli("import", store_b, str(document)).returncode == 0


def test_import_refuses_bad_files_with_one_line(cli: Cli, store_a: str, tmp_path: Path) -> None:
    _seed(cli, store_a)
    doc = json.loads(cli("export", store_a, "calculator").stdout)
    newer = tmp_path / "v2.json"
    newer.write_text(json.dumps({**doc, "format_version": 2}))
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({**doc, "spec_hash": "0" * 64}))
    stray = tmp_path / "stray.json"
    stray_doc = dict(doc, contents=[*doc["contents"], {**doc["contents"][0], "contact": "ghost"}])
    stray.write_text(json.dumps(stray_doc))
    ahead = tmp_path / "ahead.json"  # once imported, then no runtime could open the store
    ahead_doc = dict(doc, contents=[*doc["contents"][:-1], {**doc["contents"][-1]}])
    ahead_doc["contents"][-1]["stamp"] = [2**62, "fast-clock"]
    ahead.write_text(json.dumps(ahead_doc))
    empty = tmp_path / "empty.json"  # an empty interval: gadgets would compute from it
    empty_doc = dict(doc, contents=[*doc["contents"][:-1], {**doc["contents"][-1]}])
    empty_doc["contents"][-1]["value"] = {"$type": "interval", "value": [3, 1]}
    empty.write_text(json.dumps(empty_doc))
    tabbed = tmp_path / "tabbed.json"  # a node whose deltas every peer would refuse whole
    tabbed_doc = dict(doc, contents=[*doc["contents"][:-1], {**doc["contents"][-1]}])
    tabbed_doc["contents"][-1]["stamp"] = [5, "a\tb"]
    tabbed.write_text(json.dumps(tabbed_doc))
    cases = [
        (tabbed, "contents[5]: stamp node 'a\\tb' is no node id (at most 200 characters"),
        (ahead, "contents[5]: stamp from node 'fast-clock' is "),
        (empty, "contents[5]: the interval [3, 1] is empty (lo > hi)"),
        (newer, "export format version 2 is not supported (this bassline reads version 1)"),
        (Path(CALC), "not a Bassline export"),
        (edited, "spec_hash does not match the spec"),
        (stray, "contents[6].contact 'ghost' is not a contact of the spec"),
        (tmp_path / "missing.json", "file not found"),
    ]
    for path, message in cases:
        done = cli("import", store_a + "-other", str(path))
        assert done.returncode == 1, (path, done.stderr)
        assert message in done.stderr, (path, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        ("snap-1", "snapshot must be null or an object with exactly ['created_at', 'id', 'label']"),
        ([], "snapshot must be null or an object with exactly"),
        ({"id": "snap-1"}, "snapshot must be null or an object with exactly"),
        (
            {"id": "s", "label": None, "created_at": "2026-01-01T00:00:00+00:00", "x": 1},
            "snapshot must be null or an object with exactly",
        ),
        (
            {"id": 5, "label": None, "created_at": "2026-01-01T00:00:00+00:00"},
            "snapshot.id: snapshot id must be a string, got int",
        ),
        (
            {"id": "", "label": None, "created_at": "2026-01-01T00:00:00+00:00"},
            "snapshot.id: snapshot id must not be empty",
        ),
        (
            {"id": "s", "label": ["x"], "created_at": "2026-01-01T00:00:00+00:00"},
            "snapshot.label: snapshot label must be a string or None, got list",
        ),
        (
            {"id": "s", "label": "a\nb", "created_at": "2026-01-01T00:00:00+00:00"},
            "snapshot.label: snapshot label 'a\\nb' contains control character '\\n'",
        ),
        (
            {"id": "s", "label": None, "created_at": "yesterday"},
            "snapshot.created_at must be an ISO 8601 time, got 'yesterday'",
        ),
        (
            {"id": "s", "label": None, "created_at": 1700000000},
            "snapshot.created_at must be an ISO 8601 time, got 1700000000",
        ),
    ],
)
def test_import_refuses_a_malformed_snapshot_field_naming_it(
    cli: Cli, store_a: str, store_b: str, snapshot: object, message: str
) -> None:
    """The ``snapshot`` field was only checked to be an object: any object (no id, an id
    that is a number, a created_at that is no time) was imported without a word."""
    _seed(cli, store_a)
    doc = json.loads(cli("export", store_a, "calculator").stdout)
    done = cli("import", store_b, "-", input=json.dumps({**doc, "snapshot": snapshot}))
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr.startswith("error: -: " + message), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not Path(store_b.removeprefix("file://")).exists()  # nothing written
    fine = {"id": "snap-1", "label": None, "created_at": "2026-01-01T00:00:00+00:00"}
    done = cli("import", store_b, "-", input=json.dumps({**doc, "snapshot": fine}))
    assert done.returncode == 0, done.stderr


def test_import_shows_a_progress_bar_on_a_terminal(cli: Cli, store_a: str, store_b: str) -> None:
    _seed(cli, store_a)
    exported = cli("export", store_a, "calculator").stdout
    done = cli(
        "import",
        store_b,
        "-",
        "--batch-size",
        "1",
        input=exported,
        env=cli_env(FORCE_COLOR="1", TTY_COMPATIBLE="1"),
    )
    assert done.returncode == 0, done.stderr
    assert "importing calculator" in done.stderr


def _phases(cli: Cli, *args: str, input: str | None = None) -> list[tuple[str, int | None]]:
    """Run ``bassline ARGS`` in process; the phases it announced, in order, with totals."""
    events: list[PhaseEvent] = []
    stop = add_listener(events.append)
    try:
        done = cli(*args, input=input)
    finally:
        stop()
    assert done.returncode == 0, done.stderr
    started = [(e.phase, e.total) for e in events if e.kind == "start"]
    ended = [(e.phase, e.total) for e in events if e.kind == "end"]
    assert sorted(started) == sorted(ended), "every phase that starts ends"
    for e in events:  # a bar fills: every unit of work is counted
        assert e.kind == "start" or e.total is None or e.done == e.total, e
    return started


def test_every_phase_of_long_work_is_announced(
    cli: Cli, store_a: str, store_b: str, tmp_path: Path
) -> None:
    _seed(cli, store_a)
    out = tmp_path / "calc.json"
    n = 6  # the calculator's stored contents
    assert _phases(cli, "export", store_a, "calculator", "-o", str(out)) == [
        (f"opening {store_a}", None),
        ("reading the spec of calculator", None),
        ("reading the contents of calculator", None),
        ("encoding the spec of calculator", None),
        ("encoding the contents of calculator", n),
        (f"writing {out}", None),
    ]
    verify = [("reading calculator back", None), ("comparing calculator with the source", 2 * n)]
    imported = [
        (f"reading {out}", None),
        (f"parsing {out}", None),
        ("checking the contents of calculator", n),
        (f"opening {store_b}", None),
        (f"looking for calculator in {store_b}", None),
    ]
    assert _phases(cli, "import", store_b, str(out)) == [
        *imported,
        ("importing calculator", n),
        *verify,
    ]
    assert _phases(cli, "import", store_b, str(out), "--overwrite") == [
        *imported,
        ("deleting the old calculator", None),
        ("importing calculator", n),
        *verify,
    ]
    copied = _phases(cli, "storage", "copy", store_a, store_b, "-n", "calculator", "--overwrite")
    assert copied == [
        (f"opening {store_a}", None),
        (f"listing the networks in {store_a}", None),
        ("reading the spec of calculator", None),
        ("reading the contents of calculator", None),
        (f"opening {store_b}", None),
        ("copying", n),
        (f"looking for calculator in {store_b}", None),
        ("deleting the old calculator", None),
        *verify,
    ]
    assert _phases(cli, "storage", "check", store_b) == [
        (f"opening {store_b}", None),
        (f"checking the health of {store_b}", None),
        (f"listing the networks in {store_b}", None),
        ("checking", 1),
    ]


def _snapshots(cli: Cli, url: str) -> None:
    _seed(cli, url)
    taken = cli("snapshot", url, "calculator", "--label", "before", "--json")
    assert taken.returncode == 0, taken.stderr
    info = json.loads(taken.stdout)
    assert info["label"] == "before" and info["contents"] == 6
    assert cli("run", CALC, "--set", "input-a=500", "--storage", url).returncode == 0
    plain = cli("snapshot", url, "calculator")
    assert plain.returncode == 0 and "snapshot " in plain.stdout
    listed = cli("snapshot", url, "calculator", "--list", "--json")
    ids = [s["id"] for s in json.loads(listed.stdout)]
    assert len(ids) == 2 and info["id"] in ids
    table = cli("snapshot", url, "calculator", "--list")
    assert info["id"] in table.stdout and "before" in table.stdout
    old = cli("export", url, "calculator", "--snapshot", info["id"])
    assert old.returncode == 0, old.stderr
    doc = json.loads(old.stdout)
    assert doc["snapshot"]["id"] == info["id"] and doc["snapshot"]["label"] == "before"
    values = {c["contact"]: c["value"] for c in doc["contents"]}
    assert values["result"] == 25  # as it was, not 520
    unknown = cli("export", url, "calculator", "--snapshot", "nope")
    assert unknown.returncode == 1 and "snapshot-not-found" in unknown.stderr
    missing = cli("snapshot", url, "nope")
    assert missing.returncode == 1
    assert "no network 'nope'" in missing.stderr and "calculator, meeting" in missing.stderr
    both = cli("snapshot", url, "calculator", "--list", "--label", "x")
    assert both.returncode == 2 and "--label" in both.stderr  # a usage error


def test_snapshots_on_file_storage(cli: Cli, store_a: str) -> None:
    _snapshots(cli, store_a)


@pytest.mark.postgres
def test_snapshots_on_postgres(cli: Cli, pg_url: str) -> None:
    _snapshots(cli, pg_url)


def test_snapshot_labels_are_one_line_of_plain_text(cli: Cli, store_a: str) -> None:
    """A label is shown as written, never as Rich markup: '[/x]' made --list an internal
    error (MarkupError) and '[bold]' vanished into styling. A control character (a newline
    that split the listing's row, an escape for the terminal) is refused when taken."""
    _seed(cli, store_a)
    label = "[/x] [bold]kept[/bold] [red]"
    assert cli("snapshot", store_a, "calculator", "--label", label).returncode == 0
    table = cli("snapshot", store_a, "calculator", "--list")
    assert table.returncode == 0, table.stderr
    assert label in table.stdout
    refused = cli("snapshot", store_a, "calculator", "--label", "two\nlines")
    assert refused.returncode == 1
    assert "snapshot label 'two\\nlines' contains control character '\\n'" in refused.stderr
    listed = cli("snapshot", store_a, "calculator", "--list", "--json")
    assert [s["label"] for s in json.loads(listed.stdout)] == [label]


def test_a_snapshot_restores_through_export_and_import(
    cli: Cli, store_a: str, store_b: str
) -> None:
    _seed(cli, store_a)
    snap = json.loads(cli("snapshot", store_a, "calculator", "--json").stdout)
    assert cli("run", CALC, "--set", "input-a=500", "--storage", store_a).returncode == 0
    old = cli("export", store_a, "calculator", "--snapshot", snap["id"]).stdout
    assert cli("import", store_b, "-", input=old).returncode == 0
    ran = cli("run", CALC, "--storage", store_b, "--json")
    assert json.loads(ran.stdout)["contacts"]["result"] == 25


@pytest.mark.postgres
def test_snapshot_asks_only_whether_the_network_exists(
    cli: Cli, pg_url: str, pg_admin: psycopg.Connection[tuple[object, ...]], pg_schema: str
) -> None:
    assert cli("run", CALC, "--set", "input-a=5", "--storage", pg_url).returncode == 0
    pg_admin.execute(  # a content no reader can decode: reading the contents fails
        sql.SQL(
            """UPDATE {}.bassline_contacts SET content = '{{"$type": "bogus", "value": 1}}'
            WHERE network_id = 'calculator' AND contact_id = 'input-a'"""
        ).format(sql.Identifier(pg_schema))
    )
    assert "bogus" in cli("export", pg_url, "calculator").stderr
    done = cli("snapshot", pg_url, "calculator", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["contents"] == 6
    missing = cli("snapshot", pg_url, "nope")
    assert missing.returncode == 1
    assert "no network 'nope' in " in missing.stderr and "stored networks: calculator" in (
        missing.stderr
    )


async def _explained(url: str, contact: str) -> list[tuple[str, object, str, bool]]:
    """Open the stored calculator in a fresh runtime; the premises of ``contact``."""
    async with (
        open_storage(url) as storage,
        StorageBackedRuntime(load_spec(CALC), storage) as runtime,
    ):
        why = runtime.explain(contact)
        return sorted((p.contact, p.value, p.via, p.local) for p in why.premises())


def test_imported_contents_are_explained_as_come_in_via_import(
    cli: Cli, store_a: str, store_b: str, tmp_path: Path
) -> None:
    _seed(cli, store_a)  # input-a=5 written through `bassline run --set`, via cli
    exported = tmp_path / "calc.export.json"
    assert cli("export", store_a, "calculator", "-o", str(exported)).returncode == 0
    done = cli("import", store_b, str(exported))
    assert done.returncode == 0, done.stderr
    # written elsewhere and brought in with their original stamps: import, not local; an
    # export carries no justifications, so every imported content is such a write
    assert anyio.run(_explained, store_b, "input-a") == [("input-a", 5, "import", False)]
    assert anyio.run(_explained, store_b, "result") == [("result", 25, "import", False)]
    # the source store still says how the write came in there
    assert anyio.run(_explained, store_a, "result") == [
        ("input-a", 5, "cli", True),
        ("input-b", 20, "spec", True),
    ]


def test_export_leaves_out_contents_of_contacts_a_replaced_spec_dropped(
    cli: Cli, store_a: str, store_b: str, tmp_path: Path
) -> None:
    """`run --replace-spec` keeps, unused, the contents of contacts the new spec does not
    have; `export` exported them, and `import` refused the export (`contents[0].contact 'a'
    is not a contact of the spec`): the network's backup could not be restored."""
    before = {"id": "two", "contacts": [{"id": "a"}, {"id": "b"}]}
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(before))
    second.write_text(json.dumps({"id": "two", "contacts": [{"id": "b"}]}))
    assert (
        cli("run", str(first), "--set", "a=1", "--set", "b=2", "--storage", store_a).returncode == 0
    )
    replaced = cli("run", str(second), "--storage", store_a, "--replace-spec")
    assert replaced.returncode == 0 and "no longer has: a" in replaced.stderr, replaced.stderr
    snap = json.loads(cli("snapshot", store_a, "two", "--json").stdout)["id"]
    for extra in ([], ["--snapshot", snap]):
        exported = cli("export", store_a, "two", *extra)
        assert exported.returncode == 0, exported.stderr
        assert exported.stderr == (
            "warning: left out the stored contents of 1 contact the spec of 'two' does not "
            "have ('a'): a replaced spec leaves them unused, and `bassline import` refuses them\n"
        )
        assert [c["contact"] for c in json.loads(exported.stdout)["contents"]] == ["b"]
        imported = cli("import", store_b, "-", "--overwrite", input=exported.stdout)
        assert imported.returncode == 0, imported.stderr
    assert cli("storage", "check", store_b).returncode == 0


def test_export_writes_into_a_fifo_or_device_and_through_a_link(
    cli: Cli, store_a: str, tmp_path: Path
) -> None:
    """The export was written beside the output and renamed over it, whatever it was: a
    FIFO (or ``/dev/stdout``) became a regular file, and as root ``-o /dev/null``
    replaced the device itself. A symbolic link was replaced by a file, not written
    through."""
    _seed(cli, store_a)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that opening to write goes on
    try:
        done = cli("export", store_a, "calculator", "-o", str(fifo))
        assert done.returncode == 0, done.stderr
        received = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received)["network"] == "calculator"
    target = tmp_path / "backups" / "calculator.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    done = cli("export", store_a, "calculator", "-o", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and json.loads(target.read_text())["network"] == "calculator"
    assert sorted(p.name for p in target.parent.iterdir()) == ["calculator.json"]
