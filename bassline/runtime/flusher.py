"""``Flusher``: the runtime's one background writer, with retries and the circuit breaker."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping

import anyio
import attrs
from returns.result import Failure, Success

from bassline.lattices import Lattice
from bassline.runtime.breaker import BreakerState, CircuitBreaker
from bassline.runtime.events import RuntimeEvent
from bassline.runtime.metrics import RuntimeMetrics
from bassline.runtime.policy import RetryPolicy
from bassline.runtime.queue import PendingWrite, QueuedBatch, StorageQueue
from bassline.spec import Bassline
from bassline.storage import ContentRecord, ErrorCode, NetworkStorage, StorageError
from bassline.storage.abilities import JoinsMerges
from bassline.storage.backend import columns_writer
from bassline.storage.joins import JoinConflict, spec_joins

__all__ = ["Flusher"]

log = logging.getLogger("bassline.runtime")


class Flusher:
    """Takes every batch of the queue and writes it to storage (:meth:`run`, one task).

    It waits for work (a full batch, a durable writer, or ``flush_interval``), writes what
    is pending in atomic chunks of ``batch_size`` records, retries transient errors with
    backoff and jitter within ``retry.budget`` seconds, and feeds the circuit breaker: while
    the breaker is open it waits for the breaker's trial. A failed batch's writes go back
    on the queue when the error is transient and are given up (counted, and reported as a
    ``records-dropped`` event) when it is permanent. Every outcome completes the batch's
    generation on the queue, which is what writers wait for.

    A durable writer that finds the flusher idle writes its batch itself
    (:meth:`write_inline`): the same batch, the same bookkeeping, without waking this
    task and being woken by it. Batches still go to storage one at a time, in order.
    """

    def __init__(
        self,
        storage: NetworkStorage,
        queue: StorageQueue,
        *,
        batch_size: int,
        flush_interval: float,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        metrics: RuntimeMetrics,
        rng: random.Random,
    ) -> None:
        self.storage = storage
        self.queue = queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry = retry
        self.breaker = breaker
        self.metrics = metrics
        self.rng = rng
        self.on_feed: Callable[[int, int], None] | None = None
        """Told each successful write's feed positions (``WriteSummary.feed``), if any."""
        self.unreported: StorageError | None = None
        """The latest batch failure no durable writer or ``flush`` has reported yet."""
        self.write_started: float | None = None
        """When the storage write now in flight started (None when none is)."""
        self.in_flight = 0
        """Writes taken from the queue whose batch has not completed yet."""
        self.joins: Mapping[tuple[str, str], Lattice] | None = None
        """The lattices of the network's merge contacts, when storage joins their writes
        (:meth:`join_merges`); else None."""
        self._merges: frozenset[str] = frozenset()
        self._joining: JoinsMerges | None = None
        self.on_joined: Callable[[tuple[ContentRecord, ...]], None] | None = None
        """Told the records storage stored for merge contacts that hold more than was
        written (``WriteSummary.joined``)."""
        self.refused: list[PendingWrite] = []
        """The writes the last :meth:`_attempt` gave up: stored values contradict them."""
        self.conflicts: dict[str, StorageError] = {}
        """The contacts of :attr:`refused`, each to the CONFLICT that named it."""
        self.listeners: list[Callable[[RuntimeEvent], None]] = []
        """Called with every :class:`~bassline.runtime.RuntimeEvent`."""
        self.inline_writes = 0
        """Batches written by a durable writer itself (:meth:`write_inline`)."""
        self._idle = False
        """Waiting for work or for a writer's own batch, with no batch in hand (a writer
        may write its own)."""
        self._writing_inline = False
        """A writer is writing a batch itself (:meth:`write_inline`)."""
        self._inline: anyio.Event | None = None
        """Set when that batch is done; made only when this task waits for it (an event
        per batch would cost more than the rest of the hand-back)."""
        self._carried: tuple[int, QueuedBatch, int] | None = None
        """A batch a writer began and handed over (generation, writes, attempts failed so
        far): its attempt failed transiently, or its writer was cancelled. The next batch
        this task writes, under its own generation."""

    def join_merges(
        self, spec: Bassline, on_joined: Callable[[tuple[ContentRecord, ...]], None]
    ) -> None:
        """When storage :class:`~bassline.storage.abilities.JoinsMerges` and ``spec`` has
        merge contacts, write every batch holding one through ``write_joining`` (others
        through ``write``, as before), and tell ``on_joined`` what storage joined."""
        joins = spec_joins(spec)
        storage = self.storage
        if joins and isinstance(storage, JoinsMerges):
            self.joins, self.on_joined, self._joining = joins, on_joined, storage
            self._merges = frozenset(contact for _, contact in joins)

    def emit(self, event: RuntimeEvent) -> None:
        """Tell every listener. One that raises is logged (with its traceback) and the
        others are still told: the flusher runs on, since its batch and every writer
        waiting on it have yet to be completed."""
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception(
                    "runtime event listener %r raised on a %s event", listener, event.kind
                )

    async def run(self) -> None:
        """Write batches until cancelled."""
        queue = self.queue
        while True:
            if self._carried is None:
                self._idle = True
                try:
                    await queue.wait_for_work(self.flush_interval)
                    # a writer is writing a batch itself: idle until it is done (and the
                    # next one, if the writer starts another before this task runs again)
                    while self._writing_inline:
                        if self._inline is None:
                            self._inline = anyio.Event()
                        await self._inline.wait()
                finally:
                    self._idle = False
            failed = 0
            if self._carried is not None:
                generation, writes, failed = self._carried
                self._carried = None
            else:
                if not queue.pending:
                    continue
                wait = self.breaker.seconds_until_trial()
                if wait > 0:
                    with anyio.move_on_after(wait):
                        await anyio.sleep_forever()  # the breaker's own timeout, not a sync
                    continue
                self.metrics.set_depth(len(queue))
                generation, writes = queue.take_batch()
                self.metrics.set_depth(len(queue))
            self.in_flight = len(writes)
            error, unwritten, conflicts = await self._write_batch(writes, failed)
            self._finish(generation, error, unwritten, conflicts)

    def _finish(
        self,
        generation: int,
        error: StorageError | None,
        unwritten: list[PendingWrite],
        conflicts: dict[str, StorageError] | None = None,
    ) -> None:
        """Record a batch's outcome (breaker, events, requeue) and complete it;
        ``conflicts``: when the batch failed only by contradictions, the contacts given up,
        each to its CONFLICT (the rest of the batch is stored)."""
        if error is None:
            was = self.breaker.state
            self.breaker.record_success()
            if was is not BreakerState.CLOSED:
                self.emit(RuntimeEvent("breaker-closed", "storage recovered"))
        else:
            self._on_failure(error, unwritten)
        self.in_flight = 0
        self.queue.complete(generation, error, conflicts)

    def can_write_inline(self) -> bool:
        """Whether a durable writer may write what is queued itself now: this task waits
        for work with nothing in hand, the breaker is closed, and it is one chunk."""
        return (
            self._idle
            and not self._writing_inline
            and self._carried is None
            and self.breaker.state is BreakerState.CLOSED
            and len(self.queue.pending) <= self.batch_size
        )

    async def write_inline(self) -> int:
        """Take what is queued and write it from the calling (durable) writer's task, one
        attempt; the batch's generation, complete when this returns unless the attempt
        failed transiently or the writer was cancelled: then this task carries the batch
        on (retries, backoff, the breaker) and the writer waits for it as usual.

        Call only when :meth:`can_write_inline`, without a checkpoint in between.
        """
        queue = self.queue
        self._writing_inline = True
        self.metrics.set_depth(len(queue))
        generation, writes = queue.take_batch()
        self.in_flight = len(writes)
        failed = 0  # stays 0 if the writer is cancelled: written again (idempotent)
        finished = False
        try:
            error = await self._attempt(writes)
            if error is not None and error.transient:
                failed = 1
            else:
                self.inline_writes += 1
                conflict = error is not None and isinstance(error.cause, JoinConflict)
                refused = self.refused if conflict or error is None else writes.records()
                self._finish(
                    generation,
                    error,
                    [] if error is None else refused,
                    self.conflicts if conflict else None,
                )
                finished = True
        finally:
            if not finished and writes:  # not finished here: this task carries it on
                self._carried = (generation, writes, failed)
                queue.wake()
            self._writing_inline = False
            done, self._inline = self._inline, None
            if done is not None:
                done.set()
        return generation

    def _on_failure(self, error: StorageError, unwritten: list[PendingWrite]) -> None:
        self.unreported = error
        self.emit(RuntimeEvent("batch-failed", str(error), error))
        was = self.breaker.state
        if not isinstance(error.cause, JoinConflict):  # a contradiction: storage is healthy
            self.breaker.record_failure(str(error))
        if self.breaker.state is BreakerState.OPEN and was is not BreakerState.OPEN:
            self.emit(RuntimeEvent("breaker-opened", str(error), error))
        if error.transient:
            self.queue.requeue(unwritten)
        else:
            self.metrics.dropped += len(unwritten)
            self.emit(
                RuntimeEvent(
                    "records-dropped",
                    f"{len(unwritten)} writes given up after a permanent error: {error}",
                    error,
                )
            )
        self.metrics.set_depth(len(self.queue))

    async def _write_batch(
        self, writes: QueuedBatch, failed: int = 0
    ) -> tuple[StorageError | None, list[PendingWrite], dict[str, StorageError] | None]:
        """Write ``writes`` in chunks, retrying transient errors; ``failed``: attempts at
        the first chunk that failed already (a writer's, handed over). The error, the
        writes not stored, and (when contradictions alone failed it) the contacts given
        up, each to its CONFLICT."""
        deadline = anyio.current_time() + self.retry.budget
        if failed:
            self.metrics.retries += 1
            await anyio.sleep(self.retry.delay(failed, self.rng))
        conflict: StorageError | None = None
        refused: list[PendingWrite] = []
        conflicts: dict[str, StorageError] = {}
        for start in range(0, len(writes), self.batch_size):
            chunk = writes.part(start, start + self.batch_size)
            attempt, failed = failed, 0
            while (error := await self._attempt(chunk)) is not None:
                if isinstance(error.cause, JoinConflict):  # the rest of the chunk is stored
                    conflict, refused = conflict or error, refused + self.refused
                    conflicts.update(self.conflicts)
                    break
                attempt += 1
                delay = self.retry.delay(attempt, self.rng)
                if not error.transient or anyio.current_time() + delay > deadline:
                    return error, refused + writes.part(start).records(), None
                self.metrics.retries += 1
                await anyio.sleep(delay)
        return conflict, refused, conflicts if conflict is not None else None

    async def _attempt(self, batch: QueuedBatch) -> StorageError | None:
        """:meth:`_attempt_once`; when stored values contradict writes to merge contacts,
        those writes are given up (:attr:`refused`) and the rest of ``chunk`` written: the
        first contradiction's error is returned when the rest is stored."""
        self.refused = []
        self.conflicts = {}
        error = await self._attempt_once(batch)
        first = error
        if error is None or not isinstance(error.cause, JoinConflict):
            return error
        chunk = batch.records()
        while error is not None and isinstance(conflict := error.cause, JoinConflict):
            rest = [w for w in chunk if w.contact != conflict.contact]
            if len(rest) == len(chunk):  # it names no write of the chunk: the chunk failed
                self.refused, self.conflicts = [], {}
                return attrs.evolve(error, cause=None)
            self.refused += [w for w in chunk if w.contact == conflict.contact]
            self.conflicts[conflict.contact] = error
            if not (chunk := rest):
                return first
            error = await self._attempt_once(chunk)
        return first if error is None else error

    async def _attempt_once(self, chunk: QueuedBatch | list[PendingWrite]) -> StorageError | None:
        """One storage write of ``chunk``, counted in the metrics; its error, if any.

        A batch as the queue kept it goes to a storage whose ``write`` is the base class's
        through its lean ``write_columns`` (the same checks, made on the columns: decision
        D76), unless it holds a merge contact or a check fails (then its records go
        through ``write``, which names the error)."""
        metrics = self.metrics
        self.write_started = anyio.current_time()
        t0 = time.perf_counter()
        joins, joining = self.joins, self._joining
        lean = type(chunk) is QueuedBatch
        contacts = chunk.contacts if lean else [w.contact for w in chunk]  # type: ignore[union-attr]
        try:
            if joining and joins and not self._merges.isdisjoint(contacts):
                result = await joining.write_joining(_records(chunk), joins)
            elif (
                lean
                and (writer := columns_writer(self.storage)) is not None
                and (
                    columns := chunk.columns()  # type: ignore[union-attr]
                )
                is not None
            ):
                result = await writer.write_columns(columns)
            else:
                result = await self.storage.write(_records(chunk))
        except Exception as exc:  # a backend bug must not kill the flusher
            result = Failure(
                StorageError(ErrorCode.CORRUPTION, f"storage raised {exc!r}", False, exc)
            )
        finally:
            self.write_started = None
        metrics.observe("write", time.perf_counter() - t0)
        if isinstance(result, Success):
            summary = result.unwrap()
            if summary.feed is not None and self.on_feed is not None:
                self.on_feed(*summary.feed)
            if summary.joined and self.on_joined is not None:
                self.on_joined(summary.joined)
            metrics.batches += 1
            metrics.flushed += len(chunk)
            self.in_flight -= len(chunk)
            metrics.batch_sizes.add(len(chunk))
            return None
        error = result.failure()
        metrics.errors[error.code.value] += 1
        return error


def _records(chunk: QueuedBatch | list[PendingWrite]) -> list[PendingWrite]:
    return chunk.records() if isinstance(chunk, QueuedBatch) else chunk
