"""A connection killed in the middle of a batch: a transient error, and all or nothing stored.

"The middle" is made deterministic without any test hook in the library: another
connection holds the row lock of one contact that the batch's *fourth* content chunk
updates, so the batch stops there, inside its transaction, after it has already
written a new network, its groups and three chunks of contents. The test finds that
backend in ``pg_stat_activity`` (waiting on a lock), kills it with
``pg_terminate_backend``, and then checks that none of the batch is visible.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import psycopg
import pytest
from bassline_storage_postgres import PostgresStorage
from psycopg import sql
from returns.result import Failure

from bassline.clock import Stamp
from bassline.storage import ContentRecord, ErrorCode, NetworkRecord, StorageResult, open_storage
from bassline.testing.storage import sample_bassline

pytestmark = pytest.mark.anyio


def _blocked_backend(admin: psycopg.Connection[tuple[Any, ...]], locker_pid: int) -> int | None:
    row = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid NOT IN (pg_backend_pid(), %s) "
        "AND query LIKE '%%bassline_contacts%%'",
        [locker_pid],
    ).fetchone()
    return None if row is None else int(row[0])


async def test_killed_mid_batch_is_transient_and_leaves_nothing(
    admin: psycopg.Connection[tuple[Any, ...]], store_url: str, schema: str, postgres_url: str
) -> None:
    async with open_storage(store_url) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        existing = [
            ContentRecord("calc", "ui", f"c{i:03d}", "old", Stamp(1, "n")) for i in range(300)
        ]
        (await storage.write(existing)).unwrap()

        storage.content_chunk = 100  # the batch below goes in chunks of 100 contents
        batch: list[Any] = [NetworkRecord(sample_bassline("fresh"))]
        batch += [ContentRecord("fresh", "ui", f"f{i:03d}", i, Stamp(2, "n")) for i in range(200)]
        batch += [
            ContentRecord("calc", "ui", f"c{i:03d}", "new", Stamp(2, "n")) for i in range(300)
        ]

        locker = psycopg.connect(postgres_url)
        try:
            locker_pid = locker.info.backend_pid
            locker.execute(
                sql.SQL(
                    "SELECT 1 FROM {}.bassline_contacts WHERE contact_id = 'c150' FOR UPDATE"
                ).format(sql.Identifier(schema))
            )
            outcome: list[StorageResult[Any]] = []

            async def run_batch() -> None:
                outcome.append(await storage.write(batch))

            async with anyio.create_task_group() as tg:
                tg.start_soon(run_batch)
                deadline = time.monotonic() + 30
                pid = None
                while pid is None:
                    assert time.monotonic() < deadline, "the batch never blocked on the lock"
                    await anyio.sleep(0.01)
                    pid = await anyio.to_thread.run_sync(_blocked_backend, admin, locker_pid)
                killed = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()
                assert killed == (True,)
        finally:
            locker.rollback()
            locker.close()

        [result] = outcome
        assert isinstance(result, Failure), result
        error = result.failure()
        assert error.code is ErrorCode.CONNECTION and error.transient, error

        # fully absent: no network, no new contents, the old values untouched
        assert (await storage.network_exists("fresh")).unwrap() is False
        contents = (await storage.load_contents("calc")).unwrap()
        assert {r.value for r in contents} == {"old"} and len(contents) == 300

        # the pool replaced the dead connection: the same batch now goes through whole
        summary = (await storage.write(batch)).unwrap()
        assert (summary.networks, summary.contents, summary.stale) == (1, 500, 0)
        assert len((await storage.load_contents("fresh")).unwrap()) == 200
        contents = (await storage.load_contents("calc")).unwrap()
        assert {r.value for r in contents} == {"new"}
