"""Keeping a node's content digest current off the request path.

A node's digest (:mod:`bassline.net.content_digest`) folds in the contents logged since
it was last computed. Computed when asked for, a status after a burst of changes hashes
every content the burst changed (~8 ms per 10,000) while the caller waits. A
:class:`DigestKeeper` folds them in ahead of time instead: its task sleeps on the change
log until the log moves past what is folded, waits until the log has rested (no change
for ``rest`` seconds: while changes keep coming it sleeps again, ``rest`` at a time), then
folds in the new entries, ``chunk`` at a time with a checkpoint between chunks, and goes
back to resting as soon as the log moves again. So a node that goes quiet after a burst
has its digest ready within ``rest`` plus the fold, while the node is idle anyway, and a
busy node folds nothing until it rests (never the same changes over and over). The
digest itself still folds whatever the keeper has not, so it always covers every change
logged before it is asked for.
"""

from __future__ import annotations

import logging
from types import TracebackType

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from bassline.net.content_digest import ContentDigest

__all__ = ["DigestKeeper"]

log = logging.getLogger("bassline.net")

REST = 0.01
"""Seconds the log must stay still before the keeper folds (its sleep while it moves)."""
CHUNK = 2_000
"""Contents folded between two checkpoints (~2 ms: other tasks are not held up long)."""


class DigestKeeper:
    """Folds a :class:`~bassline.net.content_digest.ContentDigest` forward in a task that
    lives as long as the keeper is entered (see the module)."""

    def __init__(self, contents: ContentDigest, rest: float = REST, chunk: int = CHUNK) -> None:
        self.contents = contents
        self.rest = rest
        self.chunk = chunk
        self.folds = 0
        """How many times the keeper folded (rounds after the log rested)."""
        self.failed: BaseException | None = None
        """What the keeper's task raised, if it did (it stopped then; it is logged)."""
        self.running = False
        """True while the keeper's task runs."""
        self._tg: TaskGroup | None = None

    async def __aenter__(self) -> DigestKeeper:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        assert tg is not None
        tg.cancel_scope.cancel()
        return await tg.__aexit__(exc_type, exc, tb)

    async def _run(self) -> None:
        contents = self.contents
        changes = contents.log
        self.running = True
        try:
            while True:
                await changes.wait_beyond(contents.folded)  # parked: no timer while idle
                head = -1
                while head != changes.head:  # until the log rests
                    head = changes.head
                    await anyio.sleep(self.rest)
                self.folds += 1
                while contents.fold(self.chunk) and contents.behind:
                    await anyio.lowlevel.checkpoint()  # between chunks
                    if changes.head != head:
                        break  # moving again: fold the rest once it rests
        except Exception as exc:
            self.failed = exc
            log.exception("the digest is no longer kept current ahead of status calls")
        finally:
            self.running = False
