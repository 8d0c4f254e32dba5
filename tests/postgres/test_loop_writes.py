"""One-row writes from the event loop, on the storage's own connection (``loopwrite``).

The first one-row write goes through the pool and opens the writer's connection after it;
later ones go out on that connection. Whatever fails there is written through the pool,
which reports it as before. These tests kill the writer's session with
``pg_terminate_backend``, hold the network's feed row locked in a transaction of their
own to keep a write waiting, and read what was stored back.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import psycopg
import pytest
from bassline_storage_postgres import PostgresStorage
from bassline_storage_postgres.loopwrite import LoopWriter
from psycopg import sql
from returns.result import Failure

from bassline.clock import Stamp
from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import ContentRecord, ErrorCode, open_storage
from bassline.testing.storage import sample_bassline
from tests.postgres_support import with_query

pytestmark = pytest.mark.anyio


def _record(contact: str, value: Any, hlc: int) -> ContentRecord:
    return ContentRecord("calc", "ui", contact, value, Stamp(hlc, "n"))


@pytest.fixture
async def storage(store_url: str) -> AsyncIterator[PostgresStorage]:
    """An open storage with network ``calc`` saved."""
    async with open_storage(store_url) as opened:
        assert isinstance(opened, PostgresStorage)
        (await opened.save_network(sample_bassline("calc"))).unwrap()
        yield opened


def _writer(storage: PostgresStorage) -> LoopWriter:
    writer = storage.loop_writer
    assert writer is not None
    return writer


async def _value(storage: PostgresStorage, contact: str) -> Any:
    return (await storage.load_contact_content("calc", "ui", contact)).unwrap().value


def _end_session(admin: psycopg.Connection[Any], pid: int) -> None:
    assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    for _ in range(1000):  # a terminated backend lingers briefly
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        if row.fetchone() == (0,):
            return
        admin.execute("SELECT pg_sleep(0.01)")  # polling the server's own state
    raise AssertionError(f"backend {pid} did not end")


@contextlib.contextmanager
def _feed_row_held(postgres_url: str, schema: str) -> Iterator[None]:
    """Network ``calc``'s feed row locked by a transaction of another connection (a
    write waits behind it) until the block ends; rolled back then."""
    with psycopg.connect(postgres_url) as holder:
        holder.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        holder.execute("SELECT seq FROM bassline_feed WHERE network_id = 'calc' FOR UPDATE")
        try:
            yield
        finally:
            holder.rollback()


def _waiting_for_lock(conn: psycopg.Connection[Any], pid: int) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid = %s",
        [pid],
    ).fetchone()
    return bool(row and row[0])


async def test_one_row_writes_go_out_on_the_writers_connection_after_the_first(
    storage: PostgresStorage,
) -> None:
    writer = _writer(storage)
    assert writer.backend_pid is None  # nothing written yet: no connection of its own
    for i in range(5):
        summary = (await storage.write([_record(f"c{i}", i, i + 1)])).unwrap()
        assert summary.contents == 1 and summary.stale == 0
    assert (writer.connects, writer.writes, writer.handed_back) == (1, 4, 0)
    # a stale row: stored nothing, said so
    stale = (await storage.write([_record("c0", "old", 0)])).unwrap()
    assert (stale.contents, stale.stale, stale.feed) == (0, 1, None)
    # the feed positions chain from one write to the next, as through the pool
    one = (await storage.write([_record("c1", "x", 10)])).unwrap().feed
    two = (await storage.write([_record("c2", "y", 11)])).unwrap().feed
    assert one is not None and two is not None and two[0] == one[1]
    # a batch of two rows goes through the pool
    (await storage.write([_record("a", 1, 20), _record("b", 2, 20)])).unwrap()
    assert writer.writes == 7
    assert [await _value(storage, c) for c in ("c0", "c1", "c2", "a")] == [0, "x", "y", 1]


async def test_a_write_refused_by_the_server_is_reported_through_the_pool(
    storage: PostgresStorage,
) -> None:
    """Planted: ``write`` returning a summary of nothing stored for a refused statement
    -> the write "succeeds" as stale, its missing group unreported."""
    writer = _writer(storage)
    (await storage.write([_record("c0", 0, 1)])).unwrap()
    pid = writer.backend_pid
    bad = ContentRecord("calc", "no-such-group", "c1", 1, Stamp(2, "n"))
    failed = await storage.write([bad])
    assert isinstance(failed, Failure) and failed.failure().code is ErrorCode.GROUP_NOT_FOUND
    assert writer.handed_back == 1
    # the session is still good: kept, and the next write goes out on it
    assert writer.backend_pid == pid
    (await storage.write([_record("c1", 1, 3)])).unwrap()
    assert writer.writes == 1 and await _value(storage, "c1") == 1


async def test_a_lost_writer_connection_hands_the_write_to_the_pool_and_is_opened_again(
    storage: PostgresStorage, admin: psycopg.Connection[Any]
) -> None:
    """Planted: the connection kept after its session ended (no ``_drop``) -> it is
    never opened again, every later write fails on it first."""
    writer = _writer(storage)
    (await storage.write([_record("c0", 0, 1)])).unwrap()
    pid = writer.backend_pid
    assert pid is not None
    _end_session(admin, pid)
    (await storage.write([_record("c1", 1, 2)])).unwrap()
    assert writer.handed_back == 1 and await _value(storage, "c1") == 1
    # the write through the pool opened the writer's connection again
    assert writer.connects == 2 and writer.backend_pid not in (None, pid)
    (await storage.write([_record("c2", 2, 3)])).unwrap()
    assert writer.writes == 1 and await _value(storage, "c2") == 2


async def test_a_write_cancelled_while_the_server_works_drops_the_connection(
    storage: PostgresStorage, admin: psycopg.Connection[Any], postgres_url: str, schema: str
) -> None:
    """A write waiting on a lock in the server is cancelled: its session's state is
    unknown, so the connection is closed; the next write opens another. Planted: the
    connection kept -> the next write reads the cancelled one's answer."""
    writer = _writer(storage)
    (await storage.write([_record("c0", 0, 1)])).unwrap()
    pid = writer.backend_pid
    assert pid is not None
    with _feed_row_held(postgres_url, schema):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(storage.write, [_record("c1", 1, 2)])
                with anyio.fail_after(20):
                    while not _waiting_for_lock(admin, pid):  # noqa: ASYNC110 - a deadline poll
                        await anyio.sleep(0.01)
                scope.cancel()
        assert writer.backend_pid is None and not writer.ready
    (await storage.write([_record("c2", 2, 3)])).unwrap()
    (await storage.write([_record("c3", 3, 4)])).unwrap()
    assert writer.connects == 2 and writer.writes == 1
    assert (await _value(storage, "c2"), await _value(storage, "c3")) == (2, 3)


async def test_closing_the_storage_fails_a_write_in_flight_as_not_open(
    storage: PostgresStorage, admin: psycopg.Connection[Any], postgres_url: str, schema: str
) -> None:
    writer = _writer(storage)
    (await storage.write([_record("c0", 0, 1)])).unwrap()
    pid = writer.backend_pid
    assert pid is not None
    results: list[Any] = []
    with _feed_row_held(postgres_url, schema):
        async with anyio.create_task_group() as tg:

            async def write() -> None:
                results.append(await storage.write([_record("c1", 1, 2)]))

            tg.start_soon(write)
            with anyio.fail_after(20):
                while not _waiting_for_lock(admin, pid):  # noqa: ASYNC110 - a deadline poll
                    await anyio.sleep(0.01)
            await storage.close()
    (failed,) = results
    assert isinstance(failed, Failure) and failed.failure().code is ErrorCode.CONNECTION
    assert "not open" in failed.failure().message
    assert storage.loop_writer is None and writer.backend_pid is None


async def test_loop_writes_off_writes_everything_through_the_pool(store_url: str) -> None:
    async with open_storage(store_url, loop_writes="off") as storage:
        assert isinstance(storage, PostgresStorage) and storage.loop_writer is None
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        for i in range(3):
            (await storage.write([_record(f"c{i}", i, i + 1)])).unwrap()
        assert await _value(storage, "c2") == 2


async def test_a_durable_runtime_writes_through_the_writers_connection(
    storage: PostgresStorage,
) -> None:
    spec = parse_spec({"id": "d", "contacts": [{"id": f"c{i}"} for i in range(30)]})
    async with StorageBackedRuntime(spec, storage, durability="durable") as runtime:
        for i in range(30):
            await runtime.update_contact(f"c{i}", [i, "payload"])
    writer = _writer(storage)
    assert writer.writes == 29 and writer.handed_back == 0
    stored = (await storage.load_contents("d")).unwrap()
    assert [r.value for r in stored if r.contact == "c29"] == [[29, "payload"]]


async def test_a_statement_timeout_on_the_writers_connection_is_reported_not_retried(
    store_url: str, admin: psycopg.Connection[Any], postgres_url: str, schema: str
) -> None:
    """A one-row write that outlives ``statement_timeout`` fails as a transient timeout at
    once; it is not run through the pool again (which would wait a second timeout), and
    the session is kept. Planted: the cancelled statement handed to the pool (as every
    refusal was) -> ``handed_back`` is 1."""
    async with open_storage(with_query(store_url, statement_timeout="200")) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        writer = _writer(storage)
        (await storage.write([_record("c0", 0, 1)])).unwrap()
        pid = writer.backend_pid
        assert pid is not None
        with _feed_row_held(postgres_url, schema):
            failed = await storage.write([_record("c1", 1, 2)])
            assert isinstance(failed, Failure), failed
        error = failed.failure()
        assert error.code is ErrorCode.TIMEOUT and error.transient
        assert "statement_timeout" in error.message
        assert (writer.cancelled, writer.handed_back) == (1, 0)
        assert writer.backend_pid == pid  # the session is good: kept
        (await storage.write([_record("c1", 1, 3)])).unwrap()
        assert writer.writes == 1 and await _value(storage, "c1") == 1
