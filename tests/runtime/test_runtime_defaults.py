"""The runtime's defaults are the ones the docs state.

``StorageBackedRuntime(spec, storage)`` stamps writes as node ``local`` (docs/cli.md shows
it in an export), writes in atomic chunks of 1,000 records every 5 ms (docs/durability.md),
holds up to 100,000 pending contacts, takes turns on gadget groups every second
(docs/network.md) and follows a storage's change feed with a safety re-read every 30 s
(docs/postgres.md). Where a default is not observable in a short test (how long the queue
may grow, how often a claim or a re-read runs), the value it configured is read.
"""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest

from bassline.clock import Stamp
from bassline.errors import PersistenceError
from bassline.net import BasslineNetwork
from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import ContentRecord, open_storage

from .conftest import flat_spec

pytestmark = pytest.mark.anyio


async def test_the_write_path_defaults(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(flat_spec(1001), storage) as rt:
            await rt.update_many({f"c{i}": i for i in range(1001)})  # durable: one wait
            assert rt.metrics["batches"] == 2  # 1,001 records in chunks of 1,000
            assert rt.network.stamp("c0").node == "local"
            assert (rt.node_id, rt.batch_size, rt.flush_interval) == ("local", 1000, 0.005)
            assert rt._queue.bound == 100_000  # what health's "queue at N of M" reads
            assert rt.feed.following  # the memory store has a change feed within the process
            assert rt._follower is not None and rt._follower.resync == 30.0
            assert rt._follower.member == "local"  # its own writes are known by this id
            # used on a store that takes turns (PostgreSQL)
            assert rt._sharing.claim_interval == 1.0


async def test_a_batch_of_one_record_is_allowed(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(flat_spec(2), storage, batch_size=1) as rt:
            await rt.update_many({"c0": 0, "c1": 1})
            assert rt.metrics["batches"] == 2
        with pytest.raises(ValueError, match=r"^batch_size must be at least 1$"):
            StorageBackedRuntime(flat_spec(2), storage, batch_size=0)


async def test_the_node_id_and_step_budget_given_reach_the_engine(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(flat_spec(1), storage, node_id="n7", step_budget=3) as rt:
            await rt.update_contact("c0", 1)
            assert rt.network.stamp("c0").node == "n7"
            assert rt.network.step_budget == 3


@pytest.mark.parametrize("option", ["claim_interval", "feed_resync"])
async def test_the_claim_interval_and_feed_resync_must_be_positive_and_finite(
    memory_url: str, option: str
) -> None:
    """``claim_interval=inf`` was accepted (a process waiting for a group would never try
    again), and on a store without claims even NaN was: the check ran only when claiming.
    Both are refused at construction, on any store, naming the option and the value."""
    async with open_storage(memory_url) as storage:
        for bad in (0, -1.0, math.inf, math.nan):
            with pytest.raises(ValueError) as refused:
                StorageBackedRuntime(flat_spec(1), storage, **{option: bad})  # type: ignore[arg-type]
            assert str(refused.value) == f"{option} must be positive and finite, got {bad}"
        with pytest.raises(TypeError, match=f"^{option} must be a number of seconds, got '1'$"):
            StorageBackedRuntime(flat_spec(1), storage, **{option: "1"})  # type: ignore[arg-type]
        async with StorageBackedRuntime(flat_spec(1), storage, **{option: 0.5}) as rt:  # type: ignore[arg-type]
            follower = rt._sharing.follower
            assert follower is not None
            given = rt._sharing.claim_interval if option == "claim_interval" else follower.resync
            assert given == 0.5


async def test_a_network_refuses_an_infinite_claim_interval_before_it_opens() -> None:
    for bad in (math.inf, math.nan, 0):
        with pytest.raises(
            ValueError, match=f"^claim_interval must be positive and finite, got {bad}$"
        ):
            BasslineNetwork("n1", flat_spec(1), claim_interval=bad)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"run_groups": "g"}, ValueError, "run_groups must be a collection of group ids"),
        ({"claim_groups": ["nope"]}, ValueError, "not gadget groups of network 'flat': 'nope'"),
        ({"run_groups": ["nope"]}, ValueError, "not gadget groups of network 'flat': 'nope'"),
        ({"batch_size": 1.5}, TypeError, "batch_size must be a whole number, not 1.5"),
        ({"queue_bound": 1.5}, TypeError, "queue_bound must be a whole number, not 1.5"),
        ({"queue_bound": "10"}, TypeError, "queue_bound must be a whole number, not '10'"),
        ({"flush_interval": float("nan")}, ValueError, "flush_interval must be a finite"),
        ({"flush_interval": -1}, ValueError, "flush_interval must be a finite"),
        ({"node_id": ""}, ValueError, "node_id must be a non-empty string"),
        # a retry policy was first used at a transient storage error; a breaker's failed as
        # "'int' object has no attribute 'clock'"; '5' seconds failed comparing
        ({"retry": {"budget": 5}}, TypeError, "retry must be a RetryPolicy or None, not {"),
        ({"breaker": 5}, TypeError, "breaker must be a BreakerPolicy or None, not 5"),
        ({"flush_interval": "5"}, TypeError, "flush_interval must be a number of seconds"),
        (
            {"durability": "fast"},
            ValueError,
            "durability must be 'durable' or 'buffered', not 'fast'",
        ),
    ],
)
async def test_options_that_would_fail_later_are_refused_at_once(
    memory_url: str, options: dict[str, object], error: type[Exception], message: str
) -> None:
    """Each of these once started a runtime that ran no gadget, crashed its flusher, or
    failed the first write only when it was stored."""
    async with open_storage(memory_url) as storage:
        with pytest.raises(error, match=message):
            StorageBackedRuntime(flat_spec(1), storage, **options)  # type: ignore[arg-type]


async def test_a_storage_url_in_place_of_a_storage_says_how_to_open_it() -> None:
    with pytest.raises(TypeError, match=r"not the URL 'memory://'.*open_storage\(url\)"):
        StorageBackedRuntime(flat_spec(1), "memory://")  # type: ignore[arg-type]
    # None was "AttributeError: 'NoneType' object has no attribute 'load_network'"
    for wrong in (None, 5, Path("/var/lib/bassline")):
        with pytest.raises(TypeError, match=r"storage must be an open storage, not .*open_storage"):
            StorageBackedRuntime(flat_spec(1), wrong)  # type: ignore[arg-type]


async def test_writes_before_the_runtime_opens_or_after_it_closes_are_refused(
    memory_url: str,
) -> None:
    """Before ``async with`` a durable write returned as if stored (it never was); after
    it, a durable write waited forever for a flusher that had stopped."""
    refused = "the runtime is not open: write inside `async with StorageBackedRuntime"
    async with open_storage(memory_url) as storage:
        for durability in ("durable", "buffered"):
            rt = StorageBackedRuntime(flat_spec(2), storage, durability=durability)
            with pytest.raises(RuntimeError, match=refused):
                await rt.update_contact("c0", 1)
            assert rt.value("c0", None) is None  # nothing changed in memory either
            async with rt:
                await rt.update_contact("c0", 2)
            with anyio.fail_after(10):  # a hang fails here instead of hanging the suite
                with pytest.raises(RuntimeError, match=refused):
                    await rt.update_many({"c1": 3})
                with pytest.raises(RuntimeError, match=refused):
                    await rt.apply([("c1", 3, rt.network.stamp("c0"))])
            assert rt.value("c1", None) is None and rt.value("c0") == 2


async def test_stored_contents_stamped_far_ahead_refuse_the_open_clearly(memory_url: str) -> None:
    """Such a store (written by a node whose clock ran far ahead, or edited) once failed
    to open with a bare ValueError, which ``bassline run`` reported as an internal error."""
    spec = flat_spec(1)
    async with open_storage(memory_url) as storage:
        await storage.save_network(spec)
        far = Stamp(2**62, "ahead")
        await storage.write([ContentRecord(spec.id, "root", "c0", 1, far)])
        with pytest.raises(PersistenceError) as refused:
            async with StorageBackedRuntime(spec, storage):
                pass
        message = str(refused.value)
        assert message.startswith("cannot restore network 'flat' from storage: stamp from node")
        assert "nothing was restored" in message


async def test_stored_contents_a_contact_cannot_hold_refuse_the_open_saying_why(
    memory_url: str,
) -> None:
    """Stored content of the wrong kind (an edited store, a lattice changed by a plug-in)
    is named with what to do, not explained as a stamp from a fast clock."""
    spec = parse_spec({"id": "kinds", "contacts": [{"id": "m", "lattice": "max"}]})
    async with open_storage(memory_url) as storage:
        await storage.save_network(spec)
        await storage.write([ContentRecord(spec.id, "root", "m", "high", Stamp(5, "n"))])
        with pytest.raises(PersistenceError) as refused:
            async with StorageBackedRuntime(spec, storage):
                pass
        message = str(refused.value)
        assert message.startswith(
            "cannot restore network 'kinds' from storage: contact 'm': stored value is not a "
            "valid max: max needs a number, got 'high'"
        )
        assert "nothing was restored" in message and "bassline storage check" in message
        assert "clock" not in message
