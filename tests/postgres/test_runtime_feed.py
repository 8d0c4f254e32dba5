"""Two runtimes on one PostgreSQL database see each other's writes while running."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from bassline.clock import Stamp
from bassline.engine import Network, PropagationResult
from bassline.lattices import GrowSet
from bassline.runtime import StorageBackedRuntime
from bassline.runtime.follower import Follower
from bassline.spec import load_spec
from bassline.storage import ContentRecord, NetworkRecord, open_storage

EXAMPLES = Path(__file__).parents[2] / "examples"
CALCULATOR = EXAMPLES / "calculator.json"


async def _until(runtime: StorageBackedRuntime, check: Callable[[], bool]) -> None:
    """Wait (with a deadline) until ``check()`` holds, re-checking after every run."""
    changed = anyio.Event()

    def poke(_: PropagationResult) -> None:
        changed.set()

    stop = runtime.add_listener(poke)
    try:
        with anyio.fail_after(20):
            while not check():
                await changed.wait()
                changed = anyio.Event()
    finally:
        stop()


def _writes(postgres_url: str, schema: str) -> int:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute(f'SELECT coalesce(max(seq), 0) FROM "{schema}".bassline_feed').fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.anyio
async def test_two_runtimes_see_each_others_writes_while_running(
    store_url: str, postgres_url: str, schema: str
) -> None:
    """The issue's repro: one runtime wrote 10 to input-a, the other kept showing 20."""
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(CALCULATOR, s1, node_id="one") as one:
            async with StorageBackedRuntime(CALCULATOR, s2, node_id="two") as two:
                assert one.feed.following and two.feed.following
                await one.update_contact("input-a", 15)
                # the value arrives and propagates through two's gadget
                await _until(two, lambda: two.value("result") == 35)
                assert two.value("input-a") == 15
                # read on the listening connection after the wakeup, not through the pool
                assert two.feed.watch_reads >= 1
                assert two.stamp("input-a") == one.stamp("input-a")
                await two.update_contact("input-b", 1)
                await _until(one, lambda: one.value("result") == 16)
                with anyio.fail_after(20):  # settle: each pass stores and reads once more
                    while True:
                        await one.flush()
                        await two.flush()
                        await one.catch_up()
                        await two.catch_up()
                        if list(one.state()) == list(two.state()):
                            break
                assert one.values() == two.values()
                # read up to the cursor: reading again applies nothing (nothing twice)
                marks = (one.feed.applied, two.feed.applied)
                writes = _writes(postgres_url, schema)
                await one.catch_up()
                await two.catch_up()
                assert marks == (one.feed.applied, two.feed.applied)
                assert _writes(postgres_url, schema) == writes  # and writes nothing back


@pytest.mark.anyio
async def test_values_from_the_feed_are_not_written_back(store_url: str) -> None:
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(CALCULATOR, s1, node_id="one") as one:
            async with StorageBackedRuntime(CALCULATOR, s2, node_id="two") as two:
                written: list[str] = []
                write = s2.write

                async def spy(batch: Any) -> Any:
                    written.extend(r.contact for r in batch)
                    return await write(batch)

                s2.write = spy  # type: ignore[method-assign]
                await one.update_contact("input-b", 7)
                await _until(two, lambda: two.value("input-b") == 7)
                await two.flush()
                assert two.feed.applied >= 2
                # what came from storage is not written again; two's own gadget (it runs
                # every group: no ownership here) may store what it derived
                assert "input-b" not in written and "add-b" not in written
                assert set(written) <= {"add-sum", "result"}


@pytest.mark.anyio
async def test_a_runtime_started_later_catches_up_and_follow_false_does_not_follow(
    store_url: str,
) -> None:
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(CALCULATOR, s1, node_id="one") as one:
            await one.update_contact("input-a", 1)
            async with StorageBackedRuntime(CALCULATOR, s2, node_id="two", follow=False) as two:
                assert not two.feed.following
                assert two.value("result") == 21  # recovered on open
                await one.update_contact("input-a", 2)
                await two.catch_up()  # a no-op when not following
                assert two.value("input-a") == 1


@pytest.mark.anyio
async def test_a_merge_contacts_joined_value_with_the_stamp_it_holds_is_applied(
    store_url: str,
) -> None:
    """A join may keep its stamp, so on a merge contact the same stamp is not the same
    value: four processes writing one grow-set once stayed apart (three held a subset at
    the stamp the database held the whole set under). Planted: records skipped on the
    stamp alone -> the runtime keeps {"a"}."""
    spec = {
        "id": "tagged",
        "groups": [{"id": "root"}],
        "contacts": [{"id": "tags", "group": "root", "lattice": "grow-set"}],
    }
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(spec, s1, node_id="one") as one:
            await one.update_contact("tags", GrowSet({"a"}))
            stamp = one.stamp("tags")
            joined = ContentRecord("tagged", "root", "tags", GrowSet({"a", "b"}), stamp)
            assert (await s2.write([joined])).unwrap().contents == 1  # same stamp, more
            await one.catch_up()
            assert one.value("tags") == GrowSet({"a", "b"})


@pytest.mark.anyio
async def test_a_value_from_the_feed_is_explained_by_the_writers_justification(
    store_url: str,
) -> None:
    """The feed's records carry the stored justification into the reader's explanation
    (planted: the follower dropping it -> a write applied from storage, and this fails)."""
    from tests.provenance_restart import feed_explains_what_another_process_wrote

    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        await feed_explains_what_another_process_wrote(s1, s2)


@pytest.mark.anyio
async def test_the_follower_leaves_its_own_writes_out_of_its_reads(store_url: str) -> None:
    """Another process's write, then this one's (reported by ``WriteSummary.feed`` as
    lying after it), then another's: the read on the watch brings the two others' records
    and not its own, and the cursor passes the own write also when it comes last.
    Planted: the follower passing no own positions to the read -> its own record is read
    back (applied: the test's engine does not hold it)."""
    async with open_storage(store_url) as mine, open_storage(store_url) as other:
        spec = load_spec(CALCULATOR)
        (await mine.write([NetworkRecord(spec)])).unwrap()
        (await other.write([_content("input-b", 0, Stamp(1, "other"))])).unwrap()
        network = Network(spec, node_id="mine")
        follower = Follower(mine, network, member="mine", resync=30.0)  # type: ignore[arg-type]
        await follower.start_position()
        async with mine.watch_changes("calculator", member="mine") as watch:
            # an own write right after the cursor: passed at once, nothing to read
            own = (await mine.write([_content("input-a", 1, network.clock.tick())])).unwrap()
            follower.wrote(*own.feed)
            assert follower.stats.cursor == own.feed[1]
            for last_is_own in (False, True):
                (await other.write([_content("input-b", 7, network.clock.tick())])).unwrap()
                stamp = network.clock.tick()
                own = (await mine.write([_content("input-a", 3, stamp)])).unwrap()
                follower.wrote(*own.feed)
                assert follower.stats.cursor < own.feed[0]  # the other write is unread
                if not last_is_own:
                    (await other.write([_content("result", 1, network.clock.tick())])).unwrap()
                applied = follower.stats.applied
                assert await follower.catch_up(watch)  # type: ignore[arg-type]
                assert follower.stats.watch_reads >= 1
                assert follower.stats.applied == applied + (1 if last_is_own else 2)
                assert network.value("input-b") == 7 and network.value("input-a") != 3
                position = (await mine.feed_position("calculator")).unwrap()
                assert follower.stats.cursor == position


def _content(contact: str, value: Any, stamp: Stamp) -> ContentRecord:
    return ContentRecord("calculator", "root", contact, value, stamp)
