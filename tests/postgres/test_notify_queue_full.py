"""The full-NOTIFY-queue fallback: a commit refused for a full queue is written again
without the notification, and readers find it by sequence.

PostgreSQL 15 cannot shrink its 8 GB notification queue (``max_notify_queue_pages``
arrived in 17), so the tests inject the fault at the notification instead: the
``pg_notify`` call in the write path's first statement (``bulk.TAKE_ANNOUNCE_AND_UPSERT``,
and ``bulk.TAKE_ANNOUNCE_AND_UPSERT_ONE`` for a batch of one content row)
is replaced by a call to a PL/pgSQL function that raises
exactly what the server raises for a full queue (SQLSTATE 54000, "too many notifications
in the NOTIFY queue"). The error comes from the real server, in the real write
transaction, inside the pipeline; only its cause is staged. A sequence counts the
injected faults (``nextval`` is not rolled back with the transaction)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from bassline_storage_postgres import bulk
from psycopg import sql

from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage

CALCULATOR = Path(__file__).parents[2] / "examples" / "calculator.json"

_FAULT = """
CREATE SEQUENCE {schema}.notify_faults;
CREATE FUNCTION {schema}.notify_queue_full(channel text, payload text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('{schema}.notify_faults');
    RAISE EXCEPTION 'too many notifications in the NOTIFY queue' USING ERRCODE = '54000';
END $$;
"""


def _faults(admin: psycopg.Connection[Any], schema: str) -> int:
    row = admin.execute(
        sql.SQL("SELECT last_value, is_called FROM {}.notify_faults").format(sql.Identifier(schema))
    ).fetchone()
    assert row is not None
    return int(row[0]) if row[1] else 0


@pytest.fixture
def queue_full(
    admin: psycopg.Connection[Any], schema: str, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Every notification of this process's writes fails as on a full queue."""
    admin.execute(_FAULT.format(schema=schema).encode())
    for name in ("TAKE_ANNOUNCE_AND_UPSERT", "TAKE_ANNOUNCE_AND_UPSERT_ONE"):
        statement = getattr(bulk, name)
        assert statement.count("pg_notify(") == 1
        faulty = statement.replace("pg_notify(", f'"{schema}".notify_queue_full(')
        monkeypatch.setattr(bulk, name, faulty)
    return store_url


@pytest.mark.anyio
async def test_a_commit_refused_for_a_full_notify_queue_is_stored_unannounced(
    queue_full: str, admin: psycopg.Connection[Any], schema: str
) -> None:
    """Planted: the fallback not taken (``_notify_queue_full`` returning False) -> the
    durable write fails with PersistenceError."""
    async with open_storage(queue_full) as s1, open_storage(queue_full) as s2:
        async with (
            StorageBackedRuntime(CALCULATOR, s1, node_id="writer") as writer,
            StorageBackedRuntime(CALCULATOR, s2, node_id="reader", feed_resync=0.2) as reader,
        ):
            before, unannounced = _faults(admin, schema), s1.unannounced  # type: ignore[attr-defined]
            await writer.update_contact("input-a", 7)  # durable: returns once committed
            assert _faults(admin, schema) == before + 1  # the notify failed once...
            # ...and the write was retried without it
            assert s1.unannounced == unannounced + 1  # type: ignore[attr-defined]
            # no wakeup comes; the reader's safety re-read finds it by sequence
            with anyio.fail_after(30):
                while reader.value("input-a") != 7:  # noqa: ASYNC110 - a poll with a deadline
                    await anyio.sleep(0.02)
            assert reader.value("result") == 27  # and it propagated there
            await writer.update_contact("input-b", 1)
            # every write while the queue is full
            assert s1.unannounced == unannounced + 2  # type: ignore[attr-defined]
    with psycopg.connect(queue_full.split("?")[0], autocommit=True) as conn:
        stored = conn.execute(
            sql.SQL(
                "SELECT contact_id, content::text FROM {}.bassline_contacts "
                "WHERE contact_id IN ('input-a', 'input-b') ORDER BY contact_id"
            ).format(sql.Identifier(schema))
        ).fetchall()
    assert stored == [("input-a", "7"), ("input-b", "1")]
