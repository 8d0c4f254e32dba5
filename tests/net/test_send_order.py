"""A link's frames leave in the order each task sent them, whether the sender writes a
frame itself (the writer idle) or queues it; a frame being written counts in the queue."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import anyio
import pytest

from bassline.net import GossipSettings
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.peer import PeerSession

pytestmark = pytest.mark.anyio


class _Held:
    """A transport whose sends wait for ``gate`` while it is shut; it keeps the order."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.gate = anyio.Event()
        self.waiting = anyio.Event()
        self._lock = anyio.Lock()

    async def send(self, data: bytes) -> int:
        async with self._lock:
            if not self.gate.is_set():
                self.waiting.set()
                await self.gate.wait()
            self.sent.append(data)
        return len(data)


def _session(transport: _Held) -> PeerSession:
    host = SimpleNamespace(settings=GossipSettings(send_queue_frames=4), metrics=NetMetrics())
    hello = SimpleNamespace(node="peer", epoch="e", url=None, groups=(), store=None)
    return PeerSession(
        cast(Any, host), cast(Any, None), cast(Any, transport), cast(Any, hello), dialer=True
    )


async def test_frames_of_each_sender_leave_in_order_around_one_written_directly() -> None:
    transport = _Held()
    session = _session(transport)

    async def pusher() -> None:
        for k in range(3):
            await session.enqueue("delta", b"p%d" % k)

    async def ticker() -> None:
        for k in range(3):
            await session.enqueue("digest", b"t%d" % k)

    async with anyio.create_task_group() as tg:
        tg.start_soon(session._writer)
        await anyio.wait_all_tasks_blocked()  # the writer idles
        tg.start_soon(pusher)
        await transport.waiting.wait()  # p0 is being written by the pusher itself
        assert session.queue_depth == 1
        tg.start_soon(ticker)
        await anyio.wait_all_tasks_blocked()
        assert session.enqueue_nowait("hb", b"hb")
        # the others queued behind p0: t0 in the writer's hand, t1, t2, hb in the queue
        assert session.queue_depth == 1 + 3
        transport.gate.set()
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    sent = transport.sent
    assert sorted(sent) == sorted([b"p0", b"p1", b"p2", b"t0", b"t1", b"t2", b"hb"])
    for prefix in (b"p", b"t"):
        mine = [f for f in sent if f.startswith(prefix) and f != b"hb"]
        assert mine == sorted(mine), sent
    assert sent[0] == b"p0"
