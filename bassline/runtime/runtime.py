"""StorageBackedRuntime: the engine as a write-through cache over a NetworkStorage."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import anyio
from anyio.abc import TaskGroup
from returns.result import Failure, Success

from bassline.clock import INITIAL_STAMP, Stamp
from bassline.content import ABSENT
from bassline.engine import Network, PropagationResult
from bassline.errors import BasslineError, PersistenceError, StorageUnavailable
from bassline.runtime.breaker import BreakerState, CircuitBreaker
from bassline.runtime.events import RuntimeEvent, RuntimeHealth
from bassline.runtime.metrics import RuntimeMetrics
from bassline.runtime.policy import BreakerPolicy, Durability, RetryPolicy
from bassline.runtime.queue import PendingWrite, StorageQueue
from bassline.runtime.view import EngineView
from bassline.spec import Bassline, load_spec
from bassline.storage import (
    ErrorCode,
    NetworkStorage,
    PooledStorage,
    PoolStats,
    StorageError,
    stored_spec_hash,
)

__all__ = ["YIELD_EVERY", "RuntimeEvent", "RuntimeHealth", "SpecMismatch", "StorageBackedRuntime"]

YIELD_EVERY = 64
"""A buffered writer lets other tasks run at least once per this many updates."""


class SpecMismatch(BasslineError):
    """Storage holds this network with a different spec; pass ``replace_spec=True`` to replace it."""

    def __init__(self, network: str, stored: str, given: str) -> None:
        self.network = network
        self.stored_hash = stored
        self.given_hash = given
        super().__init__(
            f"storage holds network {network!r} with spec hash {stored[:12]}, but the spec given "
            f"has hash {given[:12]}; open with replace_spec=True to replace the stored spec "
            "(contents of contacts that still exist are kept)"
        )


def _persist_error(error: StorageError, what: str) -> PersistenceError:
    return PersistenceError(f"{what}: {error}", error)


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
    ) -> None:
        self.spec = load_spec(spec)
        self.storage = storage
        self.durability = Durability(durability)
        self._buffered = self.durability is Durability.BUFFERED
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry = retry or RetryPolicy()
        self.breaker = CircuitBreaker(breaker or BreakerPolicy())
        self.replace_spec = replace_spec
        self.metrics_data = RuntimeMetrics()
        self._update_latency = self.metrics_data.window("update")
        self.network = Network(
            self.spec, node_id=node_id, run_groups=run_groups, step_budget=step_budget
        )
        self._group_of = {c.id: c.group for c in self.spec.contacts}
        self._queue = StorageQueue(queue_bound, self.spec.id)
        self._yield_step = max(1, batch_size // 10)
        self._yielded_at = -1
        """The queue's generation when a buffered writer last yielded to the flusher."""
        self._next_yield = batch_size
        """The depth at which it yields again if the flusher has taken nothing since."""
        self._unyielded = 0
        """Buffered updates since a writer last let other tasks run."""
        self._rng = random.Random(seed)
        self._task_group: TaskGroup | None = None
        self._unreported: StorageError | None = None
        self._write_started: float | None = None
        """When the storage write now in flight started (None when none is)."""
        self._listeners: list[Callable[[RuntimeEvent], None]] = []
        self.recovered = 0
        """How many stored contents were restored when the runtime opened."""
        self.ignored_on_recovery: list[str] = []
        """Stored contacts that the spec no longer has (after ``replace_spec``)."""

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        await self._recover()
        self.network.add_listener(self._enqueue_result)
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._flusher)
        if self._queue.pending:
            await self.flush()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task_group is not None
        problem: BaseException | None = None
        try:
            if exc_type is None and self._queue.pending:
                with anyio.move_on_after(self.retry.budget + self.breaker.policy.reset_timeout + 1):
                    try:
                        await self.flush()
                    except PersistenceError as failed:
                        problem = failed
                if self._queue.pending and problem is None:
                    problem = PersistenceError(
                        f"closing with {len(self._queue)} changes that storage did not accept"
                    )
        finally:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            self._task_group = None
        if problem is not None:
            raise problem

    async def _recover(self) -> None:
        stored = await stored_spec_hash(self.storage, self.spec.id)
        if isinstance(stored, Failure):
            err = stored.failure()
            if err.code is not ErrorCode.NETWORK_NOT_FOUND:
                raise _persist_error(err, f"cannot read network {self.spec.id!r} from storage")
            await self._save_spec()
        replaced = False
        if isinstance(stored, Success) and stored.unwrap() != self.spec.hash:
            if not self.replace_spec:
                raise SpecMismatch(self.spec.id, stored.unwrap(), self.spec.hash)
            await self._save_spec()
            replaced = True
        contents = await self.storage.load_contents(self.spec.id)
        if isinstance(contents, Failure):
            raise _persist_error(contents.failure(), f"cannot load contents of {self.spec.id!r}")
        records = contents.unwrap()
        if replaced:
            # values stamped as spec content (or derived from it) belong to the old spec;
            # the new spec's initial contents take their place
            records = [r for r in records if r.stamp > INITIAL_STAMP]
        known = [r for r in records if r.contact in self.network]
        self.ignored_on_recovery = sorted(
            r.contact for r in records if r.contact not in self.network
        )
        self.network.restore((r.contact, r.value, r.stamp) for r in known)
        self.recovered = len(known)
        self.network.settle()
        stored_state = {r.contact: r.stamp for r in known}
        for cid, value, stamp in self.network.state():
            if stored_state.get(cid) != stamp:
                self._queue.put(cid, self._group_of[cid], value, stamp)

    async def _save_spec(self) -> None:
        saved = await self.storage.save_network(self.spec)
        if isinstance(saved, Failure):
            raise _persist_error(saved.failure(), f"cannot save network {self.spec.id!r}")

    # ---------------------------------------------------------------- reading

    def value(self, contact_id: str, default: Any = ABSENT) -> Any:
        """A contact's content, from memory (storage is never read after recovery)."""
        v = self.network.value(contact_id)
        if v is ABSENT:
            self.metrics_data.cache_misses += 1
            return default
        self.metrics_data.cache_hits += 1
        return v

    # ---------------------------------------------------------------- writing

    def _enqueue_result(self, result: PropagationResult) -> None:
        ids, values, stamps = result.touched
        queue = self._queue
        if len(ids) == 1:  # the common single-contact run, without the loop
            cid = ids[0]
            queue.put(cid, self._group_of[cid], values[0], stamps[0])
        else:
            put = queue.put
            group_of = self._group_of
            for cid, value, stamp in zip(ids, values, stamps, strict=True):
                put(cid, group_of[cid], value, stamp)
        # the depth gauges are set when the flusher takes a batch and when metrics are
        # read: between takes the queue only grows, so its largest depth is seen then
        if len(queue.pending) >= self.batch_size:
            queue.wake()

    async def update_contact(self, contact_id: str, content: Any) -> PropagationResult:
        """Write ``content`` and run to the fixpoint; in durable mode, wait until it is stored.

        Every update lets other tasks run: one that changes nothing (a contradiction, or
        the value the contact already has) passes a checkpoint; a durable one that changes
        something waits for storage; buffered ones yield at least every
        ``YIELD_EVERY`` updates.
        """
        if self._buffered:  # the hot path, inlined
            started = time.perf_counter()
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
            before = queue.enqueued
            result = self.network.update_contact(contact_id, content)
            self._update_latency.add(time.perf_counter() - started)
            if queue.enqueued == before:  # nothing changed: nothing above had to wait
                await self._pause()
            return result
        return await self._write(lambda: self.network.update_contact(contact_id, content))

    async def update_many(self, items: Mapping[str, Any]) -> PropagationResult:
        """Write several contents in one run (one batch in durable mode)."""
        return await self._write(lambda: self.network.update_many(items))

    async def apply(self, items: Iterable[tuple[str, Any, Stamp]]) -> PropagationResult:
        """Apply stamped values written elsewhere (a peer), persisting what changes."""
        batch = list(items)
        return await self._write(lambda: self.network.apply(batch))

    async def _write(self, run: Callable[[], PropagationResult]) -> PropagationResult:
        started = time.perf_counter()
        queue = self._queue
        if not self._buffered:
            if not self.breaker.allows_writes():
                raise StorageUnavailable(
                    f"storage is unavailable (circuit breaker open: {self.breaker.last_error}); "
                    "the write was not applied"
                )
            before = queue.enqueued
            result = run()
            if queue.enqueued != before:
                target = queue.generation + 1  # queue.target(), inlined: once per update
                queue.wake()
                error = await queue.wait_for(target)
                if error is not None:
                    if self._unreported is error:
                        self._unreported = None  # reported now: to this writer
                    raise _persist_error(error, "the update was applied in memory but not stored")
            else:  # nothing to store, so nothing waited: let other tasks run
                await self._pause()
        else:
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
            before = queue.enqueued
            result = run()
            if queue.enqueued == before:
                await self._pause()
        self._update_latency.add(time.perf_counter() - started)
        return result

    async def _pause(self) -> None:
        """Let other tasks run (a full checkpoint: cancellation is delivered here)."""
        self._unyielded = 0
        await anyio.lowlevel.checkpoint()

    async def _yield_to_flusher(self) -> None:
        """A buffered writer has a full batch queued: let the flusher take it.

        While the flusher is busy writing (it has taken nothing since the last yield),
        the writer yields again only every tenth of a batch: often enough for the
        flusher to see its write finish, without an event-loop round trip per update.
        """
        self._unyielded = 0
        await anyio.lowlevel.checkpoint()
        self._yielded_at = self._queue.generation
        self._next_yield = len(self._queue.pending) + self._yield_step

    async def flush(self) -> None:
        """Wait until everything queued so far is stored; raise if any of it failed.

        Also raises (once) a failure of an earlier batch that no durable writer or
        ``flush`` has reported yet.
        """
        if self._task_group is None:
            raise RuntimeError("the runtime is not running; use 'async with'")
        target = self._queue.target() if self._queue.pending else self._queue.generation
        if self._queue.pending:
            self._queue.wake()
        error = await self._queue.wait_for(target)
        if error is None and self._unreported is not None:
            error = self._unreported
        self._unreported = None
        if error is not None:
            raise _persist_error(error, "flush failed: queued changes were not all stored")

    # ---------------------------------------------------------------- the flusher

    async def _flusher(self) -> None:
        queue = self._queue
        while True:
            await queue.wait_for_work(self.flush_interval)
            if not queue.pending:
                continue
            wait = self.breaker.seconds_until_trial()
            if wait > 0:
                with anyio.move_on_after(wait):
                    await anyio.sleep_forever()  # the breaker's own timeout, not a sync
                continue
            self.metrics_data.set_depth(len(queue))
            generation, writes = queue.take()
            self.metrics_data.set_depth(len(queue))
            error, unwritten = await self._write_batch(writes)
            if error is None:
                was = self.breaker.state
                self.breaker.record_success()
                if was is not BreakerState.CLOSED:
                    self._emit(RuntimeEvent("breaker-closed", "storage recovered"))
            else:
                self._on_failure(error, unwritten)
            queue.complete(generation, error)

    def _on_failure(self, error: StorageError, unwritten: list[PendingWrite]) -> None:
        self._unreported = error
        self._emit(RuntimeEvent("batch-failed", str(error), error))
        was = self.breaker.state
        self.breaker.record_failure(str(error))
        if self.breaker.state is BreakerState.OPEN and was is not BreakerState.OPEN:
            self._emit(RuntimeEvent("breaker-opened", str(error), error))
        if error.transient:
            self._queue.requeue(unwritten)
        else:
            self.metrics_data.dropped += len(unwritten)
            self._emit(
                RuntimeEvent(
                    "records-dropped",
                    f"{len(unwritten)} writes given up after a permanent error: {error}",
                    error,
                )
            )
        self.metrics_data.set_depth(len(self._queue))

    async def _write_batch(
        self, writes: list[PendingWrite]
    ) -> tuple[StorageError | None, list[PendingWrite]]:
        deadline = anyio.current_time() + self.retry.budget
        metrics = self.metrics_data
        for start in range(0, len(writes), self.batch_size):
            chunk = writes[start : start + self.batch_size]
            records = chunk
            attempt = 0
            while True:
                t0 = self._write_started = anyio.current_time()
                try:
                    result = await self.storage.write(records)
                except Exception as exc:  # a backend bug must not kill the flusher
                    result = Failure(
                        StorageError(ErrorCode.CORRUPTION, f"storage raised {exc!r}", False, exc)
                    )
                finally:
                    self._write_started = None
                metrics.observe("write", anyio.current_time() - t0)
                if isinstance(result, Success):
                    metrics.batches += 1
                    metrics.flushed += len(chunk)
                    metrics.batch_sizes.add(len(chunk))
                    metrics.coalesced = self._queue.coalesced
                    break
                error = result.failure()
                metrics.errors[error.code.value] += 1
                attempt += 1
                delay = self.retry.delay(attempt, self._rng)
                if not error.transient or anyio.current_time() + delay > deadline:
                    return error, writes[start:]
                metrics.retries += 1
                await anyio.sleep(delay)
        return None, []

    # ---------------------------------------------------------------- observing

    def add_event_listener(self, listener: Callable[[RuntimeEvent], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on every failure and recovery; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: RuntimeEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

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
        started = self._write_started
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
        if self._unreported is not None:
            reasons.append(f"unreported storage failure: {self._unreported}")
        return RuntimeHealth(
            status="degraded" if reasons else "ok",
            reasons=tuple(reasons),
            breaker=state.value,
            queue_depth=depth,
        )
