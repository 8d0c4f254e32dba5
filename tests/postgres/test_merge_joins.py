"""Writers sharing one PostgreSQL database never lose an acknowledged write to a merge
contact (D62): several storage objects, runtimes and processes adding to one
grow-set end with every element stored. The conformance suite's ``MergeJoinConformance``
(test_conformance.py) checks the join's rules; here, real concurrency."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from bassline_storage_postgres import bulk, joining
from returns.result import Failure

from bassline.clock import Stamp
from bassline.lattices import GrowSet
from bassline.runtime import StorageBackedRuntime
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    JoinsMerges,
    NetworkRecord,
    NetworkStorage,
    open_storage,
)
from bassline.storage.joins import spec_joins
from bassline.testing.storage import merge_spec
from tests.postgres_support import with_query

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parents[2]
CHILD = Path(__file__).with_name("merge_child.py")
DEADLINE = 120.0


async def _stored_set(url: str) -> Any:
    async with open_storage(url) as storage:
        return (await storage.load_contact_content("joins", "g", "set")).unwrap().value


async def test_concurrent_storages_keep_every_element(store_url: str) -> None:
    """Four storage objects (four pools), 80 concurrent one-element writes with random
    stamps, starting on a network nothing was written to (no feed row yet: the first
    writers race to make it)."""
    spec = merge_spec()
    joins = spec_joins(spec)
    rng = random.Random(7)
    storages: list[NetworkStorage] = [open_storage(store_url) for _ in range(4)]
    for storage in storages:
        await storage.__aenter__()
    try:
        (await storages[0].save_network(spec)).unwrap()

        async def add(n: int) -> None:
            storage = storages[n % 4]
            assert isinstance(storage, JoinsMerges)
            stamp = Stamp(rng.randrange(1, 1000), f"w{n % 4}")
            record = ContentRecord("joins", "g", "set", GrowSet([n]), stamp)
            (await storage.write_joining([record], joins)).unwrap()

        async with anyio.create_task_group() as tg:
            for n in range(80):
                tg.start_soon(add, n)
    finally:
        for storage in storages:
            await storage.__aexit__(None, None, None)
    assert await _stored_set(store_url) == GrowSet(range(80))


async def test_writers_saving_the_network_in_their_batch_keep_every_element(
    store_url: str,
) -> None:
    """Four storages each write the spec and one element in one batch, at once, to a
    network not stored yet: there is no feed row to lock, yet every acknowledged element
    is stored (each read nothing and the newest stamp's element alone was kept, in 30
    rounds of 30)."""
    storages: list[NetworkStorage] = [open_storage(store_url) for _ in range(4)]
    for storage in storages:
        await storage.__aenter__()
    try:
        for round_ in range(10):
            spec = merge_spec(f"first{round_}")
            joins = spec_joins(spec)
            acknowledged: set[int] = set()

            async def add(
                n: int, spec: Any = spec, joins: Any = joins, acked: Any = acknowledged
            ) -> None:
                storage = storages[n]
                assert isinstance(storage, JoinsMerges)
                record = ContentRecord(spec.id, "g", "set", GrowSet([n]), Stamp(10 + n, f"w{n}"))
                result = await storage.write_joining([NetworkRecord(spec), record], joins)
                if not isinstance(result, Failure):
                    acked.add(n)

            async with anyio.create_task_group() as tg:
                for n in range(4):
                    tg.start_soon(add, n)
            stored = (await storages[0].load_contact_content(spec.id, "g", "set")).unwrap()
            assert set(stored.value.values) >= acknowledged
            assert acknowledged == {0, 1, 2, 3}  # no deadlock either
    finally:
        for storage in storages:
            await storage.__aexit__(None, None, None)


@pytest.mark.parametrize("follow", [False, True])
async def test_runtimes_adding_at_once_keep_every_element(store_url: str, follow: bool) -> None:
    """Three runtimes (each on its own storage, as three processes) add ten elements
    each, all at once, then close: the reopened store holds all thirty (the report:
    2 runs in 11 lost one)."""
    spec = merge_spec()
    async with open_storage(store_url) as first:
        (await first.save_network(spec)).unwrap()
    async with (
        open_storage(store_url) as s0,
        open_storage(store_url) as s1,
        open_storage(store_url) as s2,
    ):
        async with contextlib.AsyncExitStack() as stack:
            runtimes = [
                await stack.enter_async_context(
                    StorageBackedRuntime(spec, s, node_id=f"n{i}", follow=follow)
                )
                for i, s in enumerate((s0, s1, s2))
            ]

            async def add(i: int, runtime: StorageBackedRuntime) -> None:
                for k in range(10):
                    await runtime.update_contact("set", [f"n{i}-{k}"])

            async with anyio.create_task_group() as tg:
                for i, runtime in enumerate(runtimes):
                    tg.start_soon(add, i, runtime)
    expected = GrowSet(f"n{i}-{k}" for i in range(3) for k in range(10))
    assert await _stored_set(store_url) == expected


async def test_the_writer_learns_what_storage_joined(store_url: str) -> None:
    """Another process stored an element this runtime has not seen; its own write's
    join brings it in (the feed leaves the runtime's own writes out)."""
    spec = merge_spec()
    async with open_storage(store_url) as other, open_storage(store_url) as mine:
        (await other.save_network(spec)).unwrap()
        async with StorageBackedRuntime(spec, mine, node_id="mine", follow=False) as runtime:
            newer = Stamp(runtime.network.clock.tick().hlc + 1000, "other")
            assert isinstance(other, JoinsMerges)
            record = ContentRecord("joins", "g", "set", GrowSet(["theirs"]), newer)
            (await other.write_joining([record], spec_joins(spec))).unwrap()
            await runtime.update_contact("set", ["mine"])
            assert runtime.value("set") == GrowSet(["mine", "theirs"])


def test_processes_adding_at_once_keep_every_element(store_url: str, tmp_path: Path) -> None:
    """Three processes, each a runtime following the feed, start adding together (a line
    on their stdin) and exit when done: the store holds every element each acknowledged."""
    anyio.run(_save_spec, store_url)
    children: list[subprocess.Popen[str]] = []
    for i in range(3):
        with (tmp_path / f"c{i}.log").open("wb") as err:
            children.append(
                subprocess.Popen(
                    [sys.executable, str(CHILD), store_url, f"p{i}", "15"],
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )
            )
    watchdog = threading.Timer(DEADLINE, lambda: [c.kill() for c in children])
    watchdog.start()  # a hung child is killed: its readline below then ends
    try:
        for i, child in enumerate(children):
            assert child.stdout is not None
            line = child.stdout.readline().strip()
            assert line == "ready", f"p{i}: {line!r} {(tmp_path / f'c{i}.log').read_text()}"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for i, child in enumerate(children):
            out, _ = child.communicate(timeout=DEADLINE)
            log = (tmp_path / f"c{i}.log").read_text()
            assert (child.returncode, out.strip()) == (0, "done"), log
    finally:
        watchdog.cancel()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    stored = anyio.run(_stored_set, store_url)
    assert stored == GrowSet(f"p{i}-{k}" for i in range(3) for k in range(15))


async def _save_spec(url: str) -> None:
    async with open_storage(url) as storage:
        (await storage.save_network(merge_spec())).unwrap()


async def test_a_plain_write_sends_what_it_sent_before(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The durable one-row write of an accept-last contact is still the one statement
    :data:`~bassline_storage_postgres.bulk.TAKE_ANNOUNCE_AND_UPSERT_ONE`, without a
    pipeline (one round trip), in a network that has merge contacts too; a write of the
    merge contact pays one more round trip (the locked read) before its pipeline. (Through
    the pool: ``loop_writes`` off; on, the one-row write goes out on the storage's own
    connection, tests/postgres/test_loop_writes.py.)"""
    sent: list[str] = []
    pipelines: list[int] = []
    execute, pipeline = psycopg.Cursor.execute, psycopg.Connection.pipeline

    def spy(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    def spy_pipeline(self: Any) -> Any:
        pipelines.append(1)
        return pipeline(self)

    spec = merge_spec()
    async with open_storage(store_url, loop_writes=False) as storage:
        (await storage.save_network(spec)).unwrap()
        async with StorageBackedRuntime(spec, storage, follow=False) as runtime:
            await runtime.update_contact("plain", 1)  # the network's first write
            monkeypatch.setattr(psycopg.Cursor, "execute", spy)
            monkeypatch.setattr(psycopg.Connection, "pipeline", spy_pipeline)
            await runtime.update_contact("plain", 2)
            assert (sent, pipelines) == ([bulk.TAKE_ANNOUNCE_AND_UPSERT_ONE], [])
            sent.clear()
            await runtime.update_contact("set", ["a"])
            assert sent == [
                "BEGIN",
                joining.LOCK_FIRST,
                joining.ENSURE_FEED,
                joining.LOCK_FEEDS,
                joining.STORED,
                bulk.TAKE_ANNOUNCE_AND_UPSERT_ONE,
                "COMMIT",
            ]
            assert len(pipelines) == 2


async def test_a_locked_read_that_times_out_leaves_the_storage_writing(
    store_url: str, schema: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    """Another transaction holds the network's feed row past the statement timeout: the
    write fails (TIMEOUT, transient, nothing stored) and its connection is rolled back;
    once the row is free, writes succeed again, more than the driver's prepare threshold
    of them (nothing of the failed pipeline was left half-prepared)."""
    spec = merge_spec()
    joins = spec_joins(spec)
    async with open_storage(with_query(store_url, statement_timeout="200", pool_size="1")) as s:
        assert isinstance(s, JoinsMerges)
        (await s.save_network(spec)).unwrap()
        for n in range(4):  # the driver prepares a statement on its fifth execution
            (await s.write_joining([_element(n)], joins)).unwrap()
        with psycopg.connect(admin.info.dsn) as holder:  # a transaction of its own
            holder.execute(f'SET search_path TO "{schema}"')
            holder.execute("SELECT seq FROM bassline_feed WHERE network_id = 'joins' FOR UPDATE")
            failed = await s.write_joining([_element(4)], joins)
            assert isinstance(failed, Failure)
            assert failed.failure().code is ErrorCode.TIMEOUT and failed.failure().transient
        for n in range(5, 12):
            (await s.write_joining([_element(n)], joins)).unwrap()
        stored = (await s.load_contact_content("joins", "g", "set")).unwrap()
    assert stored.value == GrowSet([0, 1, 2, 3, *range(5, 12)])


def _element(n: int) -> ContentRecord:
    return ContentRecord("joins", "g", "set", GrowSet([n]), Stamp(n + 1, "w"))
