"""The link to PostgreSQL cut or stalled under the durable runtime (a real TCP proxy).

The storage talks to the server through :class:`tests.net.proxy.TcpProxy`, which can cut
every connection (and refuse new ones), restore, and freeze (connections stay open, no
byte moves: a stalled link or a hung server, which no error ever reports). A batch is
made to be *in flight* at the cut without any hook in the library: another connection
holds a row lock the batch needs, and the test waits (polling ``pg_stat_activity`` under
a deadline) until the batch's backend is blocked on it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import psycopg
import pytest
from psycopg import sql

from bassline.errors import PersistenceError, StorageUnavailable
from bassline.runtime import BreakerPolicy, RetryPolicy, StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage
from tests.manual_clock import ManualClock
from tests.net.proxy import TcpProxy
from tests.postgres_support import with_parts, with_query

pytestmark = pytest.mark.anyio

SPEC = parse_spec({"id": "flat", "contacts": [{"id": f"c{i}"} for i in range(20)]})


@pytest.fixture
def anyio_backend() -> str:
    """The proxy and the runtime run on one loop; which one does not matter here."""
    return "asyncio"


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[TcpProxy]:
    """A proxy in front of the test server."""
    port = psycopg.conninfo.conninfo_to_dict(postgres_url).get("port") or 5432
    async with TcpProxy(int(port)) as running:
        yield running


def _proxied(store_url: str, proxy: TcpProxy) -> str:
    return with_query(with_parts(store_url, port=proxy.port), connect_timeout="2")


def _stored(postgres_url: str, schema: str) -> dict[str, Any]:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT contact_id, content::text FROM {}.bassline_contacts WHERE network_id = %s"
            ).format(sql.Identifier(schema)),
            ["flat"],
        ).fetchall()
    return {contact: value for contact, value in rows}


async def _wait_until_blocked(admin: psycopg.Connection[Any], locker_pid: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid NOT IN (pg_backend_pid(), %s) "
            "AND query LIKE '%%bassline_contacts%%'",
            [locker_pid],
        ).fetchone()
        if row and row[0]:
            return
        assert time.monotonic() < deadline, "the batch never blocked on the row lock"
        await anyio.sleep(0.01)  # poll under the deadline


async def test_a_link_cut_mid_batch_is_retried_and_the_update_acknowledged_once_it_is_back(
    store_url: str, schema: str, postgres_url: str, admin: Any, proxy: TcpProxy
) -> None:
    async with open_storage(_proxied(store_url, proxy)) as storage:
        runtime = StorageBackedRuntime(
            SPEC, storage, retry=RetryPolicy(initial_delay=0.01, max_delay=0.05, budget=10.0)
        )
        async with runtime:
            await runtime.update_contact("c0", "before")
            locker = psycopg.connect(postgres_url)
            try:
                locker.execute(
                    sql.SQL(
                        "SELECT 1 FROM {}.bassline_contacts WHERE contact_id = 'c0' FOR UPDATE"
                    ).format(sql.Identifier(schema))
                )
                async with anyio.create_task_group() as tg:
                    tg.start_soon(runtime.update_contact, "c0", "during")
                    await _wait_until_blocked(admin, locker.info.backend_pid)
                    proxy.cut()  # the batch's connection dies inside its transaction
                    locker.rollback()
                    with anyio.fail_after(10):
                        # it retries, and fails again (polled under the deadline)
                        while runtime.metrics["retries"] < 2:  # noqa: ASYNC110
                            await anyio.sleep(0.01)
                    proxy.restore()  # the writer above returns only once it is stored
            finally:
                locker.close()
            assert runtime.health().ok, runtime.health().reasons
            metrics = runtime.metrics  # each failed attempt was retried, the last succeeded
            assert metrics["errors"].get("connection", 0) >= 2
            assert sum(metrics["errors"].values()) == metrics["retries"]
    assert _stored(postgres_url, schema)["c0"] == '"during"'


async def test_a_link_down_longer_than_the_budget_fails_the_writer_and_stores_it_later(
    store_url: str, schema: str, postgres_url: str, proxy: TcpProxy
) -> None:
    clock = ManualClock()  # the breaker stays open until the test lets time pass
    async with open_storage(_proxied(store_url, proxy)) as storage:
        runtime = StorageBackedRuntime(
            SPEC,
            storage,
            retry=RetryPolicy(initial_delay=0.01, max_delay=0.05, budget=0.2),
            breaker=BreakerPolicy(reset_timeout=0.05, clock=clock),
        )
        async with runtime:
            await runtime.update_contact("c0", "before")
            proxy.cut()
            with pytest.raises(PersistenceError) as failed:
                await runtime.update_contact("c1", "unacknowledged")
            error = failed.value.error  # type: ignore[attr-defined]
            assert error.code.value == "connection" and error.transient
            health = runtime.health()
            assert not health.ok and health.breaker == "open" and health.queue_depth == 1
            with pytest.raises(StorageUnavailable):
                await runtime.update_contact("c2", "refused")  # open: fails fast
            proxy.restore()
            clock.advance(1)  # past reset_timeout: the next batch is the breaker's trial
            await runtime.update_contact("c2", "after")
            await runtime.flush()
            assert runtime.health().ok, runtime.health().reasons
            assert runtime.metrics["dropped"] == 0
    stored = _stored(postgres_url, schema)
    # the transient failure kept c1 queued: it was stored when the link came back
    assert (stored["c0"], stored["c1"], stored["c2"]) == ('"before"', '"unacknowledged"', '"after"')


async def test_a_stalled_link_shows_in_health_instead_of_hanging_silently(
    store_url: str, schema: str, postgres_url: str, proxy: TcpProxy
) -> None:
    async with open_storage(_proxied(store_url, proxy)) as storage:
        runtime = StorageBackedRuntime(
            SPEC, storage, retry=RetryPolicy(initial_delay=0.01, max_delay=0.05, budget=0.2)
        )
        async with runtime:
            await runtime.update_contact("c0", "before")
            proxy.freeze()
            async with anyio.create_task_group() as tg:
                tg.start_soon(runtime.update_contact, "c0", "stalled")
                try:
                    with anyio.fail_after(30):
                        # poll (under the deadline) for the report
                        while runtime.health().ok:  # noqa: ASYNC110
                            await anyio.sleep(0.01)
                    (reason,) = runtime.health().reasons
                    assert "waiting for an answer" in reason and "not answering" in reason
                finally:
                    proxy.thaw()  # the writer returns once the stalled batch commits
            assert runtime.health().ok, runtime.health().reasons
    assert _stored(postgres_url, schema)["c0"] == '"stalled"'
