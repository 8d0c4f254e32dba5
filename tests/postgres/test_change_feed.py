"""The PostgreSQL change feed: sequence in commit order, wakeups, reconnection, watchers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import psycopg
import pytest
from bassline_storage_postgres import PostgresStorage
from bassline_storage_postgres.bulk import TAKE_SEQUENCE, UPSERT_CONTENTS
from psycopg import sql
from returns.result import Failure, Success

from bassline.clock import Stamp
from bassline.lattices import GrowSet
from bassline.spec import parse_spec
from bassline.storage import (
    ChangeBatch,
    ContentRecord,
    ErrorCode,
    FeedsChanges,
    open_storage,
)
from bassline.storage.abilities import ReadsOnWatch
from tests.postgres_support import end_feed_sessions

SPEC = parse_spec(
    {
        "id": "feed",
        "groups": [{"id": "root"}],
        "contacts": [{"id": c, "group": "root"} for c in ("a", "b", "c", "x", "y")],
    }
)


def _record(contact: str, value: Any, hlc: int, node: str = "w") -> ContentRecord:
    return ContentRecord("feed", "root", contact, value, Stamp(hlc, node))


async def _changes(storage: Any, after: int) -> ChangeBatch:
    result = await storage.read_changes("feed", after)
    assert isinstance(result, Success), result
    batch: ChangeBatch = result.unwrap()
    return batch


@pytest.fixture
async def two(store_url: str) -> AsyncIterator[tuple[Any, Any]]:
    """Two storages on one schema (as two processes would open it), network saved."""
    async with open_storage(store_url) as first, open_storage(store_url) as second:
        assert (await first.save_network(SPEC)).unwrap() is None
        yield first, second


@pytest.mark.anyio
async def test_postgres_declares_the_feed(two: tuple[Any, Any]) -> None:
    first, _ = two
    assert isinstance(first, FeedsChanges)


@pytest.mark.anyio
async def test_another_storage_reads_what_was_committed_since_its_cursor(
    two: tuple[Any, Any],
) -> None:
    first, second = two
    start = (await second.feed_position("feed")).unwrap()
    assert start == 0
    await first.write([_record("a", 1, 10), _record("b", 2, 10)])
    batch = await _changes(second, start)
    assert [(r.contact, r.value, r.stamp) for r in batch.records] == [
        ("a", 1, Stamp(10, "w")),
        ("b", 2, Stamp(10, "w")),
    ]
    assert batch.position > start
    assert (await second.feed_position("feed")).unwrap() == batch.position
    assert (await _changes(second, batch.position)).records == []
    # a newer write of one contact: only it comes, once, with its newest value
    await first.write([_record("a", 5, 11)])
    await first.write([_record("a", 6, 12)])
    later = await _changes(second, batch.position)
    assert [(r.contact, r.value) for r in later.records] == [("a", 6)]
    # a stale write stores nothing and announces no content
    await first.write([_record("b", 99, 1)])
    assert [r.contact for r in (await _changes(second, later.position)).records] == []


@pytest.mark.anyio
async def test_the_feed_reads_each_content_with_its_justification(two: tuple[Any, Any]) -> None:
    first, second = two
    why = '{"kind": "write", "via": "http", "local": true}'
    written = ContentRecord("feed", "root", "a", 1, Stamp(10, "w"), why)
    await first.write([written, _record("b", 2, 10)])
    batch = await _changes(second, 0)
    assert [(r.contact, r.justification) for r in batch.records] == [("a", why), ("b", None)]
    assert batch.records[0] == written


@pytest.mark.anyio
async def test_bad_cursor_and_unknown_network_are_clear_errors(two: tuple[Any, Any]) -> None:
    first, _ = two
    for bad in (-1, 1.5, "3", True, None):
        result = await first.read_changes("feed", bad)
        assert isinstance(result, Failure)
        assert result.failure().code is ErrorCode.INVALID
        assert "cursor" in result.failure().message
    missing = await first.read_changes("nope", 0)
    assert isinstance(missing, Failure) and missing.failure().code is ErrorCode.NETWORK_NOT_FOUND
    missing = await first.feed_position("nope")
    assert isinstance(missing, Failure) and missing.failure().code is ErrorCode.NETWORK_NOT_FOUND


def _waiting_for_lock(conn: psycopg.Connection[Any], pid: int) -> bool:
    """Whether a backend waits for a lock that backend ``pid`` holds (not just any lock on
    the server: other tests' and other databases' waits made the tests go on too soon)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
        [pid],
    ).fetchone()
    return bool(row and row[0])


@pytest.mark.anyio
async def test_a_transaction_that_commits_after_a_later_one_is_not_skipped(
    two: tuple[Any, Any], postgres_url: str, schema: str
) -> None:
    """T1 takes its sequence and holds its transaction open; a second writer's commit
    must not become visible ahead of it with a higher sequence (else a reader's cursor
    passes T1's sequence before T1 commits, and T1's write is never read)."""
    first, second = two
    await first.write([_record("a", 1, 1)])  # the network's feed row exists: it is locked
    start = (await second.feed_position("feed")).unwrap()
    with psycopg.connect(postgres_url) as t1, psycopg.connect(postgres_url, autocommit=True) as a:
        t1.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        t1.execute(TAKE_SEQUENCE, [["feed"]])
        t1.execute(UPSERT_CONTENTS, [["feed"], ["x"], ["root"], [b"1"], [20], [b"t1"], [None]])
        t1_pid = t1.info.backend_pid
        t1_seq = t1.execute("SELECT seq FROM bassline_feed").fetchone()[0]  # type: ignore[index]
        async with anyio.create_task_group() as tg:
            done = anyio.Event()

            summaries = []

            async def write_y() -> None:
                summaries.append((await first.write([_record("y", 2, 21)])).unwrap())
                done.set()

            tg.start_soon(write_y)
            with anyio.fail_after(20):
                while not _waiting_for_lock(a, t1_pid):  # noqa: ASYNC110 - a deadline poll
                    await anyio.sleep(0.01)
            assert not done.is_set()
            seen = await _changes(second, start)
            assert seen.records == [] and seen.position == start
            t1.commit()
            with anyio.fail_after(20):
                await done.wait()
    batch = await _changes(second, start)
    assert [r.contact for r in batch.records] == ["x", "y"]
    # the second writer reports T1's sequence, not the one before it, as the position
    # just before its write (planted: the feed row read without FOR UPDATE -> start)
    assert summaries[0].feed == (t1_seq, batch.position)
    assert start < t1_seq < batch.position


@pytest.mark.anyio
async def test_a_first_write_that_waited_for_another_first_write_reports_no_position(
    two: tuple[Any, Any], postgres_url: str, schema: str
) -> None:
    """T1 makes the network's feed row and holds its transaction open; a one-row write
    then finds no row to lock, waits on T1's insert and updates the row after T1 commits:
    it did not make the row, so it must not report 0 as the position before it (T1's
    write lies between). Planted: ``fresh`` always true -> it reports (0, ...)."""
    first, _ = two
    with psycopg.connect(postgres_url) as t1, psycopg.connect(postgres_url, autocommit=True) as a:
        t1.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        t1.execute(TAKE_SEQUENCE, [["feed"]])
        t1_pid = t1.info.backend_pid
        summaries = []
        async with anyio.create_task_group() as tg:

            async def write_y() -> None:
                summaries.append((await first.write([_record("y", 2, 21)])).unwrap())

            tg.start_soon(write_y)
            with anyio.fail_after(20):
                while not _waiting_for_lock(a, t1_pid):  # noqa: ASYNC110 - a deadline poll
                    await anyio.sleep(0.01)
            t1.commit()
    assert summaries[0].contents == 1 and summaries[0].feed is None
    assert (await first.write([_record("y", 3, 22)])).unwrap().feed is not None


@pytest.mark.anyio
async def test_concurrent_writes_report_feed_positions_that_chain_without_gaps(
    two: tuple[Any, Any],
) -> None:
    """Each write of one network reports (position before it, position it took): sorted,
    they chain from the start to the end with nothing between (what lets a follower skip
    its own writes); a network's first write, which makes its feed row, reports 0 before."""
    first, second = two
    made = (await first.write([_record("a", 0, 1)])).unwrap().feed
    start = (await second.feed_position("feed")).unwrap()
    assert made == (0, start)
    reported: list[tuple[int, int]] = []

    async def writer(storage: Any, contact: str) -> None:
        for i in range(15):
            summary = (await storage.write([_record(contact, i, 100 + i)])).unwrap()
            assert summary.feed is not None
            reported.append(summary.feed)

    async with anyio.create_task_group() as tg:
        for storage, contact in ((first, "a"), (second, "b"), (first, "c"), (second, "x")):
            tg.start_soon(writer, storage, contact)
    chain = sorted(reported)
    assert [b for b, _ in chain] == [start] + [a for _, a in chain[:-1]]
    assert chain[-1][1] == (await second.feed_position("feed")).unwrap()


@pytest.mark.anyio
async def test_a_watch_wakes_on_another_storages_commit_not_on_its_own(
    two: tuple[Any, Any],
) -> None:
    first, second = two
    async with second.watch_changes("feed", member="reader") as watch:
        woke = anyio.Event()

        async def waiter() -> None:
            await watch.wait()
            woke.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await second.write([_record("c", 1, 5)])  # its own write: no wakeup
            await first.write([_record("a", 1, 5)])
            with anyio.fail_after(20):
                await woke.wait()
        assert [(r.contact, r.value) for r in (await _changes(second, 0)).records] == [
            ("c", 1),
            ("a", 1),
        ]


@pytest.mark.anyio
async def test_a_terminated_listening_connection_reconnects_and_wakes_the_reader(
    two: tuple[Any, Any], schema: str, admin: psycopg.Connection[Any]
) -> None:
    first, second = two
    async with second.watch_changes("feed", member="victim") as watch:
        position = (await second.feed_position("feed")).unwrap()
        assert len(end_feed_sessions(admin, schema, "victim")) == 1
        # written while nobody listens: its notification reaches no one
        await first.write([_record("b", 7, 30)])
        with anyio.fail_after(30):
            await watch.wait()  # the loss is noticed, the watch listens again, and wakes
        assert watch.reconnects == 1
        batch = await _changes(second, position)
        assert [(r.contact, r.value) for r in batch.records] == [("b", 7)]
        # and it hears the next commit on the new connection
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.write, [_record("c", 8, 31)])
            with anyio.fail_after(20):
                await watch.wait()


@pytest.mark.anyio
async def test_the_watch_reads_on_its_own_connection_what_the_storage_reads(
    two: tuple[Any, Any], schema: str, admin: psycopg.Connection[Any]
) -> None:
    """The follower's read after a wakeup (``ReadsOnWatch``): same records, stamps,
    justification and position as the pooled read; None once its connection is gone.
    Planted: the stamp's node decoded from the bytea text form without unhexing -> the
    records differ."""
    first, second = two
    await first.write([_record("a", {"k": [1, "x"]}, 40, node="n\u00e9"), _record("b", None, 41)])
    async with second.watch_changes("feed", member="direct") as watch:
        assert isinstance(watch, ReadsOnWatch)
        for after in (0, 1):
            direct = await watch.read_changes(after)
            assert direct == await second.read_changes("feed", after)
        assert (await watch.read_changes(0)).unwrap().records[0].stamp == Stamp(40, "n\u00e9")
        assert len(end_feed_sessions(admin, schema, "direct")) == 1
        with anyio.fail_after(20):
            while await watch.read_changes(0) is not None:  # noqa: ASYNC110 - deadline poll
                await anyio.sleep(0.01)
        with anyio.fail_after(30):
            await watch.wait()  # reconnects
        assert await watch.read_changes(0) == await second.read_changes("feed", 0)


@pytest.mark.anyio
async def test_the_watch_read_leaves_out_the_sequences_it_is_told_to_skip(
    two: tuple[Any, Any],
) -> None:
    """``ReadsOnWatch.read_changes(after, skip)``: records of the skipped sequences are
    left out, and the position is the last record's read (not past a skipped one)."""
    first, second = two
    await first.write([_record("x", 0, 1)])  # the feed row exists: writes report positions
    one = (await first.write([_record("a", 1, 10)])).unwrap().feed
    two_ = (await first.write([_record("b", 2, 10), _record("c", 3, 10)])).unwrap().feed
    three = (await first.write([_record("y", 4, 10)])).unwrap().feed
    assert one[1] == two_[0] and two_[1] == three[0]
    async with second.watch_changes("feed", member="skip") as watch:
        batch = (await watch.read_changes(one[0], [two_[1]])).unwrap()
        assert [r.contact for r in batch.records] == ["a", "y"] and batch.position == three[1]
        batch = (await watch.read_changes(one[0], [two_[1], three[1]])).unwrap()
        assert [r.contact for r in batch.records] == ["a"] and batch.position == one[1]
        batch = (await watch.read_changes(one[1], [two_[1], three[1]])).unwrap()
        assert batch.records == [] and batch.position == one[1]


@pytest.mark.anyio
async def test_both_reads_decode_tagged_and_escaped_contents_as_they_were_written(
    two: tuple[Any, Any],
) -> None:
    """The feed's rows come as one JSON document; contents holding the codec's tag key
    (a tagged value, a user dict with a "$type" key, the string "$type") decode as
    written, plain ones beside them too. Planted: tagged values left undecoded in the
    document -> a raw dict instead of the GrowSet."""
    first, second = two
    values = {"a": GrowSet([1, 2]), "b": {"$type": "mine", "value": 1}, "c": "$type", "x": [1.5]}
    await first.write([_record(c, v, 50) for c, v in values.items()])
    async with second.watch_changes("feed", member="tags") as watch:
        for batch in ((await watch.read_changes(0)).unwrap(), await _changes(second, 0)):
            assert {r.contact: r.value for r in batch.records} == values
            assert isinstance(batch.records[0].value, GrowSet)


@pytest.mark.anyio
async def test_a_content_that_cannot_be_decoded_is_a_corruption_error_on_both_reads(
    two: tuple[Any, Any], postgres_url: str, schema: str
) -> None:
    """Planted: the decode error not caught -> ContentError raised out of the read."""
    first, second = two
    await first.write([_record("a", 1, 60), _record("b", 2, 60)])
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        admin.execute(
            """UPDATE bassline_contacts SET content = '{"$type": "no-such-type", "value": 1}'
            WHERE contact_id = 'b'"""
        )
    async with second.watch_changes("feed", member="bad") as watch:
        direct = await watch.read_changes(0)
        assert isinstance(direct, Failure)
        for failed in (direct, await second.read_changes("feed", 0)):
            assert isinstance(failed, Failure)
            assert failed.failure().code is ErrorCode.CORRUPTION
            assert "'b'" in failed.failure().message and "no-such-type" in failed.failure().message


@pytest.mark.anyio
async def test_watchers_lists_live_watches_only(
    two: tuple[Any, Any], schema: str, admin: psycopg.Connection[Any]
) -> None:
    first, second = two
    assert (await first.watchers("feed")).unwrap() == []
    async with second.watch_changes("feed", member="one"):
        async with first.watch_changes("feed", member="two"):
            names = [w.member for w in (await first.watchers("feed")).unwrap()]
            assert sorted(names) == ["one", "two"]
        assert [w.member for w in (await first.watchers("feed")).unwrap()] == ["one"]
        # a watcher whose session dies (its process killed) is no longer listed
        assert len(end_feed_sessions(admin, schema, "one")) == 1
        with anyio.fail_after(20):
            while (await first.watchers("feed")).unwrap():  # noqa: ASYNC110 - deadline poll
                await anyio.sleep(0.01)


def test_the_channel_depends_on_the_schema() -> None:
    a = PostgresStorage("postgresql://u@h/db?schema=one")
    b = PostgresStorage("postgresql://u@h/db?schema=two")
    assert a.channel != b.channel and len(a.channel.encode()) <= 63
