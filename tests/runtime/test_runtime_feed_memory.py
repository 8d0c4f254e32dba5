"""Two runtimes on one named memory store follow each other (the feed within a process)."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest
from bassline_storage_memory import drop_store

from bassline.clock import Stamp
from bassline.engine import Network, PropagationResult
from bassline.runtime import StorageBackedRuntime
from bassline.runtime.follower import Follower
from bassline.spec import load_spec
from bassline.storage import ContentRecord, NetworkRecord, open_storage
from tests.ownership_support import two_adders

CALCULATOR = Path(__file__).parents[2] / "examples" / "calculator.json"


@pytest.mark.anyio
async def test_two_runtimes_on_a_named_memory_store_see_each_others_writes() -> None:
    url = f"memory://feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as s1, open_storage(url) as s2:
            async with StorageBackedRuntime(CALCULATOR, s1, node_id="one") as one:
                async with StorageBackedRuntime(CALCULATOR, s2, node_id="two") as two:
                    arrived = anyio.Event()

                    def seen(_: PropagationResult) -> None:
                        if two.value("result") == 25:
                            arrived.set()

                    stop = two.add_listener(seen)
                    await one.update_contact("input-a", 5)
                    with anyio.fail_after(10):
                        await arrived.wait()
                    stop()
                    assert two.value("input-a") == 5
                    assert two.feed.applied >= 1
                    watchers = await s1.watchers("calculator")  # type: ignore[attr-defined]
                    assert sorted(w.member for w in watchers.unwrap()) == ["one", "two"]
    finally:
        drop_store(url.removeprefix("memory://"))


@pytest.mark.anyio
async def test_a_private_memory_store_follows_without_waking_for_its_own_writes() -> None:
    async with open_storage("memory://") as storage:
        async with StorageBackedRuntime(CALCULATOR, storage, node_id="solo") as solo:
            for i in range(20):
                await solo.update_contact("input-a", i)
            await solo.catch_up()
            # its own writes come back only on an explicit read, and are skipped, not applied
            assert solo.feed.applied == 0 and solo.feed.reads == 2


@pytest.mark.anyio
async def test_a_runtime_never_reads_its_own_writes_back_from_the_feed() -> None:
    # each write reports its feed positions and the follower moves past it: a safety
    # re-read (here an explicit one) finds nothing of the runtime's own
    async with open_storage("memory://") as storage:
        async with StorageBackedRuntime(CALCULATOR, storage, node_id="solo") as solo:
            for i in range(20):
                await solo.update_contact("input-a", i)
            await solo.catch_up()
            position = (await storage.feed_position("calculator")).unwrap()  # type: ignore[attr-defined]
            assert (solo.feed.skipped, solo.feed.cursor) == (0, position)


@pytest.mark.anyio
async def test_a_write_by_another_storage_in_between_is_still_read() -> None:
    # the other storage writes first, unread; then the follower's own storage writes:
    # the cursor must not move past the other write's record
    url = f"memory://feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as mine, open_storage(url) as other:
            spec = load_spec(CALCULATOR)
            (await mine.write([NetworkRecord(spec)])).unwrap()
            network = Network(spec, node_id="mine")
            follower = Follower(mine, network, member="mine", resync=30.0)  # type: ignore[arg-type]
            await follower.start_position()
            stamp = Stamp(network.clock.tick().hlc, "other")
            record = ContentRecord("calculator", "root", "input-b", 7, stamp)
            (await other.write([record])).unwrap()
            own = ContentRecord("calculator", "root", "input-a", 3, network.clock.tick())
            summary = (await mine.write([own])).unwrap()
            assert summary.feed is not None
            follower.wrote(*summary.feed)
            assert await follower.catch_up()
            assert network.value("input-b") == 7 and follower.stats.applied >= 1
    finally:
        drop_store(url.removeprefix("memory://"))


@pytest.mark.anyio
async def test_runtimes_name_their_store_alike_exactly_when_they_share_it() -> None:
    """The feed identity a node sends in its hello (``docs/network.md``): equal on one named
    memory store, different on another, None without a feed."""
    url, other = f"memory://feed-{uuid.uuid4().hex}", f"memory://feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as s1, open_storage(url) as s2, open_storage(other) as s3:
            async with (
                StorageBackedRuntime(CALCULATOR, s1, node_id="one") as one,
                StorageBackedRuntime(CALCULATOR, s2, node_id="two") as two,
                StorageBackedRuntime(CALCULATOR, s3, node_id="three") as three,
                StorageBackedRuntime(CALCULATOR, s3, node_id="four", follow=False) as four,
            ):
                assert one.feed_identity is not None
                assert one.feed_identity == two.feed_identity != three.feed_identity
                assert three.feed_identity is not None and four.feed_identity is None
                assert one.from_feed() is None  # only while a feed batch is applied
    finally:
        drop_store(url.removeprefix("memory://"))
        drop_store(other.removeprefix("memory://"))


@pytest.mark.anyio
async def test_a_value_from_the_feed_is_explained_by_the_writers_justification() -> None:
    """Planted: the follower dropping the records' justifications -> the gadget output is
    explained as a write applied from storage, and this fails."""
    from tests.provenance_restart import feed_explains_what_another_process_wrote

    url = f"memory://feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as s1, open_storage(url) as s2:
            await feed_explains_what_another_process_wrote(s1, s2)
    finally:
        drop_store(url.removeprefix("memory://"))


@pytest.mark.anyio
async def test_from_feed_tells_which_changes_storage_already_holds_while_a_batch_applies() -> None:
    """``from_feed()`` (what the node asks before gossiping a change): while a feed batch is
    applied, a test of whether a changed contact holds exactly what storage has; outside
    one, and always for a runtime that does not follow the feed, None."""
    url = f"memory://feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as s1, open_storage(url) as s2, open_storage(url) as s3:
            async with (
                StorageBackedRuntime(CALCULATOR, s1, node_id="one") as one,
                StorageBackedRuntime(CALCULATOR, s2, node_id="two") as two,
                StorageBackedRuntime(CALCULATOR, s3, node_id="three", follow=False) as three,
            ):
                answers: list[tuple[bool, bool] | None] = []
                arrived = anyio.Event()

                def seen(_: PropagationResult) -> None:
                    held = two.from_feed()
                    if two.value("input-a") != 5:
                        return
                    stamp = two.stamp("input-a")
                    answers.append(
                        None
                        if held is None
                        else (held("input-a", 5, stamp), held("input-a", 6, stamp))
                    )
                    arrived.set()

                two.add_listener(seen)
                unfollowed: list[object] = []
                three.add_listener(lambda _: unfollowed.append(three.from_feed()))
                await one.update_contact("input-a", 5)
                with anyio.fail_after(10):
                    await arrived.wait()
                assert answers[-1] == (True, False)
                assert two.from_feed() is None
                await three.update_contact("input-a", 1)
                assert unfollowed == [None] and three.from_feed() is None
    finally:
        drop_store(url.removeprefix("memory://"))


@pytest.mark.anyio
async def test_values_from_the_feed_are_not_written_back_but_what_they_cause_is() -> None:
    """The writer runs no gadgets, the adder runs them all: the inputs reach the adder
    through the feed and are not stored again; the sum it computes from them is stored,
    with its value, stamp and justification."""
    url = f"memory://feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as s1, open_storage(url) as s2, open_storage(url) as s3:
            async with (
                StorageBackedRuntime(two_adders(), s1, node_id="writer", run_groups=[]) as writer,
                StorageBackedRuntime(two_adders(), s2, node_id="adder") as adder,
            ):
                opened = adder.metrics["flushed"]
                await writer.update_many({"l-a": 1, "l-b": 2})
                with anyio.fail_after(10):
                    while adder.value("l-sum", None) != 3:  # noqa: ASYNC110 - a poll, deadline
                        await anyio.sleep(0.005)
                await adder.flush()
                # left.sum and l-sum: the four inputs (l-a, l-b, left.a, left.b) came stored
                assert adder.metrics["flushed"] - opened == 2
                records = {r.contact: r for r in (await s3.load_contents("adders")).unwrap()}
                for cid in ("left.sum", "l-sum"):
                    record = records[cid]
                    assert (record.value, record.stamp) == (3, adder.stamp(cid))
                    assert record.justification is not None
                    assert record.justification == adder.network.stored_justification(cid)
                assert records["l-a"].stamp.node == "writer"
                assert writer.run_groups == frozenset()  # l-sum reaches it only from the feed
    finally:
        drop_store(url.removeprefix("memory://"))


@pytest.mark.anyio
async def test_a_listener_that_raises_on_a_feed_change_is_logged_and_following_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A listener raising on what the feed brought ended the follower's task, and with it
    the whole runtime (an ``ExceptionGroup`` out of its ``async with``)."""
    url = f"memory://feed-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as s1, open_storage(url) as s2:
            async with StorageBackedRuntime(CALCULATOR, s1, node_id="one") as one:
                async with StorageBackedRuntime(CALCULATOR, s2, node_id="two") as two:

                    def fussy(_: PropagationResult) -> None:
                        raise RuntimeError("a bug in the caller's listener")

                    stop = two.add_listener(fussy)
                    await one.update_contact("input-a", 5)
                    await two.catch_up()
                    stop()
                    await one.update_contact("input-a", 6)
                    await two.catch_up()  # still following: the next change arrives too
                    assert (two.value("input-a"), two.value("result")) == (6, 26)
        assert [r.getMessage() for r in caplog.records if r.name == "bassline.runtime"] == [
            "a listener raised on changes applied from the feed of 'calculator'"
        ]
    finally:
        drop_store(url.removeprefix("memory://"))
