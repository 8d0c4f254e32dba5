"""``GET /api/changes``: server-sent events for one reader, bounded by bytes.

Each reader has its own buffer of encoded events that its connection has not taken yet,
at most ``settings.watch_buffer_bytes``. Events are encoded when a change happens (the
reader holds bytes, not the network's values), and a reader that falls further behind is
cut off: what it had not taken is dropped at once, it is sent an ``overflow`` event saying
so, and its stream ends. It reconnects for a new snapshot. The snapshot itself is encoded
and sent in pieces as the reader takes them, so it never sits whole in memory either.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import orjson

from bassline.codec import to_json
from bassline.engine.results import PropagationResult
from bassline.runtime import Runtime

__all__ = ["ChangeWatcher", "EncodedEvents", "change_events"]

log = logging.getLogger("bassline.net")

_PIECE = 64 << 10
"""The snapshot is sent in pieces of about this many bytes."""


def _event(kind: str, data: Any) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EncodedEvents:
    """The events of the latest result, encoded once for every reader."""

    def __init__(self) -> None:
        self.result: PropagationResult | None = None
        self.events: list[tuple[str | tuple[str, ...], bytes]] = []

    def of(self, result: PropagationResult) -> list[tuple[str | tuple[str, ...], bytes]]:
        """``(contact, event)`` pairs; a gadget failure's are its output contacts."""
        if result is not self.result:
            events: list[tuple[str | tuple[str, ...], bytes]] = [
                (
                    c.contact,
                    _event(
                        "change",
                        {
                            "contact": c.contact,
                            "value": to_json(c.value),
                            "stamp": c.stamp.to_json(),
                        },
                    ),
                )
                for c in result.changes
            ]
            events += [
                (
                    c.contact,
                    _event(
                        "contradiction",
                        {"contact": c.contact, "reason": c.reason, "source": c.source},
                    ),
                )
                for c in result.contradictions
            ]
            events += [(f.outputs, _event("failure", f.describe())) for f in result.failures]
            self.result, self.events = result, events
        return self.events


class ChangeWatcher:
    """One reader's events not yet taken, at most ``limit`` bytes (see the module)."""

    def __init__(
        self,
        runtime: Runtime,
        wanted: set[str],
        limit: int,
        encoded: EncodedEvents | None = None,
    ) -> None:
        self.wanted = wanted
        self.limit = limit
        self.size = 0
        """Bytes of events waiting for the reader."""
        self.overflowed = False
        self._events: deque[bytes] = deque()
        self._encoded = encoded or EncodedEvents()
        self._wake = anyio.Event()
        self._detach: Callable[[], None] | None = runtime.add_listener(self._publish)

    def _publish(self, result: PropagationResult) -> None:
        if self.overflowed:
            return
        wanted = self.wanted
        for contact, event in self._encoded.of(result):
            if wanted and (
                contact not in wanted if type(contact) is str else wanted.isdisjoint(contact)
            ):
                continue
            if self.size + len(event) > self.limit:
                self._overflow(len(event))
                return
            self._events.append(event)
            self.size += len(event)
        self._wake.set()

    def _overflow(self, incoming: int) -> None:
        behind = self.size + incoming
        log.warning(
            "a /api/changes reader fell %d bytes behind (limit %d) and was cut off",
            behind,
            self.limit,
        )
        self.overflowed = True
        self._events.clear()  # let go of it now, not when the reader comes back
        self.size = 0
        self._events.append(
            _event(
                "overflow",
                {
                    "error": f"the reader fell more than {self.limit} bytes of events behind "
                    "(watch_buffer_bytes) and was cut off; events after the last one received "
                    "were dropped: reconnect for a new snapshot",
                    "limit": self.limit,
                },
            )
        )
        self.close()
        self._wake.set()

    async def next(self) -> bytes | None:
        """The next event, waiting for one; None after the overflow event."""
        while not self._events:
            if self.overflowed:
                return None
            await self._wake.wait()
            self._wake = anyio.Event()
        event = self._events.popleft()
        self.size = max(0, self.size - len(event))
        return event

    def close(self) -> None:
        """Stop receiving results."""
        if self._detach is not None:
            self._detach()
            self._detach = None


async def change_events(runtime: Runtime, watcher: ChangeWatcher) -> AsyncIterator[bytes]:
    """Server-sent events: the watched contacts now, then every change as it happens."""
    wanted = watcher.wanted
    try:
        now = [(cid, v, st) for cid, v, st in runtime.state() if not wanted or cid in wanted]
        piece = bytearray(b"event: snapshot\ndata: [")
        for k, (cid, value, stamp) in enumerate(now):
            if k:
                piece += b","
            piece += orjson.dumps(
                {"contact": cid, "value": to_json(value), "stamp": stamp.to_json()}
            )
            if len(piece) >= _PIECE:
                yield bytes(piece)
                piece = bytearray()
        del now
        yield bytes(piece + b"]\n\n")
        while (event := await watcher.next()) is not None:
            yield event
    finally:
        watcher.close()
