"""The durable runtime on real PostgreSQL: the seed's integration test, and a server restart."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from psycopg import sql

from bassline.clock import Stamp
from bassline.errors import PersistenceError, StorageUnavailable
from bassline.runtime import BreakerPolicy, RetryPolicy, StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage

from .conftest import with_query

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.anyio
async def test_after_a_durable_update_returns_another_connection_reads_it(
    store_url: str, schema: str, postgres_url: str
) -> None:
    async with open_storage(store_url) as storage:
        async with StorageBackedRuntime(EXAMPLES / "calculator.json", storage) as runtime:
            await runtime.update_contact("input-a", 5)
            # not through the runtime, nor through our backend: a plain separate connection
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                row = conn.execute(
                    sql.SQL(
                        "SELECT content::text, stamp_hlc FROM {}.bassline_contacts "
                        "WHERE network_id = %s AND contact_id = %s"
                    ).format(sql.Identifier(schema)),
                    ("calculator", "result"),
                ).fetchone()
            assert row is not None
            assert row[0].replace(" ", "") == "25"
            assert row[1] == runtime.network.stamp("result").hlc


def _pg_bin() -> Path | None:
    from tests.runtime.pgcluster import find_pg_bin

    return find_pg_bin()


@pytest.fixture
def cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL server of our own (never the shared one)."""
    from tests.runtime.pgcluster import throwaway_cluster

    yield from throwaway_cluster()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_postgres_restart_mid_run_loses_no_acknowledged_update(
    cluster: Any, anyio_backend: str
) -> None:
    url = with_query(cluster.url, connect_timeout="2")
    spec = parse_spec({"id": "restart", "contacts": [{"id": f"c{i}"} for i in range(500)]})
    acknowledged: dict[str, Stamp] = {}
    refused = 0
    total = 20_000
    done = 0
    restarted = anyio.Event()
    a_third_done = anyio.Event()
    progress: list[int] = []
    async with open_storage(url, migrate=True) as storage:
        runtime = StorageBackedRuntime(
            spec,
            storage,
            retry=RetryPolicy(initial_delay=0.05, max_delay=0.5, budget=20.0),
            breaker=BreakerPolicy(reset_timeout=0.2),
        )
        async with runtime:

            async def writer(k: int) -> None:
                nonlocal done, refused
                rng = random.Random(k)
                for j in range(total // 50):
                    contact = f"c{rng.randrange(500)}"
                    while True:
                        try:
                            await runtime.update_contact(contact, [k, j])
                            acknowledged[contact] = max(
                                acknowledged.get(contact, Stamp(0, "")),
                                runtime.network.stamp(contact),
                            )
                            break
                        except StorageUnavailable:
                            refused += 1  # not applied; wait for the trial and write again
                            await anyio.sleep(0.05)  # poll for the breaker's trial
                        except PersistenceError:
                            refused += 1  # applied in memory, not acknowledged; write again
                    done += 1
                    if done == total // 3:
                        a_third_done.set()

            async def restarter() -> None:
                await a_third_done.wait()
                await anyio.to_thread.run_sync(cluster.restart)
                progress.append(done)
                restarted.set()

            with anyio.fail_after(240):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(restarter)
                    for k in range(50):
                        tg.start_soon(writer, k)
            assert restarted.is_set()
            assert progress[0] < total, "the server restarted after the run, not during it"
            assert done == total
            metrics = runtime.metrics
            assert metrics["retries"] > 0 or refused > 0, "the restart was not noticed"
    with psycopg.connect(url, autocommit=True) as conn:
        rows = dict(
            conn.execute(
                "SELECT contact_id, stamp_hlc FROM bassline_contacts WHERE network_id = 'restart'"
            ).fetchall()
        )
    for contact, stamp in acknowledged.items():
        assert contact in rows and rows[contact] >= stamp.hlc, f"acknowledged {contact} lost"
