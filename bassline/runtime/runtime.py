"""StorageBackedRuntime: the engine as a write-through cache over a NetworkStorage."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import anyio
from anyio.abc import TaskGroup

from bassline.clock import Stamp
from bassline.content import ABSENT, Absent, Content
from bassline.engine import Network, PropagationResult
from bassline.engine.carried import Carried
from bassline.engine.unwired import apply_columns
from bassline.errors import PersistenceError, StorageUnavailable
from bassline.runtime.breaker import BreakerState, CircuitBreaker
from bassline.runtime.events import RuntimeEvent, RuntimeHealth
from bassline.runtime.flusher import Flusher
from bassline.runtime.follower import FeedStats
from bassline.runtime.metrics import RuntimeMetrics
from bassline.runtime.ownership import GroupOwnership
from bassline.runtime.policy import BreakerPolicy, Durability, RetryPolicy, check_options
from bassline.runtime.queue import StorageQueue
from bassline.runtime.recovery import SpecMismatch, persist_error, recover, spec_groups
from bassline.runtime.sharing import Sharing, split_groups
from bassline.runtime.view import EngineView
from bassline.spec import Bassline, load_spec
from bassline.storage import NetworkStorage, PooledStorage, PoolStats

__all__ = ["YIELD_EVERY", "RuntimeEvent", "RuntimeHealth", "SpecMismatch", "StorageBackedRuntime"]

_D = TypeVar("_D")
log = logging.getLogger("bassline.runtime")

YIELD_EVERY = 64
"""A buffered writer lets other tasks run at least once per this many updates."""


class StorageBackedRuntime(EngineView):
    """A :class:`~bassline.engine.Network` whose every change is persisted.

    The engine's state is the cache: reads never touch storage. Every change (a local
    update, a value applied from a peer, a gadget's output) is queued in a bounded
    :class:`~bassline.runtime.queue.StorageQueue` that coalesces writes per contact and is
    flushed in atomic batches by one background task.

    ``durability="durable"`` (default): :meth:`update_contact` returns only after the batch
    holding its changes committed, and raises :class:`~bassline.errors.PersistenceError` if
    it could not. ``"buffered"``: it returns once queued; :meth:`flush` is the barrier that
    raises if anything before it failed.

    Transient storage errors are retried with exponential backoff and jitter within
    ``retry.budget`` seconds; then the circuit breaker opens, durable writes fail fast with
    :class:`~bassline.errors.StorageUnavailable`, and buffered writes queue up to
    ``queue_bound`` pending contacts, after which writers wait (backpressure).

    It is the one door into the running network (it satisfies
    :class:`~bassline.runtime.Runtime`, what a node needs): reads, listeners, change
    streams and stamp checks (:class:`~bassline.runtime.view.EngineView`) come from
    memory; :meth:`update_contact`, :meth:`update_many` and :meth:`apply` write. The
    engine itself is :attr:`network`, for code that builds on the engine directly.

    When ``storage`` has a change feed (:class:`~bassline.storage.FeedsChanges`:
    PostgreSQL; memory within one process) and ``follow`` is true (the default), the
    runtime follows it: what other runtimes on the same store commit arrives in this
    engine within milliseconds and propagates through its gadgets, without being written
    back (:mod:`bassline.runtime.follower`); a safety re-read runs every ``feed_resync``
    seconds. :attr:`feed` tells what it has done.

    ``storage`` must already be open; the runtime does not close it. Use as::

        async with open_storage(url) as storage:
            async with StorageBackedRuntime(spec, storage) as runtime:
                await runtime.update_contact("a", 5)
    """

    def __init__(
        self,
        spec: Bassline | str | os.PathLike[str] | Mapping[str, Any],
        storage: NetworkStorage,
        *,
        node_id: str = "local",
        durability: Durability | str = Durability.DURABLE,
        batch_size: int = 1000,
        flush_interval: float = 0.005,
        queue_bound: int = 100_000,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        replace_spec: bool = False,
        run_groups: Iterable[str] | None = None,
        step_budget: int | None = None,
        seed: int | None = None,
        claim_groups: Iterable[str] | None = None,
        claim_interval: float = 1.0,
        follow: bool = True,
        feed_resync: float = 30.0,
    ) -> None:
        self.spec = load_spec(spec)
        if not hasattr(storage, "load_network"):  # a URL, None: anything but a storage
            url = isinstance(storage, str | os.PathLike)
            given = f"the URL {str(storage)!r}" if url else f"{storage!r:.80}"
            raise TypeError(
                f"storage must be an open storage, not {given}: "
                "async with bassline.storage.open_storage(url) as storage: ..."
            )
        self.storage = storage
        self.durability = Durability(durability)
        self._buffered = self.durability is Durability.BUFFERED
        check_options(
            batch_size=batch_size,
            queue_bound=queue_bound,
            flush_interval=flush_interval,
            retry=retry,
            breaker=breaker,
            replace_spec=replace_spec,
            follow=follow,
        )
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry = retry or RetryPolicy()
        self.breaker = CircuitBreaker(breaker or BreakerPolicy())
        self.replace_spec = replace_spec
        self.metrics_data = RuntimeMetrics()
        self._update_latency = self.metrics_data.window("update")
        self.node_id = node_id
        fixed, claimable = split_groups(self.spec, storage, run_groups, claim_groups)
        self.network = Network(
            self.spec, node_id=node_id, run_groups=fixed, step_budget=step_budget
        )
        self._engine_update = self.network.update_contact
        self._why = self.network.stored_justification
        self._whys = self.network.stored_justifications
        self._queue = StorageQueue(queue_bound, self.spec.id, partial(spec_groups, self.spec))
        self._flusher = Flusher(
            storage,
            self._queue,
            batch_size=batch_size,
            flush_interval=flush_interval,
            retry=self.retry,
            breaker=self.breaker,
            metrics=self.metrics_data,
            rng=random.Random(seed),
        )
        self._crowded = min(queue_bound, batch_size)
        """Below this depth (and YIELD_EVERY) a buffered write is admitted without a check."""
        self._yield_step = max(1, batch_size // 10)
        self._yielded_at = -1
        """The queue's generation when a buffered writer last yielded to the flusher."""
        self._next_yield = batch_size
        """The depth at which it yields again if the flusher has taken nothing since."""
        self._unyielded = 0
        """Buffered updates since a writer last let other tasks run."""
        self._durable_waiting = 0
        """Durable writers between queuing their changes and being told they are stored.
        Only a lone one writes its batch itself: with many, one batch carries them all."""
        self._task_group: TaskGroup | None = None
        self._sharing = Sharing(
            storage,
            self.network,
            node_id=node_id,
            fixed_groups=fixed,
            claimable=claimable,
            claim_interval=claim_interval,
            follow=follow,
            feed_resync=feed_resync,
            flush=self.flush,
        )
        """The change feed follower and the turns on gadget groups (:mod:`.sharing`)."""
        self._follower = self._sharing.follower
        if self._follower is not None:
            self._flusher.on_feed = self._follower.wrote  # its own writes are not read back
        self._sharing.join_merges(self._flusher, self.spec)  # D62
        # the first listener, before any of the caller's (each listener hears every
        # change whatever another raises, but the queue comes first all the same)
        self.network.add_listener(self._enqueue_result)
        self.recovered = 0
        """How many stored contents were restored when the runtime opened."""
        self.ignored_on_recovery: list[str] = []
        """Stored contacts that the spec no longer has (after ``replace_spec``)."""

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        if self._task_group is not None:  # a second flusher and listener would leak
            raise RuntimeError(
                "the runtime is already open: enter `async with` once (it may be opened "
                "again after it closed)"
            )
        await self._sharing.before_load()  # the feed position: nothing after it is missed
        restored = await recover(
            self.storage, self.network, self._queue, replace_spec=self.replace_spec
        )
        self.recovered, self.ignored_on_recovery = restored.count, restored.ignored
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._flusher.run)
        try:
            if self._queue.pending:
                await self.flush()
            await self._sharing.start(self._task_group)
        except BaseException:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            self._task_group = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task_group is None:
            raise RuntimeError("the runtime is not open: nothing to close")
        problem: BaseException | None = None
        try:
            # closing flushes: what is queued, and a failure no flush has reported yet
            if exc_type is None and (self._queue.pending or self._flusher.unreported is not None):
                with anyio.move_on_after(self.retry.budget + self.breaker.policy.reset_timeout + 1):
                    try:
                        await self.flush()
                    except PersistenceError as failed:
                        problem = failed
                # queued, or taken by a write storage has not answered (a stalled server)
                unstored = len(self._queue) + self._flusher.in_flight
                if unstored and problem is None:
                    problem = PersistenceError(
                        f"closing with {unstored} changes that storage did not accept"
                    )
        finally:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            self._task_group = None
        if problem is not None:
            raise problem

    # ---------------------------------------------------------------- reading

    @overload
    def value(self, contact_id: str) -> Content | Absent: ...
    @overload
    def value(self, contact_id: str, default: _D) -> Content | _D: ...
    def value(self, contact_id: str, default: object = ABSENT) -> object:
        """A contact's content, from memory (storage is never read after recovery),
        counted in the cache metrics (a hit, or a miss when the contact has no content)."""
        v = self.network.value(contact_id)
        if v is ABSENT:
            self.metrics_data.cache_misses += 1
            return default
        self.metrics_data.cache_hits += 1
        return v

    # ---------------------------------------------------------------- writing

    def _enqueue_result(self, result: PropagationResult) -> None:
        if self._task_group is None:  # closed (or recovering): nothing would store it
            return
        # each write is queued without its group: the queue looks the groups up (from
        # the spec) when the flusher takes the batch, not once per update
        ids, values, stamps = result.touched
        queue = self._queue
        why = self._why
        follower = self._follower
        if follower is not None and (held := follower.held) is not None:
            # values from the change feed: storage has them already; what they caused has not
            put = queue.put
            for cid, value, stamp in zip(ids, values, stamps, strict=True):
                if not held(cid, value, stamp):
                    put(cid, None, value, stamp, why(cid))
        elif len(ids) == 1:  # the common single-contact run, without the loop
            cid = ids[0]
            queue.put(cid, None, values[0], stamps[0], why(cid))
        else:  # a run's contacts: together, each named once
            queue.put_many(ids, values, stamps, self._whys(ids))
        # the depth gauges are set when the flusher takes a batch and when metrics are
        # read: between takes the queue only grows, so its largest depth is seen then
        if len(queue.pending) >= self.batch_size:
            queue.wake()

    def update_contact(
        self, contact_id: str, content: Content, *, via: str = "python"
    ) -> Coroutine[Any, Any, PropagationResult]:
        """Write ``content`` and run to the fixpoint; in durable mode, wait until it is stored.

        Every update lets other tasks run: one that changes nothing (a contradiction, or
        the value the contact already has) passes a checkpoint; a durable one that changes
        something waits for storage; buffered ones yield at least every
        ``YIELD_EVERY`` updates.

        Await it like a coroutine function (``await runtime.update_contact(c, v)``): it
        returns the coroutine of the one write path, ``_write``, without a coroutine of
        its own around it: on the buffered hot path that one costs about 0.4 µs of a 5 µs
        update (bench/bench_runtime.py, docs/benchmarks.md).

        ``via`` says how the write came in (``"python"``, ``"http"``, ``"cli"``, ...):
        :meth:`explain` reports it; any non-empty string, else :class:`ValueError`.
        """
        if via == "python":
            return self._write(self._engine_update, contact_id, content)
        return self._write(self._engine_update_via, contact_id, content, via)

    def _engine_update_via(self, contact_id: str, content: Content, via: str) -> PropagationResult:
        return self.network.update_contact(contact_id, content, via=via)

    async def update_many(
        self, items: Mapping[str, Content], *, via: str = "python"
    ) -> PropagationResult:
        """Write several contents in one run (one batch in durable mode); ``via`` as for
        :meth:`update_contact`."""
        return await self._write(self._engine_update_many, items, via)

    def _engine_update_many(self, items: Mapping[str, Content], via: str) -> PropagationResult:
        return self.network.update_many(items, via=via)

    async def apply(
        self,
        items: Iterable[tuple[str, Content, Stamp] | tuple[str, Content, Stamp, Carried | None]],
    ) -> PropagationResult:
        """Apply stamped values written elsewhere (a peer), each optionally with the
        justification it came with, persisting what changes."""
        return await self._write(self.network.apply, list(items))

    def apply_columns(self, *columns: Any) -> Coroutine[Any, Any, PropagationResult]:
        """:meth:`apply` of a peer's delta as the replicator holds it (internal; see
        :func:`bassline.engine.unwired.apply_columns`)."""
        return self._write(apply_columns, self.network, *columns)

    async def _write(self, run: Callable[..., PropagationResult], *args: Any) -> PropagationResult:
        """Admit one write, run it on the engine, and (durable) wait until it is stored.

        The one admission path of every write. Buffered: below ``YIELD_EVERY`` updates
        since the last yield and below a full batch (or the bound) queued, the write runs
        at once; otherwise :meth:`_admit_buffered` lets others run first. Durable: refused
        while the breaker is open.
        """
        if self._task_group is None:  # nothing would store it: a durable writer would hang
            raise RuntimeError(
                "the runtime is not open: write inside `async with StorageBackedRuntime(...)`"
            )
        started = time.perf_counter()
        queue = self._queue
        if self._buffered:
            if self._unyielded >= YIELD_EVERY or len(queue.pending) >= self._crowded:
                await self._admit_buffered()
            else:
                self._unyielded += 1
            before = queue.enqueued
            result = run(*args)
            self._update_latency.add(time.perf_counter() - started)
            if queue.enqueued == before:  # nothing changed: nothing above had to wait
                await self._pause()
            return result
        if not self.breaker.allows_writes():
            raise StorageUnavailable(
                f"storage is unavailable (circuit breaker open: {self.breaker.last_error}); "
                "the write was not applied"
            )
        before = queue.enqueued
        result = run(*args)
        if queue.enqueued != before:
            flusher = self._flusher
            self._durable_waiting += 1
            try:
                # the only durable writer (no other one waiting, or woken and not yet
                # run) and the flusher idle: write it here, without a handoff to it
                if self._durable_waiting == 1 and flusher.can_write_inline():
                    target = await flusher.write_inline()
                else:
                    target = queue.generation + 1  # queue.target(), inlined
                    queue.wake()
                error = await queue.wait_for(target, result.touched[0])
            finally:
                self._durable_waiting -= 1
            if error is not None:
                if self._flusher.unreported is error:
                    self._flusher.unreported = None  # reported now: to this writer
                raise persist_error(error, "the update was applied in memory but not stored")
        else:  # nothing to store, so nothing waited: let other tasks run
            await self._pause()
        self._update_latency.add(time.perf_counter() - started)
        return result

    async def _admit_buffered(self) -> None:
        """A buffered write that may not run at once: let other tasks run (every
        ``YIELD_EVERY`` updates), wait for space (the queue is at its bound), or let the
        flusher take a full batch."""
        queue = self._queue
        if self._unyielded >= YIELD_EVERY:  # before the bound is checked: others may fill it
            await self._pause()
        self._unyielded += 1
        depth = len(queue.pending)
        if depth >= queue.bound:
            await queue.wait_for_space()
        elif depth >= self.batch_size and (
            depth >= self._next_yield or queue.generation != self._yielded_at
        ):
            await self._yield_to_flusher()

    async def _pause(self) -> None:
        """Let other tasks run (a full checkpoint: cancellation is delivered here)."""
        self._unyielded = 0
        await anyio.lowlevel.checkpoint()

    async def _yield_to_flusher(self) -> None:
        """A buffered writer has a full batch queued: let the flusher take it. While the
        flusher is busy writing (it has taken nothing since the last yield), the writer
        yields again only every tenth of a batch: often enough for the flusher to see its
        write finish, without an event-loop round trip per update."""
        self._unyielded = 0
        await anyio.lowlevel.checkpoint()
        self._yielded_at = self._queue.generation
        self._next_yield = len(self._queue.pending) + self._yield_step

    async def flush(self) -> None:
        """Wait until everything queued so far is stored; raise if any of it failed. Also
        raises (once) a failure of an earlier batch that no durable writer or ``flush``
        has reported yet."""
        if self._task_group is None:
            raise RuntimeError("the runtime is not running; use 'async with'")
        target = self._queue.target() if self._queue.pending else self._queue.generation
        if self._queue.pending:
            self._queue.wake()
        error = await self._queue.wait_for(target)
        flusher = self._flusher
        if error is None and flusher.unreported is not None:
            error = flusher.unreported
        flusher.unreported = None
        if error is not None:
            raise persist_error(error, "flush failed: queued changes were not all stored")

    # ---------------------------------------------------------------- observing

    @property
    def feed(self) -> FeedStats:
        """The change feed follower's state (``following`` False when the storage has no
        feed or ``follow=False``)."""
        return self._sharing.feed

    @property
    def feed_identity(self) -> str | None:
        """The identity of the store whose change feed this runtime follows (None when it
        follows none, or reading it failed); see :class:`~bassline.runtime.FollowsFeed`."""
        follower = self._follower
        return follower.identity if follower is not None else None

    def from_feed(self) -> Callable[[str, Content, Stamp], bool] | None:
        """While a feed batch is applied: which changed contacts hold what the store has
        (:class:`~bassline.runtime.FollowsFeed`); otherwise None."""
        follower = self._follower
        return follower.stored() if follower is not None else None

    @property
    def ownership(self) -> GroupOwnership | None:
        """How this runtime takes turns on its claimable groups (None without any)."""
        return self._sharing.ownership

    async def catch_up(self) -> None:
        """Read and apply every change committed to storage by others up to now (what the
        follower does on each wakeup); nothing when not following. Raises
        :class:`~bassline.errors.PersistenceError` when the read fails."""
        await self._sharing.catch_up()

    def add_event_listener(self, listener: Callable[[RuntimeEvent], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on every failure and recovery; returns an unsubscribe.
        The listener runs in the runtime's background writer: one that raises is logged
        on the ``bassline.runtime`` logger, and the writer carries on."""
        if not callable(listener):
            raise TypeError(f"an event listener must be callable, not {listener!r:.80}")
        listeners = self._flusher.listeners
        listeners.append(listener)
        return lambda: listeners.remove(listener) if listener in listeners else None

    def _breaker_info(self) -> dict[str, Any]:
        return {
            "state": self.breaker.state.value,
            "transitions": dict(self.breaker.transitions),
            "last_error": self.breaker.last_error,
        }

    def pool_stats(self) -> PoolStats | None:
        """The storage's connection pool now, if it has one (PostgreSQL) and is open."""
        storage = self.storage
        return storage.pool_stats() if isinstance(storage, PooledStorage) else None

    @property
    def metrics(self) -> dict[str, Any]:
        """A snapshot of every metric as plain data (``pool``: None without a pool)."""
        self.metrics_data.coalesced = self._queue.coalesced
        self.metrics_data.set_depth(len(self._queue))
        return self.metrics_data.snapshot(self._breaker_info(), self.pool_stats())

    def prometheus(self) -> str:
        """The metrics in Prometheus text format."""
        self.metrics_data.coalesced = self._queue.coalesced
        self.metrics_data.set_depth(len(self._queue))
        return self.metrics_data.prometheus(self._breaker_info(), self.pool_stats())

    def group_owners(self) -> dict[str, str | None]:
        """Who runs each gadget group this runtime takes turns on with other processes
        through its storage, as of the last claim round (None: nobody); ``{}`` when it
        takes turns on none (every group it was given runs here)."""
        return self._sharing.group_owners()

    @property
    def queue_depth(self) -> int:
        """Contacts waiting to be written."""
        return len(self._queue)

    def health(self) -> RuntimeHealth:
        """``degraded`` (with reasons) while the breaker is not closed, the queue is over
        80% of its bound, a failure has not been reported through ``flush`` yet, or a
        storage write has been in flight for longer than the retry budget (storage is not
        answering: a stalled link or server, which no error may ever report)."""
        reasons = []
        started = self._flusher.write_started
        if started is not None:
            waited = anyio.current_time() - started
            if waited > self.retry.budget:
                reasons.append(
                    f"a storage write has been waiting for an answer for {waited:.1f} s, "
                    f"longer than the retry budget ({self.retry.budget:g} s): storage is "
                    "not answering"
                )
        state = self.breaker.state
        if state is not BreakerState.CLOSED:
            reasons.append(f"circuit breaker {state.value}: {self.breaker.last_error}")
        depth = len(self._queue)
        if depth > 0.8 * self._queue.bound:
            reasons.append(f"queue at {depth} of {self._queue.bound} pending contacts")
        unreported = self._flusher.unreported
        if unreported is not None:
            reasons.append(f"unreported storage failure: {unreported}")
        if (claiming := self._sharing.claim_problem()) is not None:
            reasons.append(claiming)
        return RuntimeHealth(
            status="degraded" if reasons else "ok",
            reasons=tuple(reasons),
            breaker=state.value,
            queue_depth=depth,
        )
