"""The gate in front of the connection pool, and the pool's statistics.

Every operation takes one pooled connection in a worker thread. :class:`PoolGate` lets at
most as many operations into threads as the pool has connections (``pool_size +
max_overflow``), so a thread never blocks inside SQLAlchemy waiting for a connection: an
operation that finds every connection in use waits *here*, in the event loop, where the
wait can be counted and timed (and cancelled). :func:`pool_stats` adds what the SQLAlchemy
pool itself knows: connections open, checked out, beyond ``pool_size``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from bassline.storage import PoolStats
from bassline_storage_postgres.url import PostgresConfig

__all__ = ["PoolGate", "pool_stats"]

T = TypeVar("T")


class PoolGate:
    """At most ``capacity`` operations at once, each in a worker thread; waits are counted."""

    def __init__(self, capacity: int) -> None:
        self._slots = anyio.CapacityLimiter(capacity)
        # the gate already bounds the threads; this limiter only keeps them off anyio's
        # default one, which the application's other blocking calls share
        self._threads = anyio.CapacityLimiter(capacity)
        self.waiting = 0
        """Operations waiting for a connection now."""
        self.waits = 0
        """Operations that had to wait for one, ever."""
        self.wait_seconds = 0.0
        """How long they waited, in total (a cancelled wait counts until it was cancelled)."""

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread once a connection is free for it."""
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            started = time.perf_counter()
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
                self.waits += 1
                self.wait_seconds += time.perf_counter() - started
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._threads)
        finally:
            self._slots.release()


def pool_stats(engine: Engine, config: PostgresConfig, gate: PoolGate) -> PoolStats:
    """The pool's state now, read from SQLAlchemy's ``QueuePool`` and the gate."""
    pool = engine.pool
    assert isinstance(pool, QueuePool), f"make_engine builds a QueuePool, not {pool!r}"
    checked_out = pool.checkedout()
    return PoolStats(
        size=config.pool_size,
        max_overflow=config.max_overflow,
        open=pool.checkedin() + checked_out,
        in_use=checked_out,
        # overflow() starts at -pool_size and counts every connection opened
        overflow=max(0, pool.overflow()),
        waiting=gate.waiting,
        waits=gate.waits,
        wait_seconds=gate.wait_seconds,
    )
