"""What the PostgreSQL backend promises beyond the conformance suite."""

from __future__ import annotations

from typing import Any

import anyio
import attrs
import pytest
from bassline_storage_postgres import PostgresStorage
from bassline_storage_postgres.prepare import prepare_batch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import GroupSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    NetworkStorage,
    StorageError,
    open_storage,
)
from bassline.storage.toolkit import check_batch
from bassline.testing import strategies as bst
from bassline.testing.storage import sample_bassline

anyio_test = pytest.mark.anyio


@anyio_test
async def test_a_bad_value_deep_in_a_fast_batch_fails_it_whole(store_url: str) -> None:
    async with open_storage(store_url) as storage:
        (await storage.save_network(sample_bassline())).unwrap()
        batch = [ContentRecord("calc", "ui", f"c{i}", i, Stamp(1, "n")) for i in range(1000)]
        batch[700] = ContentRecord("calc", "ui", "c700", float("nan"), Stamp(1, "n"))
        result = await storage.write(batch)
        assert isinstance(result, Failure) and result.failure().code is ErrorCode.SERIALIZATION
        assert "c700" in result.failure().message
        # a superseded duplicate must encode too, as normalise_batch demands
        dupes = [
            ContentRecord("calc", "ui", "d", float("inf"), Stamp(1, "n")),
            ContentRecord("calc", "ui", "d", 1, Stamp(2, "n")),
        ]
        result = await storage.write(dupes)
        assert isinstance(result, Failure) and result.failure().code is ErrorCode.SERIALIZATION
        assert (await storage.load_contents("calc")).unwrap() == []


@anyio_test
async def test_a_bad_value_wins_over_a_missing_network_on_the_fast_path(store_url: str) -> None:
    # validation comes before references on the fast path too, as on the general path
    # (and in every other backend): a value that does not encode is SERIALIZATION even
    # when the network is missing and an earlier chunk already hit its foreign key
    async with open_storage(store_url) as storage:
        assert isinstance(storage, PostgresStorage)
        storage.content_chunk = 2
        superseded = [
            ContentRecord("nope", "root", "x", float("nan"), Stamp(1, "n")),
            ContentRecord("nope", "root", "x", None, Stamp(2, "n")),
        ]
        late = [ContentRecord("nope", "root", f"c{i}", i, Stamp(1, "n")) for i in range(5)]
        late[4] = ContentRecord("nope", "root", "c4", float("inf"), Stamp(1, "n"))
        for batch in (superseded, late):
            result = await storage.write(batch)
            assert isinstance(result, Failure), result
            assert result.failure().code is ErrorCode.SERIALIZATION, result


@anyio_test
async def test_one_batch_far_beyond_the_bind_parameter_limit(store_url: str) -> None:
    rows = 70_000  # each row has 6 values: 420,000 values in one transaction
    async with open_storage(store_url) as storage:
        (await storage.save_network(sample_bassline())).unwrap()
        batch = [ContentRecord("calc", "ui", f"c{i:05d}", [i], Stamp(3, "n")) for i in range(rows)]
        summary = (await storage.write(batch)).unwrap()
        assert (summary.contents, summary.stale) == (rows, 0)
        again = (await storage.write(batch)).unwrap()  # equal stamps replace
        assert (again.contents, again.stale) == (rows, 0)
        older = [
            ContentRecord("calc", "ui", f"c{i:05d}", "old", Stamp(2, "n")) for i in range(rows)
        ]
        stale = (await storage.write(older)).unwrap()
        assert (stale.contents, stale.stale) == (0, rows)
        contents = (await storage.load_contents("calc")).unwrap()
        assert len(contents) == rows and contents[12345].value == [12345]


@anyio_test
async def test_stamp_nodes_compare_by_code_point_not_by_collation(store_url: str) -> None:
    # en_US collation sorts "a" < "B" and "é" < "z"; stamps compare code points
    cases = [("a", "B", "stale"), ("B", "a", "stored"), ("z", "é", "stored"), ("é", "z", "stale")]
    async with open_storage(store_url) as storage:
        (await storage.save_network(sample_bassline())).unwrap()
        for n, (first, second, outcome) in enumerate(cases):
            contact = f"x{n}"
            (await storage.save_contact_content("calc", "ui", contact, 1, Stamp(5, first))).unwrap()
            summary = (
                await storage.write([ContentRecord("calc", "ui", contact, 2, Stamp(5, second))])
            ).unwrap()
            assert (summary.contents, summary.stale) == ((1, 0) if outcome == "stored" else (0, 1))
            assert (Stamp(5, second) >= Stamp(5, first)) == (outcome == "stored")


@anyio_test
async def test_one_connection_serves_many_concurrent_operations(store_url: str) -> None:
    # pool_size=1: any operation that held its connection while waiting for another
    # (the prototype's self-deadlock) would hang here
    async with open_storage(store_url, pool_size=1, max_overflow=0) as storage:
        (await storage.save_network(sample_bassline())).unwrap()
        done: list[str] = []

        async def work(n: int) -> None:
            (await storage.save_contact_content("calc", "ui", f"c{n}", n, Stamp(1, "n"))).unwrap()
            (await storage.save_snapshot("calc", f"s{n}")).unwrap()
            (await storage.load_network("calc")).unwrap()
            (await storage.query_groups("calc", GroupQuery(author="bob"))).unwrap()
            (await storage.write([GroupRecord("calc", GroupSpec(f"g{n}"))])).unwrap()
            done.append(f"w{n}")

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for n in range(40):
                    tg.start_soon(work, n)
        assert len(done) == 40
        assert len((await storage.list_snapshots("calc")).unwrap()) == 40


@anyio_test
async def test_snapshots_never_see_half_a_batch(store_url: str) -> None:
    contacts = [f"c{i}" for i in range(50)]
    async with open_storage(store_url, pool_size=3) as storage:
        (await storage.save_network(sample_bassline())).unwrap()
        stop = anyio.Event()

        async def writer() -> None:
            generation = 0
            while not stop.is_set():
                generation += 1
                batch = [
                    ContentRecord("calc", "ui", c, generation, Stamp(generation, "w"))
                    for c in contacts
                ]
                (await storage.write(batch)).unwrap()

        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            seen: set[int] = set()
            while len(seen) < 5:
                info = (await storage.save_snapshot("calc")).unwrap()
                snap = (await storage.load_snapshot("calc", info.id)).unwrap()
                values = {r.value for r in snap.contents}
                assert len(values) <= 1, f"snapshot mixes batches: {sorted(values)}"
                assert info.contents in (0, len(contacts))
                seen |= values
            stop.set()


@anyio_test
async def test_two_storages_share_one_schema(store_url: str) -> None:
    first: NetworkStorage = open_storage(store_url)
    second: NetworkStorage = open_storage(store_url)
    async with first, second:
        assert first.capabilities.shared and first.capabilities.persistent
        (await first.save_network(sample_bassline())).unwrap()
        (await second.save_contact_content("calc", "ui", "x", "hi", Stamp(1, "n"))).unwrap()
        record = (await first.load_contact_content("calc", "ui", "x")).unwrap()
        assert record.value == "hi"
        health = (await second.health()).unwrap()
        assert health.ok and "***" not in health.detail


_records = st.lists(
    st.builds(
        ContentRecord,
        network=st.sampled_from(["n1", "n2"]),
        group=st.sampled_from(["root", "ui", "calc"]),
        contact=st.sampled_from(["a", "b", "c", "é"]),
        value=bst.contents(),
        stamp=st.builds(Stamp, st.integers(0, 3), st.sampled_from(["x", "y", "Z"])),
    ),
    max_size=12,
)


def _layout(prepared: Any) -> tuple[Any, ...]:
    columns = prepared.contents
    rows = sorted(
        zip(
            columns.networks,
            columns.contacts,
            columns.groups,
            columns.contents,
            columns.hlcs,
            columns.nodes,
            strict=True,
        )
    )
    return rows, sorted((n, g or "") for n, g, _ in prepared.references)


@settings(max_examples=200)
@given(_records)
def test_the_fast_path_lays_out_exactly_what_the_general_path_does(records: list[Any]) -> None:
    checked = check_batch(records)
    if isinstance(checked, StorageError):
        return  # a value that does not encode: refused before any layout
    event("columns" if checked.columns is not None else "per record")
    fast = prepare_batch(checked)
    general = prepare_batch(attrs.evolve(checked, columns=None))
    assert not isinstance(general, StorageError), general
    assert not isinstance(fast, StorageError), fast
    assert _layout(fast) == _layout(general)


@anyio_test
async def test_group_queries_see_through_reserved_and_nul_keys(store_url: str) -> None:
    odd = {"$type": "weird", "color": "red", "author": "ann", "k\x00": "v\x00", "tags": ["a"]}
    async with open_storage(store_url) as storage:
        (await storage.save_network(sample_bassline())).unwrap()
        (await storage.write([GroupRecord("calc", GroupSpec("odd", attributes=odd))])).unwrap()
        for query in [
            GroupQuery({"color": "red", "$type": "weird"}),
            GroupQuery({"k\x00": "v\x00"}, author="ann", tags=("a",)),
        ]:
            found = (await storage.query_groups("calc", query)).unwrap()
            assert [g.id for g in found] == ["odd"], query
            assert found[0].attributes == odd
        # NUL is stored as U+FFFD in the search document only: no false match survives
        lookalike = GroupQuery({"k\ufffd": "v\ufffd"})
        assert (await storage.query_groups("calc", lookalike)).unwrap() == []
