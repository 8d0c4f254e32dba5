"""``Flusher``: the runtime's one background writer, with retries and the circuit breaker."""

from __future__ import annotations

import random
from collections.abc import Callable

import anyio
from returns.result import Failure, Success

from bassline.runtime.breaker import BreakerState, CircuitBreaker
from bassline.runtime.events import RuntimeEvent
from bassline.runtime.metrics import RuntimeMetrics
from bassline.runtime.policy import RetryPolicy
from bassline.runtime.queue import PendingWrite, StorageQueue
from bassline.storage import ErrorCode, NetworkStorage, StorageError

__all__ = ["Flusher"]


class Flusher:
    """Takes every batch of the queue and writes it to storage (:meth:`run`, one task).

    It waits for work (a full batch, a durable writer, or ``flush_interval``), writes what
    is pending in atomic chunks of ``batch_size`` records, retries transient errors with
    backoff and jitter within ``retry.budget`` seconds, and feeds the circuit breaker: while
    the breaker is open it waits for the breaker's trial. A failed batch's writes go back
    on the queue when the error is transient and are given up (counted, and reported as a
    ``records-dropped`` event) when it is permanent. Every outcome completes the batch's
    generation on the queue, which is what writers wait for.
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
        self.listeners: list[Callable[[RuntimeEvent], None]] = []
        """Called with every :class:`~bassline.runtime.RuntimeEvent`."""

    def emit(self, event: RuntimeEvent) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            listener(event)

    async def run(self) -> None:
        """Write batches until cancelled."""
        queue = self.queue
        while True:
            await queue.wait_for_work(self.flush_interval)
            if not queue.pending:
                continue
            wait = self.breaker.seconds_until_trial()
            if wait > 0:
                with anyio.move_on_after(wait):
                    await anyio.sleep_forever()  # the breaker's own timeout, not a sync
                continue
            self.metrics.set_depth(len(queue))
            generation, writes = queue.take()
            self.metrics.set_depth(len(queue))
            self.in_flight = len(writes)
            error, unwritten = await self._write_batch(writes)
            if error is None:
                was = self.breaker.state
                self.breaker.record_success()
                if was is not BreakerState.CLOSED:
                    self.emit(RuntimeEvent("breaker-closed", "storage recovered"))
            else:
                self._on_failure(error, unwritten)
            self.in_flight = 0
            queue.complete(generation, error)

    def _on_failure(self, error: StorageError, unwritten: list[PendingWrite]) -> None:
        self.unreported = error
        self.emit(RuntimeEvent("batch-failed", str(error), error))
        was = self.breaker.state
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
        self, writes: list[PendingWrite]
    ) -> tuple[StorageError | None, list[PendingWrite]]:
        deadline = anyio.current_time() + self.retry.budget
        metrics = self.metrics
        for start in range(0, len(writes), self.batch_size):
            chunk = writes[start : start + self.batch_size]
            records = chunk
            attempt = 0
            while True:
                t0 = self.write_started = anyio.current_time()
                try:
                    result = await self.storage.write(records)
                except Exception as exc:  # a backend bug must not kill the flusher
                    result = Failure(
                        StorageError(ErrorCode.CORRUPTION, f"storage raised {exc!r}", False, exc)
                    )
                finally:
                    self.write_started = None
                metrics.observe("write", anyio.current_time() - t0)
                if isinstance(result, Success):
                    feed = result.unwrap().feed
                    if feed is not None and self.on_feed is not None:
                        self.on_feed(*feed)
                    metrics.batches += 1
                    metrics.flushed += len(chunk)
                    self.in_flight -= len(chunk)
                    metrics.batch_sizes.add(len(chunk))
                    break
                error = result.failure()
                metrics.errors[error.code.value] += 1
                attempt += 1
                delay = self.retry.delay(attempt, self.rng)
                if not error.transient or anyio.current_time() + delay > deadline:
                    return error, writes[start:]
                metrics.retries += 1
                await anyio.sleep(delay)
        return None, []
