"""Faults around the change feed: a server restart, a killed listener, clock skew, specs."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import anyio
import psycopg
import pytest

from bassline.clock import LOGICAL_BITS, Stamp
from bassline.errors import PersistenceError, StorageUnavailable
from bassline.runtime import BreakerPolicy, RetryPolicy, SpecMismatch, StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage
from tests.postgres_support import end_feed_sessions

from .conftest import with_query

SPEC = parse_spec({"id": "faults", "contacts": [{"id": f"c{i}"} for i in range(60)]})


@pytest.fixture
def cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL server of our own (never the shared one)."""
    from tests.runtime.pgcluster import throwaway_cluster

    yield from throwaway_cluster()


async def _converged(runtimes: list[StorageBackedRuntime], url: str, within: float) -> None:
    """Wait until every runtime holds exactly what the database holds (a deadline poll)."""
    rows: dict[str, tuple[int, str]] = {}
    with anyio.move_on_after(within):
        while True:
            with psycopg.connect(url, autocommit=True) as conn:
                rows = {
                    c: (h, bytes(n).decode())
                    for c, h, n in conn.execute(
                        "SELECT contact_id, stamp_hlc, stamp_node FROM bassline_contacts "
                        "WHERE network_id = 'faults'"
                    ).fetchall()
                }
            if all({c: (s.hlc, s.node) for c, _, s in r.state()} == rows for r in runtimes):
                return
            await anyio.sleep(0.05)
    raise AssertionError(f"the runtimes did not catch up within {within}s: {rows}")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_server_restart_mid_run_loses_nothing_and_every_runtime_catches_up(
    cluster: Any, anyio_backend: str
) -> None:
    url = with_query(cluster.url, connect_timeout="2")
    retry = RetryPolicy(initial_delay=0.05, max_delay=0.5, budget=20.0)
    acknowledged: dict[str, Stamp] = {}
    done = 0
    total = 1200
    a_third = anyio.Event()
    restarted: list[int] = []
    async with open_storage(url, migrate=True) as s1, open_storage(url) as s2:
        one = StorageBackedRuntime(
            SPEC, s1, node_id="one", retry=retry, breaker=BreakerPolicy(reset_timeout=0.2)
        )
        two = StorageBackedRuntime(
            SPEC, s2, node_id="two", retry=retry, breaker=BreakerPolicy(reset_timeout=0.2)
        )
        async with one, two:

            async def writer(runtime: StorageBackedRuntime, k: int) -> None:
                nonlocal done
                rng = random.Random(k)
                for j in range(total // 20):
                    contact = f"c{rng.randrange(60)}"
                    while True:
                        try:
                            await runtime.update_contact(contact, [k, j])
                        except StorageUnavailable:
                            await anyio.sleep(0.05)  # poll for the breaker's trial
                            continue
                        except PersistenceError:
                            continue  # applied in memory, not acknowledged: write again
                        stamp = runtime.stamp(contact)
                        acknowledged[contact] = max(acknowledged.get(contact, stamp), stamp)
                        break
                    done += 1
                    if done == total // 3:
                        a_third.set()

            async def restarter() -> None:
                await a_third.wait()
                await anyio.to_thread.run_sync(cluster.restart)
                restarted.append(done)

            with anyio.fail_after(240):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(restarter)
                    for k in range(20):
                        tg.start_soon(writer, one if k % 2 else two, k)
            assert restarted and restarted[0] < total, "the restart was not mid-run"
            await one.flush()
            await two.flush()
            # both listening connections died with the server; each reconnected and caught up
            await _converged([one, two], url, within=60)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = dict(
            conn.execute(
                "SELECT contact_id, stamp_hlc FROM bassline_contacts WHERE network_id = 'faults'"
            ).fetchall()
        )
    for contact, stamp in acknowledged.items():
        assert contact in rows and rows[contact] >= stamp.hlc, f"acknowledged {contact} lost"


@pytest.mark.anyio
async def test_with_the_listening_connection_terminated_no_write_is_missed(
    store_url: str, schema: str, admin: psycopg.Connection[Any]
) -> None:
    ended: list[int] = []  # a terminated session lingers briefly: each round ends a new one
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(SPEC, s1, node_id="writer") as writer:
            reader = StorageBackedRuntime(SPEC, s2, node_id="reader", feed_resync=3600)
            async with reader:  # no safety re-read within the test: only wakeups count
                for round_ in range(3):
                    # wait until the reader listens (again), then kill its connection
                    with anyio.fail_after(30):
                        while not (new := end_feed_sessions(admin, schema, "reader", ended)):  # noqa: ASYNC110
                            await anyio.sleep(0.02)  # a deadline poll on a server view
                    ended += new
                    for i in range(round_ * 3, round_ * 3 + 3):
                        await writer.update_contact(f"c{i}", i)
                caught = anyio.Event()

                def check(_: Any) -> None:
                    if all(reader.value(f"c{i}") == i for i in range(9)):
                        caught.set()

                stop = reader.add_listener(check)
                check(None)
                with anyio.fail_after(30):  # far below the 30 s safety re-read
                    await caught.wait()
                stop()


@pytest.mark.anyio
async def test_clock_skew_between_runtimes_still_orders_causally_later_writes_last(
    store_url: str,
) -> None:
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(SPEC, s1, node_id="fast") as fast:
            async with StorageBackedRuntime(SPEC, s2, node_id="slow") as slow:
                # inject skew: "fast"'s clock runs 5 s ahead of the wall clock
                clock = fast.network.clock
                clock._last = clock.tick().hlc + (5_000 << LOGICAL_BITS)
                await fast.update_contact("c1", "first, from the fast clock")
                first = fast.stamp("c1")
                await _until(slow, lambda: slow.value("c1") == "first, from the fast clock")
                # "slow" writes after it saw that write: its stamp must be later, though its
                # wall clock is 5 s behind (the clock observed the fast stamp)
                await slow.update_contact("c1", "second, from the slow clock")
                assert slow.stamp("c1") > first
                await _until(fast, lambda: fast.value("c1") == "second, from the slow clock")
                # a clock beyond the allowed drift (60 s) is refused, counted, not applied
                clock._last = clock.tick().hlc + (120_000 << LOGICAL_BITS)
                await fast.update_contact("c2", "from the future")
                await _until(slow, lambda: slow.feed.refused >= 1)
                assert slow.value("c2", None) is None
                assert "drift" in str(slow.feed.last_error)


async def _until(runtime: StorageBackedRuntime, check: Any) -> None:
    """Wait until ``check()`` holds, reading the feed again after every wakeup."""
    with anyio.fail_after(20):
        while not check():
            await runtime.catch_up()
            if not check():
                await anyio.sleep(0.02)  # a deadline poll across the follower's reads


@pytest.mark.anyio
async def test_a_runtime_with_another_spec_on_the_same_network_is_refused(store_url: str) -> None:
    other = parse_spec({"id": "faults", "contacts": [{"id": "different"}]})
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(SPEC, s1, node_id="one"):
            with pytest.raises(SpecMismatch) as refused:
                async with StorageBackedRuntime(other, s2, node_id="two"):
                    pass
    assert "spec hash" in str(refused.value) and "replace_spec" in str(refused.value)
