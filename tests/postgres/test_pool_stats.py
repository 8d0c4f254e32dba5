"""The connection pool's statistics on a real server: storage, runtime, /metrics, status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from bassline_storage_postgres import PostgresStorage
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from bassline.cli.app import main
from bassline.net import BasslineNetwork, NodeServer
from bassline.storage import PoolStats
from tests.net.conftest import FAST, flat, wait_until

pytestmark = pytest.mark.anyio


def _stats(storage: PostgresStorage) -> PoolStats:
    stats = storage.pool_stats()
    assert stats is not None
    return stats


def _holds(storage: PostgresStorage, check: Callable[[PoolStats], bool]) -> Callable[[], bool]:
    return lambda: check(_stats(storage))


async def test_pool_stats_count_connections_overflow_and_waits(
    store_url: str, postgres_url: str, schema: str
) -> None:
    storage = PostgresStorage(store_url, pool_size=1, max_overflow=1)
    assert storage.pool_stats() is None  # not open
    async with storage:
        idle = _stats(storage)
        assert (idle.size, idle.max_overflow, idle.in_use, idle.overflow) == (1, 1, 0, 0)
        assert (idle.waiting, idle.waits, idle.wait_seconds) == (0, 0, 0.0)
        assert idle.open == 1  # the connection open() checked the schema on, kept
        # a transaction holding the networks table: every read of it waits on the server
        with psycopg.connect(postgres_url) as locker:
            table = sql.Identifier(schema, "bassline_networks")
            locker.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
            results: list[Any] = []

            async def call(op: Callable[[], Any]) -> None:
                results.append(await op())

            async with anyio.create_task_group() as tg:
                tg.start_soon(call, storage.list_networks)
                tg.start_soon(call, storage.list_networks)
                await wait_until(_holds(storage, lambda s: s.in_use == 2), what="2 in use")
                busy = _stats(storage)
                assert (busy.open, busy.overflow, busy.waiting) == (2, 1, 0)
                tg.start_soon(call, storage.health)  # no connection left: it waits
                await wait_until(_holds(storage, lambda s: s.waiting == 1), what="a waiter")
                locker.commit()  # the reads finish and give their connections back
        assert len(results) == 3 and all(r.unwrap() is not None for r in results)
        done = _stats(storage)
        assert (done.in_use, done.waiting, done.waits) == (0, 0, 1)
        assert done.wait_seconds > 0
    assert storage.pool_stats() is None  # closed


async def test_pool_stats_reach_metrics_status_and_the_cli(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        PostgresStorage(store_url, pool_size=3) as storage,
        BasslineNetwork("pg", flat(2), storage=storage, settings=FAST) as net,
        NodeServer(net, "127.0.0.1", 0) as server,
    ):
        assert server.url is not None
        await net.update_contact("c0", 1)
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            text = (await http.get("/metrics")).text
            status = (await http.get("/api/status")).json()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["bassline_storage_pool_size"].samples[0].value == 3
        assert families["bassline_storage_pool_waits"].type == "counter"
        assert families["bassline_storage_pool_connections_open"].samples[0].value >= 1
        pool = status["storage"]["pool"]
        assert pool["size"] == 3 and pool["in_use"] == 0 and pool["waits"] == 0
        assert net.runtime is not None and net.runtime.metrics["pool"]["size"] == 3
        code = await anyio.to_thread.run_sync(main, ["status", str(server.url)])
        shown = capsys.readouterr()
        assert code == 0, shown.err
        assert "pool 0/3 connections in use" in shown.out


async def test_a_storage_without_a_pool_shows_none(capsys: pytest.CaptureFixture[str]) -> None:
    async with (
        BasslineNetwork("mem", flat(1), settings=FAST) as net,
        NodeServer(net, "127.0.0.1", 0) as server,
    ):
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            text = (await http.get("/metrics")).text
            status = (await http.get("/api/status")).json()
        assert "bassline_storage_pool" not in text and status["storage"]["pool"] is None
        assert await anyio.to_thread.run_sync(main, ["status", str(server.url)]) == 0
        assert "pool" not in capsys.readouterr().out
