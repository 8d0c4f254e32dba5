"""``bassline run --storage``: values persist, and a second run continues from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import make_url

from bassline.runtime import StorageBackedRuntime
from bassline.spec import load_spec
from bassline.storage import open_storage

from .conftest import EXAMPLES, Cli, run_cli

CALC = str(EXAMPLES / "calculator.json")


def _result(out: str) -> object:
    return json.loads(out)["contacts"]["result"]


def _continues(cli: Cli, url: str) -> None:
    first = cli("run", CALC, "--set", "input-a=5", "--storage", url, "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["contacts"]["result"] == 25 and data["recovered"] == 0
    assert "storage" in data
    second = cli("run", CALC, "--storage", url, "--json")
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["contacts"]["result"] == 25  # input-a=5 came back from storage
    assert data["recovered"] == 6
    third = cli("run", CALC, "--set", "input-b=1", "--storage", url)
    assert third.returncode == 0, third.stderr
    # the table's result row reads 6 (1 + 5 from storage); "6" alone also matches the
    # count of restored contents
    assert re.search(r"^\W*result\W+6\W", third.stdout, re.MULTILINE), third.stdout
    assert f"stored in {url} (restored 6 contents first)" in third.stdout
    assert _result(cli("run", CALC, "--storage", url, "--json").stdout) == 6
    assert _result(cli("run", CALC, "--json").stdout) == 30  # in memory: nothing kept


def test_file_storage_keeps_values_between_runs(cli: Cli, store_a: str) -> None:
    _continues(cli, store_a)


@pytest.mark.postgres
def test_postgres_storage_keeps_values_between_runs(cli: Cli, pg_url: str) -> None:
    _continues(cli, pg_url)


def test_a_changed_spec_needs_replace_spec(cli: Cli, store_a: str, tmp_path: Path) -> None:
    assert cli("run", CALC, "--set", "input-a=5", "--storage", store_a).returncode == 0
    data = json.loads((EXAMPLES / "calculator.json").read_text())
    data["contacts"]["note"] = {"id": "note", "groupId": "root", "content": "new"}
    data["groups"]["root"]["contactIds"].append("note")
    changed = tmp_path / "calculator.json"  # the id comes from the file name
    changed.write_text(json.dumps(data))
    refused = cli("run", str(changed), "--storage", store_a)
    assert refused.returncode == 1
    assert "with another spec" in refused.stderr and "--replace-spec" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    replaced = cli("run", str(changed), "--storage", store_a, "--replace-spec", "--json")
    assert replaced.returncode == 0, replaced.stderr
    contacts = json.loads(replaced.stdout)["contacts"]
    assert contacts["result"] == 25 and contacts["note"] == "new"  # input-a=5 was kept


def test_a_replaced_spec_that_moves_a_contact_stores_it_under_its_new_group(
    cli: Cli, store_a: str, tmp_path: Path
) -> None:
    """A content stays stored under the group it was written in; a replaced spec that moved
    its contact to another group left it there (its stamp had not changed), so `storage
    check` reported damage and the network's export was refused by `import`."""
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps({"id": "mv", "contacts": [{"id": "x"}, {"id": "y"}]}))
    after.write_text(
        json.dumps(
            {
                "id": "mv",
                "groups": [{"id": "g2"}],
                "contacts": [{"id": "x", "group": "g2"}, {"id": "y"}],
            }
        )
    )
    assert cli("run", str(before), "--set", "x=1", "--storage", store_a).returncode == 0
    replaced = cli("run", str(after), "--storage", store_a, "--replace-spec", "--json")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(replaced.stdout)["contacts"]["x"] == 1
    checked = cli("storage", "check", store_a)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exported = cli("export", store_a, "mv")
    assert [(c["contact"], c["group"]) for c in json.loads(exported.stdout)["contents"]] == [
        ("x", "g2")
    ]
    imported = cli("import", store_a + "-copy", "-", input=exported.stdout)
    assert imported.returncode == 0, imported.stderr


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--replace-spec"],
            "--replace-spec needs --storage: a run in memory has no stored spec to replace",
        ),
        (
            ["--interval", "1"],
            "--interval needs --watch: it is the seconds between checks of the spec file",
        ),
        (
            ["--interval", "0.5", "--json"],  # the default's value, given: still refused
            "--interval needs --watch: it is the seconds between checks of the spec file",
        ),
    ],
)
def test_an_option_that_needs_another_is_a_usage_error_without_it(
    cli: Cli, args: list[str], message: str
) -> None:
    """Both were accepted and did nothing: the run went on in memory, or ran once."""
    done = cli("run", CALC, *args)
    assert (done.returncode, done.stdout) == (2, ""), done.stdout
    assert done.stderr == f"error: {message}\n"


def test_the_options_are_taken_with_what_they_need(cli: Cli, store_a: str) -> None:
    assert cli("run", CALC, "--storage", store_a, "--replace-spec").returncode == 0
    assert cli("run", CALC).returncode == 0


def test_postgres_errors_are_one_line_with_the_password_masked(cli: Cli, pg_fresh_url: str) -> None:
    unmigrated = cli("run", CALC, "--storage", pg_fresh_url)
    assert unmigrated.returncode == 1
    assert "bassline storage migrate" in unmigrated.stderr
    secret = make_url(pg_fresh_url).set(password="s3cret").render_as_string(hide_password=False)
    masked = cli("run", CALC, "--storage", secret)
    assert masked.returncode == 1
    assert "s3cret" not in masked.stderr and ":***@" in masked.stderr
    down = cli(
        "run", CALC, "--storage", "postgresql://postgres:s3cret@127.0.0.1:1/test?connect_timeout=2"
    )
    assert down.returncode == 1, down.stderr
    assert "connection" in down.stderr and "s3cret" not in down.stderr
    assert down.stderr.count("check that the server is running") == 1, down.stderr  # not twice
    for done in (unmigrated, masked, down):
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


def test_a_short_password_is_masked_without_mangling_the_masked_url() -> None:
    """The password was masked wherever it appeared, the masked URL included: with the
    password "p", ``postgresql://u:***@h/db`` read ``***ostgresql://u:***@h/db``."""
    from bassline.cli.storage_access import scrub

    url = "postgresql://u:p@h/db"
    text = f"migration failed at {url}: password 'p' rejected"
    assert scrub(text, url) == (
        "migration failed at postgresql://u:***@h/db: ***assword '***' rejected"
    )


def test_a_storage_error_gets_the_generic_hint_only_when_it_gives_no_advice() -> None:
    from bassline.cli.storage_access import storage_error
    from bassline.storage import ErrorCode, StorageError

    bare = StorageError(ErrorCode.CONNECTION, "socket closed")
    advised = StorageError(ErrorCode.CONNECTION, "refused; check the host and port")
    url = "x://h/db"
    assert str(storage_error(url, "reading", bare)) == (
        "reading in x://h/db failed: connection: socket closed; "
        "check that the server is running and the URL is right"
    )
    assert str(storage_error(url, "reading", advised)) == (
        "reading in x://h/db failed: connection: refused; check the host and port"
    )


def test_bad_storage_urls_are_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    cases = [
        ("memroy://", "did you mean memory://?"),
        ("nothing-here", "malformed storage URL"),
        ("file://relative/dir", "three slashes"),
        (f"file://{tmp_path}?compact=1", "unknown file storage option 'compact'"),
    ]
    for url, message in cases:
        done = cli("run", CALC, "--storage", url)
        assert done.returncode == 1, (url, done.stderr)
        assert message in done.stderr, (url, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


async def _premises(url: str, contact: str) -> list[tuple[str, object, str, bool]]:
    """Reopen the stored calculator in a fresh runtime (a restart): ``contact``'s premises."""
    async with (
        open_storage(url) as storage,
        StorageBackedRuntime(load_spec(CALC), storage) as runtime,
    ):
        return sorted(
            (p.contact, p.value, p.via, p.local) for p in runtime.explain(contact).premises()
        )


def _explained_via_cli_after_a_restart(cli: Cli, url: str) -> None:
    done = cli("run", CALC, "--set", "input-a=5", "--storage", url)
    assert done.returncode == 0, done.stderr
    assert anyio.run(_premises, url, "result") == [
        ("input-a", 5, "cli", True),
        ("input-b", 20, "spec", True),
    ]
    again = cli("run", CALC, "--set", "input-b=1", "--storage", url)  # another process
    assert again.returncode == 0, again.stderr
    assert anyio.run(_premises, url, "result") == [
        ("input-a", 5, "cli", True),
        ("input-b", 1, "cli", True),
    ]


def test_run_set_is_explained_as_come_in_via_cli_after_a_restart_file(
    cli: Cli, store_a: str
) -> None:
    _explained_via_cli_after_a_restart(cli, store_a)


@pytest.mark.postgres
def test_run_set_is_explained_as_come_in_via_cli_after_a_restart_postgres(
    cli: Cli, pg_url: str
) -> None:
    _explained_via_cli_after_a_restart(cli, pg_url)


async def _two_runs_at_once(url: str) -> None:
    """While a runtime follows the network as node ``local``, two ``bassline run``s."""
    async with (
        open_storage(url) as storage,
        StorageBackedRuntime(load_spec(CALC), storage, node_id="local") as live,
    ):
        same = await anyio.to_thread.run_sync(
            lambda: run_cli("run", CALC, "--set", "input-a=5", "--storage", url)
        )
        assert same.returncode == 1, same.stderr
        assert "node id 'local' is already in use" in same.stderr, same.stderr
        assert "--node-id" in same.stderr and "Traceback" not in same.stderr
        own = await anyio.to_thread.run_sync(
            lambda: run_cli(
                "run", CALC, "--set", "input-a=5", "--storage", url, "--node-id", "run-2", "--json"
            )
        )
        assert own.returncode == 0, own.stderr
        assert json.loads(own.stdout)["contacts"]["input-a"] == 5
        with anyio.fail_after(30):  # the live runtime sees the run's write through the feed
            while live.network.value("input-a") != 5:
                await live.catch_up()
        assert live.network.stamp("input-a").node == "run-2"


@pytest.mark.postgres
def test_runs_at_the_same_time_on_one_database_need_their_own_node_id(pg_url: str) -> None:
    anyio.run(_two_runs_at_once, pg_url)


def test_run_refuses_an_empty_or_overlong_node_id(cli: Cli) -> None:
    for bad in ("", "x" * 201):
        done = cli("run", CALC, "--node-id", bad)
        assert done.returncode == 1, done.stderr
        assert "--node-id" in done.stderr and "non-empty id of at most 200" in done.stderr
