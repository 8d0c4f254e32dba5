"""The StorageQueue: pending writes, coalesced per contact, taken in numbered batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio
from anyio.lowlevel import checkpoint

from bassline.clock import Stamp
from bassline.runtime.waiters import Waiters
from bassline.storage import ContentRecord, StorageError
from bassline.storage.fastpath import ContentColumns, queued_columns, valid_ids
from bassline.storage.records import content_records

__all__ = ["PendingWrite", "QueuedBatch", "StorageQueue"]


PendingWrite = ContentRecord
"""A write taken from the queue: the very record storage will get."""


class QueuedBatch:
    """Writes taken from the queue, as the queue kept them: parallel columns, each contact
    once, in queueing order. :meth:`records` makes the storage records (once);
    :meth:`columns` the checked columns a storage's lean write takes instead (decision
    D76), so that a batch written that way never becomes records at all."""

    __slots__ = (
        "_records",
        "contacts",
        "groups",
        "justifications",
        "network",
        "stamps",
        "valid",
        "values",
    )

    def __init__(
        self,
        network: str,
        groups: list[str | None],
        contacts: list[str],
        values: list[Any],
        stamps: list[Stamp],
        justifications: list[str | None],
        valid: frozenset[str] = frozenset(),
    ) -> None:
        self.network = network
        self.groups = groups
        """Each write's group (None: the contact has none, which storage refuses)."""
        self.contacts = contacts
        self.values = values
        self.stamps = stamps
        self.justifications = justifications
        self.valid = valid
        """Ids known valid (the queue's :attr:`StorageQueue.valid_ids`)."""
        self._records: list[PendingWrite] | None = None

    def __len__(self) -> int:
        return len(self.contacts)

    def records(self) -> list[PendingWrite]:
        """The writes as storage records, in order (made on the first call)."""
        if self._records is None:
            self._records = content_records(
                self.network,
                self.groups,  # type: ignore[arg-type]  # a None left is refused by storage
                self.contacts,
                self.values,
                self.stamps,
                self.justifications,
            )
        return self._records

    def columns(self) -> ContentColumns | None:
        """The writes as checked, encoded columns (:func:`~bassline.storage.fastpath.
        queued_columns`); None when a check fails (the records, written, name it)."""
        return queued_columns(
            self.network,
            self.groups,
            self.contacts,
            self.values,
            self.stamps,
            self.justifications,
            self.valid,
            distinct=True,  # the keys of the queue's pending dict (or a slice of them)
        )

    def part(self, start: int, stop: int | None = None) -> QueuedBatch:
        """The writes ``start:stop`` (this batch itself when that is all of it)."""
        if start == 0 and (stop is None or stop >= len(self.contacts)):
            return self
        cut = slice(start, stop)
        return QueuedBatch(
            self.network,
            self.groups[cut],
            self.contacts[cut],
            self.values[cut],
            self.stamps[cut],
            self.justifications[cut],
            self.valid,
        )


class StorageQueue:
    """Writes waiting for storage, one per contact (the newest stamp wins).

    :attr:`pending` holds each contact with a write waiting. Everything pending when the
    flusher calls :meth:`take` forms batch number ``generation``; a writer that queued
    something waits for :meth:`target` (the batch that will carry it) with
    :meth:`wait_for`.

    A pending write is kept in columns (a list per field; :attr:`pending` gives each
    contact's place in them), not as a :class:`~bassline.storage.ContentRecord`: building
    a frozen record costs more than the rest of queueing a buffered update together, and
    an object per update is more for the garbage collector to trace. :meth:`take` builds
    the records, once per contact and batch however many writes were coalesced into it.
    """

    def __init__(
        self,
        bound: int,
        network: str = "",
        groups: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        if bound < 1:
            raise ValueError("queue bound must be at least 1")
        self.bound = bound
        self.network = network
        lazy = callable(groups)
        self.groups: Mapping[str, str] | None = None if lazy else groups  # type: ignore[assignment]
        """Each contact's group, for writes queued without one (see :meth:`put`); given
        as a function, it is called when first needed (the first batch taken), and
        None until then."""
        self._group_source = groups if lazy else None
        self._groupless = groups is None
        """Writes without a group are refused."""
        self.valid_ids: frozenset[str] = frozenset()
        """The ids of the network, its contacts and groups that are valid storage ids
        (checked once, when the groups are made: :func:`~bassline.storage.fastpath.
        valid_ids`), so that a batch's columns are not checked again (decision D76)."""
        self.pending: dict[str, int] = {}
        """Each contact with a write waiting, to its place in the columns (in queueing
        order)."""
        self._groups: list[str | None] = []
        self._values: list[Any] = []
        self._stamps: list[Stamp] = []
        self._whys: list[str | None] = []
        self.generation = 0
        """Batches taken so far."""
        self.completed = 0
        """The newest batch that finished (batches finish in order)."""
        self.enqueued = 0
        self.coalesced = 0
        self._failures: dict[int, StorageError] = {}
        self._conflicts: dict[int, Mapping[str, StorageError]] = {}
        self._progress = Waiters()
        self._wake = anyio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        """The asyncio loop :meth:`put_many` announces arrivals on (found on first use;
        a runtime opened again in another loop finds its own)."""
        self._arrived = anyio.Event()
        """Set by the first write queued into an empty queue (and by :meth:`wake`): an
        idle flusher waits for it without waking every ``flush_interval``."""
        self._space: anyio.Event | None = None
        """Set by the next :meth:`take`; made by a writer that waits for space (none is
        made per batch while no writer waits)."""

    def __len__(self) -> int:
        return len(self.pending)

    def put(
        self,
        contact: str,
        group: str | None,
        value: Any,
        stamp: Stamp,
        justification: str | None = None,
    ) -> None:
        """Queue a write (with the stored form of its justification); a pending write to
        the same contact keeps whichever stamp is newer.

        ``group`` None: the contact's group in :attr:`groups`, looked up when the batch
        is taken (the runtime's hot path: one lookup fewer per update); a queue without
        ``groups`` refuses it (:class:`ValueError`). A contact ``groups`` does not name is
        written with no group, which storage refuses (the batch fails, reported).
        """
        if group is None and self._groupless:
            raise ValueError("a write without its group needs a queue given the groups")
        self.enqueued += 1
        pending = self.pending
        at = pending.get(contact)
        if at is None:
            if not pending:
                self._arrived.set()
            pending[contact] = len(self._stamps)
            self._groups.append(group)
            self._values.append(value)
            self._stamps.append(stamp)
            self._whys.append(justification)
            return
        self.coalesced += 1
        if self._stamps[at] > stamp:
            return
        self._groups[at] = group
        self._values[at] = value
        self._stamps[at] = stamp
        self._whys[at] = justification

    def put_many(
        self,
        contacts: Sequence[str],
        values: Sequence[Any],
        stamps: Sequence[Stamp],
        justifications: Sequence[str | None],
    ) -> None:
        """:meth:`put` each write in turn, without its group (the runtime's batch path).

        Contacts none of which is pending, each named once (a run's changes), are
        appended a column at a time; any other batch goes through :meth:`put` one write
        at a time. :class:`ValueError` from a queue without ``groups``, or for columns
        of different lengths (nothing is queued).
        """
        if self._groupless:
            raise ValueError("a write without its group needs a queue given the groups")
        if not len(values) == len(stamps) == len(justifications) == len(contacts):
            raise ValueError("put_many needs one value, stamp and justification per contact")
        pending = self.pending
        start = len(self._stamps)
        places = dict(zip(contacts, range(start, start + len(contacts)), strict=False))
        if len(places) != len(contacts) or not pending.keys().isdisjoint(places):
            put = self.put
            for contact, value, stamp, justification in zip(
                contacts, values, stamps, justifications, strict=False
            ):
                put(contact, None, value, stamp, justification)
            return
        self.enqueued += len(contacts)
        if not pending:
            self._arrive_soon()
        pending.update(places)
        self._groups.extend([None] * len(contacts))
        self._values.extend(values)
        self._stamps.extend(stamps)
        self._whys.extend(justifications)

    def _arrive_soon(self) -> None:
        """Wake an idle flusher for writes just queued, as :meth:`put` does, but on asyncio
        only once the writer lets the loop run, and only if they are still pending then:
        a durable writer (the runtime's batches) mostly writes its batch itself first,
        and a flusher woken for nothing costs a task switch and an event per batch."""
        loop = self._loop
        if loop is None or loop.is_closed():  # looked up once per loop: it costs a syscall
            try:
                loop = self._loop = asyncio.get_running_loop()
            except RuntimeError:  # not on asyncio (trio, or no loop): at once
                self._arrived.set()
                return
        loop.call_soon(self._arrive_if_pending)

    def _arrive_if_pending(self) -> None:
        if self.pending:
            self._arrived.set()

    def requeue(self, writes: Iterable[PendingWrite]) -> None:
        """Put back writes whose batch failed transiently (never over newer pending ones)."""
        pending = self.pending
        stamps = self._stamps
        self._arrived.set()
        for w in writes:
            at = pending.get(w.contact)
            if at is None:
                pending[w.contact] = len(stamps)
                self._groups.append(w.group)
                self._values.append(w.value)
                stamps.append(w.stamp)
                self._whys.append(w.justification)
            elif w.stamp > stamps[at]:
                self._groups[at] = w.group
                self._values[at] = w.value
                stamps[at] = w.stamp
                self._whys[at] = w.justification

    def records(self) -> list[PendingWrite]:
        """The pending writes as storage records, in queueing order (nothing is taken)."""
        return self._batch().records()

    def _batch(self) -> QueuedBatch:
        """The pending writes as a :class:`QueuedBatch` (sharing this queue's columns)."""
        groups = self._groups
        group_map = self.group_map()
        if group_map is not None and None in groups:
            group_of = group_map.get
            if groups.count(None) == len(groups):  # the runtime's: none given, at C speed
                groups = list(map(group_of, self.pending))
            else:
                groups = [
                    g if g is not None else group_of(c)
                    for g, c in zip(groups, self.pending, strict=True)
                ]
        return QueuedBatch(
            self.network,
            groups,
            list(self.pending),
            self._values,
            self._stamps,
            self._whys,
            self.valid_ids,
        )

    def group_map(self) -> Mapping[str, str] | None:
        """:attr:`groups`, made now if it was given as a function and not made yet."""
        if self.groups is None and self._group_source is not None:
            self.groups = self._group_source()  # type: ignore[operator]
            self.valid_ids = valid_ids({self.network, *self.groups, *self.groups.values()})
        return self.groups

    def target(self) -> int:
        """The batch that will carry what is pending now."""
        return self.generation + 1

    def take(self) -> tuple[int, list[PendingWrite]]:
        """Everything pending, as the next batch of storage records."""
        generation, batch = self.take_batch()
        return generation, batch.records()

    def take_batch(self) -> tuple[int, QueuedBatch]:
        """Everything pending, as the next batch (the flusher's :meth:`take`)."""
        writes = self._batch()
        self.pending = {}
        self._groups, self._values, self._stamps, self._whys = [], [], [], []
        self.generation += 1
        space, self._space = self._space, None
        if space is not None:
            space.set()
        return self.generation, writes

    def complete(
        self,
        generation: int,
        error: StorageError | None,
        conflicts: Mapping[str, StorageError] | None = None,
    ) -> None:
        """Record a batch's outcome and wake its waiters. ``conflicts``: the batch failed
        only because stored values contradict writes to these contacts (each to its
        CONFLICT); the rest of it is stored."""
        self.completed = generation
        if error is not None:
            self._failures[generation] = error
            if conflicts is not None:
                self._conflicts[generation] = conflicts
            for old in [g for g in self._failures if g < generation - 10_000]:
                del self._failures[old]
                self._conflicts.pop(old, None)
        self._progress.wake_all()

    async def wait_for(
        self, generation: int, contacts: Sequence[str] | None = None
    ) -> StorageError | None:
        """Wait until batch ``generation`` finished; its error, if it failed. Given the
        ``contacts`` a writer's run queued: None when the batch failed only by
        contradictions none of them is given up for (their writes are stored), else the
        CONFLICT of the first of them that is (its own, not another contact's)."""
        while self.completed < generation:
            await self._progress.wait()
        error = self._failures.get(generation)
        if error is None or contacts is None:
            return error
        conflicts = self._conflicts.get(generation)
        if conflicts is None:  # not a contradiction: nothing of the batch is stored
            return error
        mine = [conflicts[c] for c in contacts if c in conflicts]
        if not mine:
            return None
        return error if any(e is error for e in mine) else mine[0]

    def failure_of(self, generation: int) -> StorageError | None:
        """The error of a finished batch, if it failed."""
        return self._failures.get(generation)

    def wake(self) -> None:
        """Ask the flusher to write now."""
        self._wake.set()
        self._arrived.set()

    async def wait_for_work(self, interval: float) -> None:
        """Return when woken or ``interval`` seconds after a write was queued (whichever is
        first); an empty queue is waited on until a write comes (or a wake-up)."""
        while not self.pending and not self._wake.is_set():
            await self._arrived.wait()
            # a durable writer may have taken what arrived itself: then wait on
            self._arrived = anyio.Event()
        if self._arrived.is_set():
            self._arrived = anyio.Event()
        if self._wake.is_set():
            # woken already (a durable writer, a full batch): the one checkpoint the wait
            # would pass, without a cancel scope and its timer for a deadline never reached
            await checkpoint()
        else:
            with anyio.move_on_after(interval):
                await self._wake.wait()
        if self._wake.is_set():
            self._wake = anyio.Event()

    async def wait_for_space(self) -> None:
        """Hold a writer back while the queue is at its bound (backpressure)."""
        while len(self.pending) >= self.bound:
            self.wake()
            if self._space is None:
                self._space = anyio.Event()
            await self._space.wait()

    async def wait_for_progress(self) -> None:
        """Wait until any batch finishes."""
        await self._progress.wait()
