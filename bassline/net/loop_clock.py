"""The running event loop's clock and sleep, looked up once for a gossip link.

``anyio.current_time()`` and ``anyio.sleep()`` find the running backend (through
sniffio) on every call, and a link calls them for every frame it reads or writes. These
are the functions they end in, found once: the same clock, the same cancellable sleep.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import anyio
import sniffio

__all__ = ["LoopClock", "loop_clock"]

LoopClock = tuple[Callable[[], float], Callable[[float], Awaitable[None]]]
"""(the clock anyio.current_time reads, the sleep anyio.sleep awaits)."""


def loop_clock() -> LoopClock:
    """The running loop's ``(current_time, sleep)``; call it inside that loop."""
    library = sniffio.current_async_library()
    if library == "asyncio":
        import asyncio

        return asyncio.get_running_loop().time, asyncio.sleep
    if library == "trio":  # running, so loaded (and not a dependency of bassline)
        trio = sys.modules["trio"]
        return trio.current_time, trio.sleep
    return anyio.current_time, anyio.sleep  # another backend: anyio finds it each time
