"""``Follower``: brings other writers' committed changes into a runtime's engine.

When the runtime's storage declares :class:`~bassline.storage.FeedsChanges` (PostgreSQL;
memory within one process), the runtime runs one follower task: it watches the network's
feed, reads everything committed since its cursor whenever the watch wakes it (or every
``resync`` seconds, a safety re-read for a wakeup that never came), and applies what is
new to the engine, where it propagates through the gadgets like a peer's values. Values
that came from storage are not queued to be written back (:meth:`Follower.stored`), and a
record whose stamp and value the engine already holds (the runtime's own write, or one
read twice) is skipped and not counted as a change. The value matters on a merge contact,
where a join that adds to what a process holds may keep its stamp.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import attrs
from anyio.abc import TaskStatus
from returns.result import Failure

from bassline.clock import Stamp
from bassline.content import values_equal
from bassline.engine import Network, PropagationResult
from bassline.errors import BasslineError
from bassline.storage import ChangeBatch, ErrorCode, FeedsChanges, StorageError
from bassline.storage.abilities import ReadsOnWatch

__all__ = ["FeedStats", "Follower"]

log = logging.getLogger("bassline.runtime")

RETRY_AFTER = 0.5
"""Seconds before a failed feed read is tried again (doubling up to ``resync``)."""

MAX_OWN = 1000
"""The most own writes remembered ahead of the cursor (beyond, the oldest are read back
and skipped by their stamps, as any record the engine holds)."""

SOURCE = "storage"
"""What :meth:`~bassline.engine.Network.explain` names as where feed values came from."""


@attrs.define
class FeedStats:
    """What the follower has done (``runtime.feed``)."""

    following: bool = False
    """Whether the runtime follows its storage's change feed."""
    cursor: int = 0
    """The feed position read up to."""
    reads: int = 0
    """Feed reads made (each wakeup, each safety re-read)."""
    watch_reads: int = 0
    """Of those, made on the watch's own connection in the event loop
    (:class:`~bassline.storage.abilities.ReadsOnWatch`: PostgreSQL), not through the pool."""
    applied: int = 0
    """Records that brought something new into the engine."""
    skipped: int = 0
    """Records the engine already held at that stamp (its own writes, repeats)."""
    refused: int = 0
    """Records the engine refused (an unknown contact, content of the wrong kind, a stamp
    beyond the allowed clock drift); each is also counted in ``errors``."""
    errors: dict[str, int] = attrs.field(factory=dict)
    """Failed reads and refused records, by error code."""
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for status and metrics)."""
        return attrs.asdict(self)


class Follower:
    """Follows one network's change feed into ``network`` (see the module doc)."""

    def __init__(
        self,
        storage: FeedsChanges,
        network: Network,
        *,
        member: str,
        resync: float,
    ) -> None:
        self.storage = storage
        self.network = network
        self.member = member
        self.resync = resync
        self.stats = FeedStats(following=True)
        self._incoming: dict[str, tuple[Stamp, Any]] = {}
        self._own: dict[int, int] = {}
        """The runtime's own writes not passed yet: position before -> position taken."""
        self.held: Callable[[str, Any, Stamp], bool] | None = None
        """While a feed batch is applied, :meth:`stored`'s test (an attribute: the
        runtime reads it on every change it queues); else None."""
        self.joined_by_storage: frozenset[str] = frozenset()
        """The merge contacts storage joins the writes of (:class:`~bassline.storage.
        JoinsMerges`): one the feed changed is not written back, storage holding it."""
        self.caught_up = anyio.Event()
        """Set after every successful read (replaced by a fresh event at the next wakeup)."""
        self.identity: str | None = None
        """The store's :meth:`~bassline.storage.FeedsChanges.feed_identity` (None until
        read, or when reading it failed)."""

    # ---------------------------------------------------------------- cursor

    async def start_position(self) -> None:
        """Read the feed position before the runtime loads contents, so that nothing
        committed between the load and the first feed read is missed (a network not stored
        yet starts at 0), and the store's identity. Raises nothing: a failure leaves the
        cursor at 0, which rereads the whole network once (harmless, stamps), or the
        identity None (the node then gossips everything to every peer)."""
        identity = await self.storage.feed_identity()
        if isinstance(identity, Failure):
            self._count_error(identity.failure())
        else:
            self.identity = identity.unwrap()
        result = await self.storage.feed_position(self.network.spec.id)
        if isinstance(result, Failure):
            if result.failure().code is not ErrorCode.NETWORK_NOT_FOUND:
                self._count_error(result.failure())
            return
        self.stats.cursor = result.unwrap()

    def wrote(self, before: int, after: int) -> None:
        """The runtime's own write took feed position ``after``, and ``before`` was the
        network's position just before it (nothing else lies between). Once everything up
        to ``before`` is read, the cursor moves past the write, so no read brings the
        runtime's own records back; until then a read on the watch leaves them out."""
        if after <= self.stats.cursor:
            return
        if len(self._own) >= MAX_OWN:  # reads have failed for long: forget the oldest
            del self._own[min(self._own)]
        self._own[before] = after
        self._pass_own()

    def _pass_own(self) -> None:
        """Move the cursor over the own writes that follow it, and forget those behind it."""
        own = self._own
        if not own:
            return
        cursor = self.stats.cursor
        while (after := own.pop(cursor, None)) is not None:
            cursor = max(cursor, after)
        self.stats.cursor = cursor
        for before in [b for b in own if b < cursor]:
            del own[before]

    # ---------------------------------------------------------------- the task

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch, read and apply until cancelled; ``started`` once listening and caught up
        (or after the first read failed: the task goes on retrying)."""
        spec_id = self.network.spec.id
        async with self.storage.watch_changes(spec_id, member=self.member) as watch:
            direct = watch if isinstance(watch, ReadsOnWatch) else None
            ok = await self.catch_up(direct)
            task_status.started()
            delay = RETRY_AFTER
            while True:
                with anyio.move_on_after(self.resync if ok else delay):
                    await watch.wait()
                ok = await self.catch_up(direct)
                delay = RETRY_AFTER if ok else min(delay * 2, self.resync)

    async def catch_up(self, watch: ReadsOnWatch | None = None) -> bool:
        """Read what was committed since the cursor and apply it; whether the read worked.

        With ``watch`` (only the task waiting on it passes it) the read is made on the
        watch's connection when it can, else through the storage."""
        self.stats.reads += 1
        result = None
        if watch is not None:
            result = await watch.read_changes(self.stats.cursor, list(self._own.values()))
            if result is not None:
                self.stats.watch_reads += 1
        if result is None:
            result = await self.storage.read_changes(self.network.spec.id, self.stats.cursor)
        if isinstance(result, Failure):
            self._count_error(result.failure())
            return False
        self.apply(result.unwrap())
        self.caught_up.set()
        self.caught_up = anyio.Event()
        return True

    # ---------------------------------------------------------------- applying

    def apply(self, batch: ChangeBatch) -> PropagationResult | None:
        """Apply the records the engine does not hold yet; advance the cursor."""
        network = self.network
        fresh: list[tuple[str, Any, Stamp, str | None]] = []
        for record in batch.records:
            cid = record.contact
            # the same stamp is the same write, except on a merge contact: a join that
            # adds to what it holds may keep its stamp, so the value decides there
            if (
                cid in network
                and network.stamp(cid) == record.stamp
                and values_equal(network.value(cid), record.value)
            ):
                self.stats.skipped += 1
                continue
            fresh.append((cid, record.value, record.stamp, record.justification))
        self.stats.cursor = max(self.stats.cursor, batch.position)
        self._pass_own()
        if not fresh:
            return None
        self._incoming = {cid: (stamp, value) for cid, value, stamp, _ in fresh}
        self.held = self._held
        try:
            try:
                result = network.apply(fresh, source=SOURCE, stored=True)
            except (BasslineError, ValueError):
                return self._apply_one_by_one(fresh)
            except Exception:  # raised by a listener (or a lattice of the caller's): logged,
                # since the follower must go on following: nobody else would hear of it
                log.exception(
                    "a listener raised on changes applied from the feed of %r", network.spec.id
                )
                result = None
            self.stats.applied += len(fresh)
            return result
        finally:
            self._incoming = {}
            self.held = None

    def _apply_one_by_one(
        self, items: list[tuple[str, Any, Stamp, str | None]]
    ) -> PropagationResult | None:
        """Apply what the engine accepts, counting each refused record."""
        last = None
        for item in items:
            try:
                last = self.network.apply([item], source=SOURCE, stored=True)
            except (BasslineError, ValueError) as exc:
                self.stats.refused += 1
                self._count(ErrorCode.INVALID.value, f"feed record for contact {item[0]!r}: {exc}")
            else:
                self.stats.applied += 1
        return last

    def stored(self) -> Callable[[str, Any, Stamp], bool] | None:
        """While a feed batch is being applied: a test of whether a changed contact holds
        exactly what storage already has (so it is not written back); else None."""
        return self.held

    def _held(self, cid: str, value: Any, stamp: Stamp) -> bool:
        came = self._incoming.get(cid)
        if came is None:
            return False
        # storage that joins merge contacts holds the join of all the engine had (stored
        # or queued already) and what came: nothing to write back (D62)
        return (came[0] == stamp and came[1] == value) or cid in self.joined_by_storage

    # ---------------------------------------------------------------- errors

    def _count_error(self, error: StorageError) -> None:
        self._count(error.code.value, str(error))

    def _count(self, code: str, message: str) -> None:
        self.stats.errors[code] = self.stats.errors.get(code, 0) + 1
        self.stats.last_error = message
