"""The one-round-trip write: what it announces, and pooled connections without a ping.

A write sends ``BEGIN``, its statements (the feed sequence, the notification and the
first content chunk in one statement) and ``COMMIT`` together; a pooled connection is
pinged on checkout only after :data:`~bassline_storage_postgres.engine.PING_AFTER`
seconds idle. These tests kill pooled connections with ``pg_terminate_backend`` and
listen on the schema's channel with a connection of their own.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from bassline_storage_postgres import PostgresStorage
from bassline_storage_postgres import engine as engine_module
from psycopg import sql
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import GroupSpec
from bassline.storage import ContentRecord, ErrorCode, GroupRecord, open_storage
from bassline.testing.storage import sample_bassline

pytestmark = pytest.mark.anyio


def _pooled_pids(storage: PostgresStorage) -> list[int]:
    """Server pids of the connections idle in the storage's pool."""
    engine = storage.engine
    assert engine is not None
    records = list(engine.pool._pool.queue)  # type: ignore[attr-defined]
    return [r.dbapi_connection.info.backend_pid for r in records if r.dbapi_connection]


def _kill(admin: psycopg.Connection[Any], pids: list[int]) -> None:
    assert pids, "the pool holds no idle connection"
    for pid in pids:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    # wait until the server has really ended them (a terminated backend lingers briefly)
    for _ in range(1000):
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
        ).fetchone()
        if row == (0,):
            return
        admin.execute("SELECT pg_sleep(0.01)")  # polling the server's own state
    raise AssertionError(f"backends {pids} did not end")


async def test_a_write_announces_writer_and_network_only_when_it_commits(
    postgres_url: str, store_url: str, schema: str
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as listener:
        async with open_storage(store_url) as storage:
            assert isinstance(storage, PostgresStorage)
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(storage.channel)))
            (await storage.save_network(sample_bassline("calc"))).unwrap()
            (await storage.save_network(sample_bassline("other"))).unwrap()
            failed = await storage.write(
                [ContentRecord("calc", "no-such-group", "c1", 1, Stamp(1, "n"))]
            )
            assert isinstance(failed, Failure)
            assert failed.failure().code is ErrorCode.GROUP_NOT_FOUND
            (await storage.write([ContentRecord("other", "ui", "c1", 2, Stamp(2, "n"))])).unwrap()
            (await storage.write([ContentRecord("calc", "ui", "c1", 3, Stamp(3, "n"))])).unwrap()
        notes = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
    # the failed batch announced nothing: the first notification is the next write's
    assert notes == [f"{storage.writer} other", f"{storage.writer} calc"]


async def test_a_connection_idle_past_ping_after_is_pinged_and_replaced(
    admin: psycopg.Connection[Any], store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_storage(store_url) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        _kill(admin, _pooled_pids(storage))
        monkeypatch.setattr(engine_module, "PING_AFTER", 0.0)  # every connection is "idle"
        (await storage.write([ContentRecord("calc", "ui", "c1", 1, Stamp(1, "n"))])).unwrap()
        assert (await storage.load_contact_content("calc", "ui", "c1")).unwrap().value == 1


async def test_a_connection_used_moments_ago_is_not_pinged_its_death_is_transient(
    admin: psycopg.Connection[Any], store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_storage(store_url) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        _kill(admin, _pooled_pids(storage))
        monkeypatch.setattr(engine_module, "PING_AFTER", 3600.0)  # no connection is pinged
        record = ContentRecord("calc", "ui", "c1", 1, Stamp(1, "n"))
        first = await storage.write([record])
        assert isinstance(first, Failure), first
        error = first.failure()
        assert error.code is ErrorCode.CONNECTION and error.transient, error
        # the pool discarded the dead connections: the retry goes through
        (await storage.write([record])).unwrap()
        assert (await storage.load_contact_content("calc", "ui", "c1")).unwrap().value == 1


async def test_a_one_row_write_is_one_statement_the_server_keeps_a_plan_of(
    store_url: str,
) -> None:
    """A durable write of one contact runs ``bulk.TAKE_ANNOUNCE_AND_UPSERT_ONE``, whose
    generic plan the server keeps, instead of planning the ``unnest`` statement anew on
    every write. Planted: ``_one_row`` returning None (every batch on the pipeline) -> the
    pooled session holds only the array statement, with no generic plan. (The pool's path:
    ``loop_writes`` off; the storage's own connection prepares the same statement,
    tests/postgres/test_loop_writes.py.)"""
    async with open_storage(store_url, loop_writes=False) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        for i in range(20):  # psycopg prepares after 5 runs; the server keeps a plan after 5
            record = ContentRecord("calc", "ui", f"c{i}", i, Stamp(i + 1, "n"))
            (await storage.write([record])).unwrap()
        engine = storage.engine
        assert engine is not None and len(_pooled_pids(storage)) == 1  # one session wrote
        with engine.connect() as conn:
            plans = conn.exec_driver_sql(
                "SELECT statement, generic_plans FROM pg_prepared_statements "
                "WHERE strpos(statement, 'bassline_feed') > 0"
            ).all()
        assert len(plans) == 1, plans
        statement, generic = plans[0]
        assert "unnest" not in statement and generic >= 10, plans
        assert (await storage.load_contact_content("calc", "ui", "c19")).unwrap().value == 19


async def test_a_batch_that_fails_on_the_pipeline_leaves_no_statement_half_prepared(
    store_url: str,
) -> None:
    """A batch whose group record names a network that is not stored fails at its first
    statement, and the server skips the rest of the pipeline, preparing nothing there;
    psycopg, which prepares a statement on its sixth run, must not then take the content
    statement for prepared. Written for a failure the backend parity test found: the next
    good write failed with 'prepared statement "_pg3_3" does not exist'."""
    async with open_storage(store_url) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        for i in range(12):
            bad = [
                GroupRecord("missing", GroupSpec(id="g", name="g", parent=None)),
                ContentRecord("calc", "ui", "a", i, Stamp(i + 1, "n")),
                ContentRecord("calc", "ui", "b", i, Stamp(i + 1, "n")),
            ]
            failed = await storage.write(bad)
            assert isinstance(failed, Failure), failed
            good = [
                ContentRecord("calc", "ui", "a", i, Stamp(i + 1, "n")),
                ContentRecord("calc", "ui", "b", i, Stamp(i + 1, "n")),
            ]
            (await storage.write(good)).unwrap()
        assert (await storage.load_contact_content("calc", "ui", "b")).unwrap().value == 11
