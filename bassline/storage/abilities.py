"""Optional abilities a backend declares by implementing a small protocol.

The :class:`~bassline.storage.NetworkStorage` protocol is what every backend does. What
only some do is declared here, one small ``runtime_checkable`` protocol per ability, and
callers ask ``isinstance(storage, Ability)``: nothing is looked up by name, and a wrapper
(:class:`~bassline.testing.faults.FaultyStorage`) declares exactly what the storage it
wraps declares, so wrapping a storage never changes which code runs.

- :class:`HashesSpecs`: the stored spec's hash without rebuilding the spec (every
  :class:`~bassline.storage.StorageBackend` has it; memory and fs answer from what they keep).
- :class:`PooledStorage`: a connection pool it reports on (PostgreSQL).
- :class:`MigratesSchema`: a schema brought up to date by ``bassline storage migrate``.
- :class:`RepairsStore`: damage discarded by ``bassline storage repair`` (fs).
- :class:`CreatesOnOpen`: opening creates a missing store unless told otherwise (fs).
- :class:`OpensReadOnly`: can be opened so that opening changes nothing (fs).
- :class:`LocatesStore`: says, unopened, where its store is, one answer however the URL
  spells it (fs: the resolved directory).
- :class:`ClaimsGroups`: processes sharing the store take turns running each gadget
  group, one at a time (PostgreSQL: session advisory locks). Without it a process runs
  every group it is given.
- :class:`FeedsChanges`: a live change feed of every committed content write, for
  runtimes sharing one store (PostgreSQL across processes; memory within one process
  for a named ``memory://NAME`` store). fs does not declare it.
- :class:`JoinsMerges`: a write to a merge contact stores the lattice join of the
  stored value and the written one, atomically with every other writer of the store
  (PostgreSQL, memory). Without it a runtime writes merge contacts as any other
  (the newest stamp wins), which loses values when writers share the store.

The abilities of an unopened storage (migrate, repair, the opening variants) are what
the command line uses before or instead of opening it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

import attrs

from bassline.storage.joins import Joins
from bassline.storage.protocol import NetworkStorage, PooledStorage, StorageResult
from bassline.storage.records import Batch, ContentRecord, WriteSummary

__all__ = [
    "ChangeBatch",
    "ChangeWatch",
    "Claims",
    "ClaimsGroups",
    "CreatesOnOpen",
    "FeedsChanges",
    "GroupClaims",
    "HashesSpecs",
    "JoinsMerges",
    "LocatesStore",
    "MigratesSchema",
    "OpensReadOnly",
    "PooledStorage",
    "ReadsOnWatch",
    "RepairsStore",
    "Watcher",
]


@runtime_checkable
class HashesSpecs(Protocol):
    """Answers the stored spec's :attr:`~bassline.spec.Bassline.hash` directly."""

    async def load_network_hash(self, network: str) -> StorageResult[str]:
        """The stored spec's hash; NETWORK_NOT_FOUND if absent."""


@runtime_checkable
class MigratesSchema(Protocol):
    """Keeps a schema with revisions (PostgreSQL). Called on an unopened storage; blocks."""

    def migrate_schema(self) -> str:
        """Bring the schema to head; the revision reached. Raises a BasslineError on failure."""

    def stamp_schema(self, revision: str) -> str:
        """Record that the schema is at ``revision`` (changing no table); the revision."""


@runtime_checkable
class RepairsStore(Protocol):
    """Can discard a damaged part of its store, keeping a copy (fs). Called unopened."""

    def repair_store(self, *, dry_run: bool = False) -> Any:
        """Repair (or with ``dry_run`` only describe) the store; a report with
        ``describe()``. Raises StorageOpenError when the store cannot be examined."""


@runtime_checkable
class CreatesOnOpen(Protocol):
    """Opening creates a store that is not there yet (fs, by default)."""

    def existing_only(self) -> NetworkStorage:
        """An unopened copy whose ``open`` refuses a store that is not there; the storage
        itself when the user asked for creation explicitly (in the URL or an option)."""


@runtime_checkable
class OpensReadOnly(Protocol):
    """Can be opened so that nothing on disk changes (fs)."""

    def read_only(self) -> NetworkStorage:
        """An unopened copy that changes nothing when opened and refuses every write; the
        storage itself when the user set the read-only option explicitly."""


@runtime_checkable
class LocatesStore(Protocol):
    """Tells, unopened, where its store is (fs: the resolved directory)."""

    def store_location(self) -> str:
        """Where the store this storage opens is: the same text for two URLs that open
        one store however they spell it (``file:///x`` and ``file:///x/``, a symlink,
        ``..``), different for different stores. Touches nothing on disk but to read."""


@attrs.frozen
class Claims:
    """What one claim round found: the groups this session holds, and who holds each."""

    held: frozenset[str]
    """The groups the claiming session holds now."""
    holders: Mapping[str, str] = attrs.field(factory=dict)
    """The holder's name for each group asked about that some live session holds."""


class GroupClaims(Protocol):
    """One live session holding groups for one process (see :class:`ClaimsGroups`).

    A claim is held as long as the session lives and is released when the session ends
    (closed, or its process gone). Used by one task at a time; an async context manager.
    """

    @property
    def held(self) -> frozenset[str]:
        """The groups held now (empty once the session is lost)."""

    async def claim(self, groups: Collection[str]) -> StorageResult[Claims]:
        """Take each of ``groups`` no live session holds, without waiting; release held
        groups not in ``groups``. Opens a new session when there is none (the old one's
        claims are gone). A failure (CONNECTION when the session is lost) holds nothing."""

    async def wait_lost(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as the session is found lost (then
        nothing is held), False when the time is up with the session alive."""

    async def __aenter__(self) -> GroupClaims: ...

    async def __aexit__(self, *exc: object) -> None:
        """End the session, releasing every claim. Never raises."""


@runtime_checkable
class ClaimsGroups(Protocol):
    """Processes sharing the store can decide, through it, which one runs each gadget
    group (PostgreSQL: session-level advisory locks on a connection of their own)."""

    def group_claims(self, network: str, holder: str) -> GroupClaims:
        """A claim session for ``network``'s groups in the name of ``holder`` (shown to
        other processes as the groups' owner); open it with ``async with``."""


@attrs.frozen
class ChangeBatch:
    """What :meth:`FeedsChanges.read_changes` found: contents and where to continue from."""

    position: int
    """The cursor to pass next time: every change up to it has been read."""
    records: list[ContentRecord]
    """The current content (newest stamp) of every contact written after the cursor,
    in change order. A contact written several times since appears once."""


@attrs.frozen
class Watcher:
    """A live watcher of a network's changes (:meth:`FeedsChanges.watchers`)."""

    member: str
    """The name it watches under (a runtime: its node id)."""
    since: dt.datetime
    """When its watch (for PostgreSQL: its listening session) started, in UTC."""


class ChangeWatch(Protocol):
    """Wakes a reader when changes may have been committed (from ``watch_changes``)."""

    async def wait(self) -> None:
        """Return when a change of the watched network may have been committed: a
        notification, or the watch reconnected after losing its connection (anything
        committed meanwhile was not announced). May return spuriously; never raises for a
        lost connection (it reconnects, with backoff, until cancelled)."""


@runtime_checkable
class ReadsOnWatch(Protocol):
    """A :class:`ChangeWatch` that can also read the changes itself, on its own
    connection (PostgreSQL): the follower reads there after a wakeup, without the hops of
    a pooled read."""

    async def read_changes(
        self, after: int, skip: Collection[int] = ()
    ) -> StorageResult[ChangeBatch] | None:
        """The watched network's changes since ``after`` (as
        :meth:`FeedsChanges.read_changes`), leaving out the records whose change sequence
        is in ``skip`` (the caller's own writes, which it holds already; the position is
        then that of the last record read), or None when the watch cannot read now (the
        caller reads through the storage instead)."""


@runtime_checkable
class FeedsChanges(Protocol):
    """A live feed of the content writes committed to a network, by anyone sharing the
    store (``docs/storage.md``, "The change feed").

    Every write that stores content gives the network a new *change sequence*, in the same
    transaction, in commit order: a reader that has read up to position ``p`` and reads
    ``read_changes(network, p)`` later gets every content committed since, even one whose
    transaction started earlier and committed later. Readers keep their cursor; a
    :class:`ChangeWatch` wakes them, so nothing polls; losing the watch (a dropped
    connection, a restarted server, a notification that was never sent) delays a reader
    until the watch reconnects or the reader's own safety re-read, and loses nothing.
    """

    async def feed_position(self, network: str) -> StorageResult[int]:
        """The newest committed change sequence of ``network`` (0 before any write).

        Read it *before* loading contents and nothing committed in between is missed
        (what is read twice is harmless: stamps make re-application a no-op)."""

    async def read_changes(self, network: str, after: int) -> StorageResult[ChangeBatch]:
        """Every content committed with a change sequence above ``after``;
        NETWORK_NOT_FOUND if the network is not stored."""

    def watch_changes(
        self, network: str, *, member: str = ""
    ) -> AbstractAsyncContextManager[ChangeWatch]:
        """A watch on ``network``'s changes, listening once entered (so a change committed
        after entering wakes :meth:`ChangeWatch.wait`). Entering never fails for a lost
        connection: the watch reconnects. While it is live, :meth:`watchers` lists it
        under ``member``."""

    async def watchers(self, network: str) -> StorageResult[list[Watcher]]:
        """The live watches on ``network`` (every process following it), oldest first."""

    async def feed_identity(self) -> StorageResult[str]:
        """Names the store whose feed this is: equal for every storage object opened on the
        same store (PostgreSQL: the same server, database and schema; memory: the same
        store in one process), different for different stores. Two nodes whose storages
        give the same identity see each other's writes through the feed, so they do not
        gossip to each other what the feed brought them (``docs/network.md``)."""


@runtime_checkable
class JoinsMerges(Protocol):
    """Stores a write to a merge contact as the join of what it holds and what arrives,
    atomically with respect to every other writer of the store (``docs/storage.md``,
    "Merge contacts"): PostgreSQL and memory. A runtime whose network has merge contacts
    writes batches holding any through :meth:`write_joining`; without the ability, through
    ``write``."""

    async def write_joining(self, batch: Batch, joins: Joins) -> StorageResult[WriteSummary]:
        """``write(batch)``, except that each content record of a contact ``joins`` names
        (by network and contact) is joined with the stored record by that lattice
        (:func:`bassline.storage.joins.join_record`) in the same transaction: the join is
        stored, at the newer stamp; a join that adds nothing stores nothing (counted
        ``stale``); a contradiction fails the whole batch with CONFLICT, storing nothing.
        The summary's ``joined`` holds the records stored that differ from those written."""
