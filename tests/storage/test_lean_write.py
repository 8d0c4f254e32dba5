"""The runtime's lean write (decision D76): :func:`queued_columns` never accepts what
``write`` refuses, and ``write_columns`` of its columns does on every backend what
``write`` of the same records does (the summary, what is stored, the errors)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bassline_storage_memory import drop_store
from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql
from returns.result import Failure, Success

from bassline.clock import Stamp
from bassline.codec import encode
from bassline.spec import Bassline, parse_spec
from bassline.storage import ContentRecord, ErrorCode, StorageError, open_storage
from bassline.storage.backend import StorageBackend, columns_writer
from bassline.storage.fastpath import ContentColumns, queued_columns, valid_ids
from bassline.storage.records import content_records
from bassline.storage.validation import normalise_batch
from bassline.testing.strategies import json_values

WHY = '{"kind":"write","via":"python","local":true}'
"""A stored justification as a runtime makes it."""

# ids, nodes and justifications where the checks could go wrong: empty, too long, control
# characters, lone surrogates, None (a contact without a group), not a string at all
_IDS = st.sampled_from(["c", "g", "a/b", "é", "", "x" * 513, "x" * 512, "a\x00", "b\n", "\ud800"])
_NODES = st.sampled_from(["n1", "", "x" * 201, "a\x7f", "\udfff", "n2"])
_WHYS = st.sampled_from([None, WHY, "nonsense", '{"kind":"write"}', 7])
_HLCS = st.sampled_from([0, 1, 5, 2**63 - 1, 2**63, -1])


@st.composite
def _columns(draw: st.DrawFn) -> tuple[Any, ...]:
    count = draw(st.integers(1, 5))
    contacts = draw(
        st.lists(_IDS | st.sampled_from(["c1", "c2", "c3"]), min_size=count, max_size=count)
    )
    groups = draw(st.lists(_IDS | st.none(), min_size=count, max_size=count))
    values = draw(st.lists(json_values(max_leaves=4), min_size=count, max_size=count))
    stamps: list[Any] = [
        draw(st.builds(Stamp, _HLCS, _NODES) | st.sampled_from([(1, "n1"), "s", None]))
        for _ in range(count)
    ]
    whys = draw(st.lists(_WHYS, min_size=count, max_size=count))
    return draw(_IDS), groups, contacts, values, stamps, whys


@given(_columns())
def test_queued_columns_accept_only_what_write_accepts(args: tuple[Any, ...]) -> None:
    """Columns are made only for a batch the general check passes, each contact once,
    and they hold what it gives (the encoded values, stamps, justifications)."""
    network, groups, contacts, values, stamps, whys = args
    columns = queued_columns(network, groups, contacts, values, stamps, whys)
    checked = normalise_batch(content_records(network, groups, contacts, values, stamps, whys))
    if columns is None:
        return
    assert not isinstance(checked, StorageError), checked
    assert len(set(contacts)) == len(contacts)
    assert list(columns.encoded) == list(checked.encoded)
    assert columns.contacts == tuple(r.contact for r in checked.contents)
    assert columns.groups == tuple(r.group for r in checked.contents)
    assert columns.stamps == tuple(r.stamp for r in checked.contents)
    assert columns.hlcs == tuple(r.stamp.hlc for r in checked.contents)
    assert columns.nodes == tuple(r.stamp.node for r in checked.contents)
    assert columns.justifications == tuple(r.justification for r in checked.contents)
    assert columns.networks == (network,) * len(contacts)


@st.composite
def _good_but_ids(draw: st.DrawFn) -> tuple[Any, ...]:
    """Columns whose every stamp, value and justification passes, the ids anything."""
    count = draw(st.integers(1, 5))
    contacts = draw(
        st.lists(_IDS | st.sampled_from(["c1", "c2", "c3"]), min_size=count, max_size=count)
    )
    groups = draw(st.lists(_IDS | st.none(), min_size=count, max_size=count))
    stamps = [Stamp(i + 1, "n1") for i in range(count)]
    return draw(_IDS), groups, contacts, list(range(count)), stamps, [WHY] * count


@given(_columns() | _good_but_ids(), st.lists(_IDS, max_size=4))
def test_ids_known_valid_change_nothing(args: tuple[Any, ...], others: list[Any]) -> None:
    """Ids given as known valid (:func:`valid_ids` of a runtime's spec ids, valid or not)
    give exactly the columns, or the refusal, the checks give without them."""
    network, groups, contacts, values, stamps, whys = args
    ids = {i for i in [network, *groups, *contacts, *others] if isinstance(i, str)}
    plain = queued_columns(network, groups, contacts, values, stamps, whys)
    known = queued_columns(network, groups, contacts, values, stamps, whys, valid_ids(ids))
    assert known == plain


def test_valid_ids_leaves_out_the_invalid() -> None:
    """Only ids storage accepts are known valid: the others are checked (and refused)."""
    assert valid_ids(["c", "é", "x" * 512]) == {"c", "é", "x" * 512}
    assert valid_ids(["c", "", "x" * 513, "a\x00", "b\n", 7]) == {"c"}
    assert valid_ids([]) == frozenset()
    valid = valid_ids(["n", "g", "c", "x" * 513])
    stamps = [Stamp(3, "a")] * 2
    assert (
        queued_columns("n", ["g", "g"], ["c", "x" * 513], [1, 2], stamps, [None] * 2, valid) is None
    )


def test_queued_columns_of_a_runtime_batch() -> None:
    """What a runtime queues passes, one content or several; an id valid as a stamp node
    ("") is still refused as an id after a node "" was remembered."""
    one = queued_columns("n", ["g"], ["c"], [{"b": 1, "a": [2]}], [Stamp(3, "")], [WHY])
    assert one is not None and one.encoded == [encode({"a": [2], "b": 1})]
    assert one.nodes == ("",) and one.justifications == (WHY,)
    many = queued_columns("n", ["g", "g"], ["c", "d"], [1, "x"], [Stamp(3, "a")] * 2, [None] * 2)
    assert many is not None and many.encoded == [b"1", b'"x"']
    assert queued_columns("n", ["g"], [""], [1], [Stamp(3, "")], [None]) is None
    assert (
        queued_columns("n", ["g", "g"], ["", "d"], [1, 2], [Stamp(3, "")] * 2, [None] * 2) is None
    )
    assert (
        queued_columns("n", ["g", "g"], ["c", "c"], [1, 2], [Stamp(3, "a")] * 2, [None] * 2) is None
    )
    assert queued_columns("n", [], [], [], [], []) is None


# -- every backend: write_columns does what write does -----------------------------------


def _spec(network: str) -> Bassline:
    return parse_spec(
        {
            "id": network,
            "groups": [{"id": "g"}, {"id": "h"}],
            "contacts": [{"id": f"c{i}", "group": "g"} for i in range(4)],
        }
    )


@pytest.fixture(params=["memory", "file", "jsonfiles", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    kind = request.param
    if kind == "memory":
        name = f"lean-{uuid.uuid4().hex}"
        yield f"memory://{name}"
        drop_store(name)
    elif kind == "file":
        yield f"file://{tmp_path}/store"
    elif kind == "jsonfiles":
        yield f"jsonfiles://{tmp_path}/json"
    else:
        from bassline_storage_postgres import migrate

        from tests.postgres_support import require_postgres_url, with_query

        server = require_postgres_url()
        schema = f"bt_lean_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            url = with_query(server, schema=schema)
            migrate(url)
            yield url
        finally:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _open(url: str) -> Any:
    if url.startswith("jsonfiles:"):
        from tests.storage.jsonfiles_backend import open_json_file_storage

        return open_json_file_storage(url)
    return open_storage(url)


def _write(network: str, rows: list[tuple[Any, ...]]) -> tuple[list[ContentRecord], ContentColumns]:
    """The records and the columns of ``rows`` (group, contact, value, hlc, why)."""
    groups = [r[0] for r in rows]
    contacts = [r[1] for r in rows]
    values = [r[2] for r in rows]
    stamps = [Stamp(r[3], "n1") for r in rows]
    whys = [r[4] for r in rows]
    columns = queued_columns(network, groups, contacts, values, stamps, whys)
    assert columns is not None
    return content_records(network, groups, contacts, values, stamps, whys), columns


_STEPS: list[list[tuple[Any, ...]]] = [
    [("g", "c0", 1, 10, WHY)],  # one new content
    [("g", "c1", {"x": [1, 2]}, 10, None), ("h", "c2", "two", 11, WHY)],  # several, new
    [("g", "c0", 2, 20, None)],  # an update: a newer stamp
    [("g", "c0", 3, 15, WHY)],  # stale: an older stamp than stored
    [("g", "c0", 4, 20, WHY), ("g", "c3", None, 5, None)],  # an equal stamp, and a new one
    [("h", "c1", [0.5], 9, None), ("g", "c2", "newer", 30, None)],  # one stale, one newer
    [("g", "c4", True, 40, None), ("g", "c5", 5, 40, None)]
    + [("g", f"d{i}", i, 50 + i, None) for i in range(6)],
]


def _summary(result: Any) -> Any:
    if isinstance(result, Failure):
        error = result.failure()
        return ("failure", error.code, error.transient)
    summary = result.unwrap()
    return ("success", summary.contents, summary.stale)


@pytest.mark.anyio
async def test_write_columns_does_what_write_does(store_url: str) -> None:
    """Step by step, network "r" written with records through ``write`` and network "l"
    with the same contents through ``write_columns``: the same summaries, and the same
    contents stored (values, groups, stamps, justifications)."""
    async with _open(store_url) as storage:
        assert columns_writer(storage) is storage
        for network in ("r", "l"):
            (await storage.save_network(_spec(network))).unwrap()
        for rows in _STEPS:
            records, _ = _write("r", rows)
            _, columns = _write("l", rows)
            by_records = await storage.write(records)
            by_columns = await storage.write_columns(columns)
            assert _summary(by_columns) == _summary(by_records), rows
            stored_r = (await storage.load_contents("r")).unwrap()
            stored_l = (await storage.load_contents("l")).unwrap()
            assert [
                (c.group, c.contact, encode(c.value), c.stamp, c.justification) for c in stored_l
            ] == [(c.group, c.contact, encode(c.value), c.stamp, c.justification) for c in stored_r]
        assert storage.next_stamp().hlc > 55  # the clock followed the stamps written


@pytest.mark.anyio
async def test_write_columns_refuses_what_write_refuses(store_url: str) -> None:
    """A missing network or group, a closed storage: the same error (code, transient) as
    ``write`` of the same records, and nothing stored."""
    async with _open(store_url) as storage:
        (await storage.save_network(_spec("r"))).unwrap()
        cases = [
            ("r", [("nogroup", "c0", 1, 10, None)]),
            ("r", [("g", "c0", 1, 10, None), ("nogroup", "c1", 1, 10, None)]),
            ("absent", [("g", "c0", 1, 10, None)]),
        ]
        for network, rows in cases:
            records, columns = _write(network, rows)
            by_records = await storage.write(records)
            by_columns = await storage.write_columns(columns)
            assert isinstance(by_columns, Failure)
            assert _summary(by_columns) == _summary(by_records)
            assert str(by_columns.failure()) == str(by_records.failure())
        assert (await storage.load_contents("r")).unwrap() == []
    _, columns = _write("r", [("g", "c0", 1, 10, None)])
    closed = await storage.write_columns(columns)
    assert isinstance(closed, Failure) and closed.failure().code is ErrorCode.CONNECTION


# -- which storages the runtime hands columns -------------------------------------------


async def _anything(*_: Any) -> Any:
    return Success(None)


def test_columns_go_only_where_write_is_the_base_classes() -> None:
    """A storage whose ``write`` is overridden (by a subclass or on the instance, as a
    test's wrapper does) is given records through it; so is anything not a backend."""
    from bassline_storage_memory import open_memory_storage
    from bassline_storage_memory.storage import MemoryStorage

    plain = open_memory_storage()
    assert columns_writer(plain) is plain

    class Wrapped(MemoryStorage):
        async def write(self, batch: Any) -> Any:
            return await super().write(batch)

    assert columns_writer(Wrapped("memory://", plain.store)) is None
    patched = open_memory_storage()
    patched.write = _anything  # type: ignore[method-assign]
    assert columns_writer(patched) is None
    assert columns_writer(object()) is None
    assert isinstance(plain, StorageBackend)


@pytest.mark.anyio
async def test_write_columns_to_a_moved_fs_store_writes_nothing_into_either(
    tmp_path: Path,
) -> None:
    """The fs store moved aside and an empty directory put back: the columns' append
    fails (CORRUPTION, as ``write``'s does) and neither directory keeps the batch; the
    store put back takes writes again. Planted: ``do_write_columns`` not reporting the
    append's error -> a Success for a batch nobody stored."""
    store, moved = tmp_path / "store", tmp_path / "moved"
    async with open_storage(f"file://{store}") as storage:
        (await storage.save_network(_spec("r"))).unwrap()
        (await storage.write_columns(_write("r", [("g", "c0", 1, 10, None)])[1])).unwrap()
        store.rename(moved)
        store.mkdir()
        failed = await storage.write_columns(_write("r", [("g", "c1", 2, 11, WHY)])[1])
        assert isinstance(failed, Failure) and failed.failure().code is ErrorCode.CORRUPTION
        assert list(store.iterdir()) == []
        store.rmdir()
        moved.rename(store)
        (await storage.write_columns(_write("r", [("g", "c2", 3, 12, None)])[1])).unwrap()
    async with open_storage(f"file://{store}") as again:
        assert [r.contact for r in (await again.load_contents("r")).unwrap()] == ["c0", "c2"]
        assert again.recovery is not None and again.recovery.cut is None
