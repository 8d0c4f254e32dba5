"""The runtime's circuit breaker and storage queue, step by step.

The breaker reads a :class:`ManualClock`, so it opens and half-opens exactly when the
test says; the queue is driven call by call, so what it coalesces, keeps and hands out
is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio
import pytest

from bassline.clock import Stamp
from bassline.runtime.breaker import BreakerState, CircuitBreaker
from bassline.runtime.policy import BreakerPolicy, RetryPolicy
from bassline.runtime.queue import StorageQueue
from bassline.storage import ContentRecord, ErrorCode, StorageError
from tests.manual_clock import ManualClock


def breaker(threshold: int = 2, reset: float = 5.0) -> tuple[CircuitBreaker, ManualClock]:
    clock = ManualClock()
    return CircuitBreaker(BreakerPolicy(threshold, reset, clock=clock)), clock


def test_the_breaker_opens_after_the_threshold_of_failures_in_a_row() -> None:
    b, _ = breaker(threshold=2)
    assert b.state is BreakerState.CLOSED and b.allows_writes()
    assert b.seconds_until_trial() == 0.0
    assert b.last_error is None and b.transitions == {}
    b.record_failure("first")
    assert b.state is BreakerState.CLOSED and b.allows_writes()
    assert b.last_error == "first"
    b.record_failure("second")
    assert b.state is BreakerState.OPEN and not b.allows_writes()
    assert b.last_error == "second"
    assert b.transitions == {"closed->open": 1}


def test_a_success_resets_the_count_of_failures() -> None:
    b, _ = breaker(threshold=2)
    b.record_failure("one")
    b.record_success()
    assert b.last_error is None
    b.record_failure("two")
    assert b.state is BreakerState.CLOSED
    assert b.transitions == {}  # closing a closed breaker is no transition


def test_an_open_breaker_half_opens_exactly_when_the_timeout_has_passed() -> None:
    b, clock = breaker(threshold=1, reset=5.0)
    b.record_failure("down")
    assert b.state is BreakerState.OPEN
    assert b.seconds_until_trial() == 5.0
    clock.advance(4.0)
    assert b.seconds_until_trial() == 1.0
    assert b.state is BreakerState.OPEN and not b.allows_writes()
    clock.advance(1.0)
    assert b.seconds_until_trial() == 0.0
    assert b.allows_writes()
    assert b.state is BreakerState.HALF_OPEN
    assert b.seconds_until_trial() == 0.0
    clock.advance(100.0)
    assert b.seconds_until_trial() == 0.0


def test_a_failed_trial_reopens_at_once_and_a_good_one_closes() -> None:
    b, clock = breaker(threshold=3, reset=5.0)
    for n in range(3):
        b.record_failure(f"f{n}")
    clock.advance(5.0)
    assert b.state is BreakerState.HALF_OPEN
    b.record_success()  # resets the count: the next trial failure still reopens at once
    clock.advance(1.0)
    b.record_failure("a")
    b.record_failure("b")
    b.record_failure("c")
    clock.advance(5.0)
    assert b.state is BreakerState.HALF_OPEN
    b.record_failure("trial")  # one failure in half-open reopens, whatever the threshold
    assert b.state is BreakerState.OPEN
    assert b.seconds_until_trial() == 5.0  # the timeout restarts when it reopens
    clock.advance(5.0)
    assert b.state is BreakerState.HALF_OPEN
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.allows_writes()
    assert b.transitions == {
        "closed->open": 2,
        "open->half-open": 3,
        "half-open->closed": 2,
        "half-open->open": 1,
    }


def test_the_breaker_reads_the_event_loop_clock_by_default() -> None:
    async def main() -> None:
        b = CircuitBreaker(BreakerPolicy(1, 1000.0))
        b.record_failure("x")
        assert 999.0 < b.seconds_until_trial() <= 1000.0

    anyio.run(main)


def record(contact: str, value: object, hlc: int, group: str = "g") -> ContentRecord:
    return ContentRecord("net", group, contact, value, Stamp(hlc, "n"))


def fail(message: str) -> StorageError:
    return StorageError(ErrorCode.CONNECTION, message)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BreakerPolicy(failure_threshold=0), "failure_threshold must be a whole number"),
        (lambda: BreakerPolicy(failure_threshold=1.5), "failure_threshold must be a whole number"),
        (lambda: BreakerPolicy(reset_timeout=math.nan), "reset_timeout must be positive and fin"),
        (lambda: BreakerPolicy(reset_timeout=math.inf), "reset_timeout must be positive and fin"),
        (lambda: RetryPolicy(budget=math.nan), "budget must be positive and finite, got nan"),
        (lambda: RetryPolicy(max_delay=-1), "max_delay must be positive and finite, got -1"),
    ],
)
def test_policies_refuse_settings_that_would_never_open_close_or_retry(
    make: Callable[[], object], message: str
) -> None:
    """A threshold of 0 or 1.5 is no count of failures in a row; a NaN timeout or budget
    compares false with every time, so the breaker never half-opened, or nothing retried."""
    with pytest.raises(ValueError, match=message):
        make()
    with pytest.raises(TypeError, match="initial_delay must be a number of seconds, got '1'"):
        RetryPolicy(initial_delay="1")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_the_queue_keeps_the_newest_write_per_contact() -> None:
    q = StorageQueue(bound=10, network="net")
    q.put("a", "g", 1, Stamp(5, "n"))
    q.put("a", "g", 2, Stamp(7, "n"))
    q.put("a", "g", 3, Stamp(6, "n"))  # older than what is pending: dropped
    q.put("b", "h", 4, Stamp(1, "n"))
    assert len(q) == 2
    assert (q.enqueued, q.coalesced) == (4, 2)
    assert list(q.pending) == ["a", "b"]
    assert q.records() == [record("a", 2, 7), record("b", 4, 1, group="h")]
    q.put("a", "g", 9, Stamp(7, "n"))  # an equal stamp replaces
    assert q.records() == [record("a", 9, 7), record("b", 4, 1, group="h")]


@pytest.mark.anyio
async def test_requeued_writes_never_replace_newer_pending_ones() -> None:
    q = StorageQueue(bound=10, network="net")
    q.put("a", "g", "newer", Stamp(9, "n"))
    q.put("c", "g", "same", Stamp(4, "n"))
    q.requeue([record("a", "older", 3), record("b", "back", 2), record("c", "tie", 4)])
    assert q.records() == [
        record("a", "newer", 9),
        record("c", "same", 4),
        record("b", "back", 2),
    ]
    q.requeue([record("a", "newest", 10)])
    assert q.records()[0] == record("a", "newest", 10)
    assert q.enqueued == 2  # requeueing is not enqueueing


@pytest.mark.anyio
async def test_each_taken_record_is_built_from_its_own_contacts_write() -> None:
    """The queue keeps pending writes in columns (group, value, stamp, justification):
    however puts, coalescing and requeues interleave, a taken record never mixes two
    contacts' fields."""
    q = StorageQueue(bound=10, network="net")
    for n, c in enumerate("abcd"):
        q.put(c, f"g{c}", f"v{c}1", Stamp(n + 1, c), f"j{c}1")
    q.put("b", "gb", "vb2", Stamp(20, "b"), "jb2")  # a newer write to a middle contact
    q.put("c", "gc", "vc0", Stamp(0, "c"), "jc0")  # an older one: dropped
    _, batch = q.take()
    q.put("e", "ge", "ve1", Stamp(30, "e"), "je1")
    q.put("b", "gb", "vb3", Stamp(31, "b"), "jb3")
    q.put("a", "ga", "va0", Stamp(0, "a"), "ja0")  # older than a's write in the batch
    q.requeue(batch)  # b's failed write is older than its pending one; the rest come back
    q.put("d", "gd", "vd2", Stamp(40, "d"), "jd2")
    _, taken = q.take()
    expected = {
        "a": ("va1", Stamp(1, "a"), "ja1"),
        "b": ("vb3", Stamp(31, "b"), "jb3"),
        "c": ("vc1", Stamp(3, "c"), "jc1"),
        "d": ("vd2", Stamp(40, "d"), "jd2"),
        "e": ("ve1", Stamp(30, "e"), "je1"),
    }
    assert sorted(r.contact for r in taken) == sorted(expected)
    for r in taken:
        assert (r.network, r.group) == ("net", f"g{r.contact}")
        assert (r.value, r.stamp, r.justification) == expected[r.contact]


@pytest.mark.anyio
async def test_a_write_queued_without_its_group_takes_it_from_the_queues_groups() -> None:
    """The runtime queues writes without their group (one lookup fewer per update); the
    queue fills it in from the spec's groups when the batch is taken."""
    q = StorageQueue(bound=10, network="net", groups={"a": "ga", "b": "gb", "c": "gc"})
    q.put("a", None, 1, Stamp(1, "n"))
    q.put("b", "given", 2, Stamp(2, "n"))  # a group given is kept
    q.put("c", None, 3, Stamp(3, "n"))
    q.put("a", None, 4, Stamp(4, "n"))
    assert q.take()[1] == [
        ContentRecord("net", "ga", "a", 4, Stamp(4, "n")),
        ContentRecord("net", "given", "b", 2, Stamp(2, "n")),
        ContentRecord("net", "gc", "c", 3, Stamp(3, "n")),
    ]
    q.put("z", None, 5, Stamp(5, "n"))  # not in the spec: no group, which storage refuses
    assert q.records() == [ContentRecord("net", None, "z", 5, Stamp(5, "n"))]  # type: ignore[arg-type]
    bare = StorageQueue(bound=10, network="net")
    with pytest.raises(ValueError) as refused:
        bare.put("a", None, 1, Stamp(1, "n"))
    assert str(refused.value) == "a write without its group needs a queue given the groups"
    assert len(bare) == 0 and bare.enqueued == 0


def test_groups_given_as_a_function_are_made_when_the_first_batch_is_taken() -> None:
    """The runtime gives its queue the spec's groups as a function: building the map
    costs a restart ~15 ms per 100,000 contacts, so it is made once, on first need."""
    made: list[int] = []

    def groups() -> dict[str, str]:
        made.append(1)
        return {"a": "ga", "b": "gb"}

    q = StorageQueue(bound=10, network="net", groups=groups)
    q.put("a", None, 1, Stamp(1, "n"))
    q.put_many(["b"], [2], [Stamp(2, "n")], [None])
    assert made == [] and q.groups is None
    assert q.take()[1] == [
        ContentRecord("net", "ga", "a", 1, Stamp(1, "n")),
        ContentRecord("net", "gb", "b", 2, Stamp(2, "n")),
    ]
    q.put("b", None, 3, Stamp(3, "n"))
    assert q.take()[1] == [ContentRecord("net", "gb", "b", 3, Stamp(3, "n"))]
    assert made == [1] and q.groups == {"a": "ga", "b": "gb"}


def _queues_after(
    writes: list[tuple[str, int, int]], batch: list[tuple[str, int, int]]
) -> tuple[StorageQueue, StorageQueue]:
    """Two queues given ``writes`` one at a time, then ``batch``: one write at a time, and
    with put_many."""
    groups = {c: f"g{c}" for c in "abcd"}
    one, many = (StorageQueue(bound=10, network="net", groups=groups) for _ in range(2))
    for q in (one, many):
        for c, v, s in writes:
            q.put(c, None, v, Stamp(s, "n"), f"w{v}")
    for c, v, s in batch:
        one.put(c, None, v, Stamp(s, "n"), f"w{v}")
    many.put_many(
        [c for c, _, _ in batch],
        [v for _, v, _ in batch],
        [Stamp(s, "n") for _, _, s in batch],
        [f"w{v}" for _, v, _ in batch],
    )
    return one, many


@pytest.mark.parametrize(
    ("writes", "batch"),
    [
        ([], [("a", 1, 1), ("b", 2, 2), ("c", 3, 3)]),
        ([("d", 0, 1)], [("a", 1, 2), ("b", 2, 3)]),
        ([("b", 0, 1), ("c", 9, 9)], [("a", 1, 2), ("b", 2, 3), ("c", 3, 4)]),
        ([], [("a", 1, 1), ("b", 2, 2), ("a", 3, 3), ("b", 4, 1)]),
        ([], []),
    ],
    ids=["fresh", "beside-pending", "onto-pending", "named-twice", "empty"],
)
def test_put_many_queues_what_put_one_at_a_time_would(
    writes: list[tuple[str, int, int]], batch: list[tuple[str, int, int]]
) -> None:
    """Fresh contacts a column at a time; a contact pending already or named twice keeps
    the newest stamp, coalesced and counted as put would."""
    one, many = _queues_after(writes, batch)
    assert many.records() == one.records()
    assert all(r.group == f"g{r.contact}" for r in many.records())  # from the queue's groups
    for q in (one, many):  # a later write lands on the batch's own place
        q.put("a", None, 42, Stamp(100, "n"))
    assert many.records() == one.records()
    assert (many.enqueued, many.coalesced, len(many)) == (one.enqueued, one.coalesced, len(one))
    assert many.take()[1] == one.take()[1]
    many.put("a", None, 7, Stamp(99, "n"))  # the columns stay aligned after a batch
    one.put("a", None, 7, Stamp(99, "n"))
    assert many.records() == one.records()


def test_put_many_refuses_a_queue_without_groups_and_columns_of_different_lengths() -> None:
    bare = StorageQueue(bound=10, network="net")
    with pytest.raises(
        ValueError, match="a write without its group needs a queue given the groups"
    ):
        bare.put_many(["a"], [1], [Stamp(1, "n")], [None])
    q = StorageQueue(bound=10, network="net", groups={"a": "ga", "b": "gb"})
    with pytest.raises(ValueError, match="one value, stamp and justification per contact"):
        q.put_many(["a", "b"], [1, 2], [Stamp(1, "n")], [None, None])
    assert len(bare) == len(q) == 0 and bare.enqueued == q.enqueued == 0


@pytest.mark.anyio
async def test_batches_are_numbered_and_take_everything_pending() -> None:
    q = StorageQueue(bound=10, network="net")
    assert q.target() == 1
    q.put("a", "g", 1, Stamp(1, "n"))
    assert q.take() == (1, [record("a", 1, 1)])
    assert len(q) == 0 and q.generation == 1 and q.target() == 2
    assert q.take() == (2, [])


@pytest.mark.anyio
async def test_a_batch_reports_its_own_failure_to_its_waiters() -> None:
    q = StorageQueue(bound=10)
    generation, _ = q.take()
    q.complete(generation, fail("down"))
    assert q.completed == 1
    assert await q.wait_for(1) == fail("down")
    assert q.failure_of(1) == fail("down")
    generation, _ = q.take()
    q.complete(generation, None)
    assert await q.wait_for(2) is None and q.failure_of(2) is None
    assert q.failure_of(1) == fail("down")


@pytest.mark.anyio
async def test_wait_for_blocks_until_that_batch_and_not_an_earlier_one() -> None:
    q = StorageQueue(bound=10)
    seen: list[StorageError | None] = []

    async def waiter() -> None:
        seen.append(await q.wait_for(2))

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        q.complete(q.take()[0], None)
        await anyio.wait_all_tasks_blocked()
        assert seen == []
        q.complete(q.take()[0], fail("second"))
    assert seen == [fail("second")]


@pytest.mark.anyio
async def test_old_failures_are_forgotten_after_ten_thousand_batches() -> None:
    q = StorageQueue(bound=10)
    q.complete(1, fail("old"))
    q.complete(10_001, fail("recent"))
    assert q.failure_of(1) == fail("old")
    q.complete(10_002, fail("newer"))
    assert q.failure_of(1) is None
    assert q.failure_of(10_001) == fail("recent")
    assert q.failure_of(10_002) == fail("newer")


@pytest.mark.anyio
async def test_the_queue_bound_must_be_positive() -> None:
    with pytest.raises(ValueError) as refused:
        StorageQueue(bound=0)
    assert str(refused.value) == "queue bound must be at least 1"
    q = StorageQueue(bound=1)
    assert q.bound == 1
    q.put("a", "g", 1, Stamp(1, "n"))
    assert q.records()[0].network == ""  # no network named: records carry ""


@pytest.mark.anyio
async def test_a_writer_waits_for_space_at_the_bound_and_wakes_the_flusher() -> None:
    q = StorageQueue(bound=1)
    await q.wait_for_space()  # empty: room for one
    q.put("a", "g", 1, Stamp(1, "n"))
    released: list[int] = []

    async def writer() -> None:
        await q.wait_for_space()
        released.append(len(q))

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer)
        with anyio.fail_after(30):
            await q.wait_for_work(3600)  # the blocked writer woke the flusher
        assert released == []
        q.take()
    assert released == [0]


@pytest.mark.anyio
async def test_wait_for_work_returns_when_woken_and_rearms() -> None:
    q = StorageQueue(bound=10)
    q.wake()
    with anyio.fail_after(30):
        await q.wait_for_work(3600)  # woken before it waited: returns at once
    returned: list[bool] = []

    async def flusher() -> None:
        await q.wait_for_work(3600)
        returned.append(True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(flusher)
        await anyio.wait_all_tasks_blocked()
        assert returned == []  # the wake was used up: this one waits
        q.wake()
    assert returned == [True]


@pytest.mark.anyio
async def test_an_empty_queue_is_waited_on_until_a_write_comes() -> None:
    # an idle flusher must not wake every interval (ten idle nodes spent a fifth of a
    # core waking theirs every 5 ms): with nothing queued, even a zero interval waits
    q = StorageQueue(bound=10)
    returned: list[int] = []

    async def flusher() -> None:
        await q.wait_for_work(0)
        returned.append(len(q))

    async with anyio.create_task_group() as tg:
        tg.start_soon(flusher)
        for _ in range(10):  # turns enough for a timeout to be delivered
            await anyio.wait_all_tasks_blocked()
            await anyio.lowlevel.checkpoint()
        assert returned == []  # nothing queued: still waiting
        q.put("a", "g", 1, Stamp(1, "n"))
    assert returned == [1]  # the first write woke it (then the interval passed)
    q.take()
    q.put("b", "g", 2, Stamp(2, "n"))  # queued while no one waits: not waited on
    with anyio.fail_after(30):
        await q.wait_for_work(0)
