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
- :class:`ClaimsGroups`: processes sharing the store take turns running each gadget
  group, one at a time (PostgreSQL: session advisory locks). Without it a process runs
  every group it is given.

The abilities of an unopened storage (migrate, repair, the opening variants) are what
the command line uses before or instead of opening it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from bassline.storage.protocol import NetworkStorage, PooledStorage, StorageResult

__all__ = [
    "Claims",
    "ClaimsGroups",
    "CreatesOnOpen",
    "GroupClaims",
    "HashesSpecs",
    "MigratesSchema",
    "OpensReadOnly",
    "PooledStorage",
    "RepairsStore",
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
