"""Tasks waiting for "the next batch finished": woken all at once, cheaply.

With 100 durable writers, every batch wakes 100 tasks, so the cost of one wait is paid
on every update. ``anyio.Event`` on asyncio wraps ``asyncio.Event``, whose waiters each
remove themselves from a shared deque when woken (quadratic in the number of waiters)
and pass through two extra coroutine layers. On asyncio, :class:`Waiters` gives each
waiter a bare future instead: about half the cost per wait. Other backends (trio) use
``anyio.Event``.

Cancelling a waiting task cancels only its own future; the others still wake.
"""

from __future__ import annotations

import asyncio
import contextlib

import anyio

__all__ = ["Waiters"]


def _asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop, or None under another backend (trio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Waiters:
    """A set of tasks parked until :meth:`wake_all`."""

    __slots__ = ("_backend_known", "_event", "_futures", "_loop", "_parked")

    def __init__(self) -> None:
        self._futures: list[asyncio.Future[None]] = []
        self._event: anyio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backend_known = False
        self._parked = 0
        """Whether ``_loop`` was looked up (that costs a system call, so it is done once):
        then it is the asyncio loop waiters run on, or None under another backend."""

    def __len__(self) -> int:
        """How many tasks wait."""
        if self._event is not None:
            return self._parked
        return len(self._futures)

    async def wait(self) -> None:
        """Park the calling task until the next :meth:`wake_all`."""
        if not self._backend_known:
            self._loop = _asyncio_loop()
            self._backend_known = True
        loop = self._loop
        if loop is None:
            if self._event is None:
                self._event = anyio.Event()
            self._parked += 1
            try:
                await self._event.wait()
            finally:
                self._parked -= 1
            return
        future = loop.create_future()
        self._futures.append(future)
        try:
            await future
        except BaseException:
            # cancelled: forget this future now, so tasks that give up waiting while
            # no batch finishes cannot grow the list without bound
            with contextlib.suppress(ValueError):  # ValueError: wake_all took it already
                self._futures.remove(future)
            raise

    def wake_all(self) -> None:
        """Wake every task waiting now (tasks that wait later wait for the next call)."""
        futures, self._futures = self._futures, []
        for future in futures:
            if not future.done():
                future.set_result(None)
        event, self._event = self._event, None
        if event is not None:
            event.set()
