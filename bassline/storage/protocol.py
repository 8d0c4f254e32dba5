"""The ``NetworkStorage`` protocol every backend implements.

Every operation returns ``returns.result.Result[T, StorageError]`` and never raises for
an expected failure (not found, connection lost, constraint, serialisation, timeout).
Backends are async context managers: ``async with open_storage(url) as storage: ...``.
"""

from __future__ import annotations

from typing import Any, Protocol, Self, TypeVar, runtime_checkable

from returns.result import Result

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage.errors import StorageError
from bassline.storage.records import (
    Batch,
    Capabilities,
    ContentRecord,
    GroupQuery,
    Health,
    PoolStats,
    Snapshot,
    SnapshotInfo,
    WriteSummary,
)

__all__ = ["NetworkStorage", "PooledStorage", "StorageResult"]

T = TypeVar("T")
StorageResult = Result[T, StorageError]
"""What every storage operation returns."""


@runtime_checkable
class NetworkStorage(Protocol):
    """Where networks and their contents persist. See the Storage docs page for guarantees."""

    @property
    def url(self) -> str:
        """The URL this storage was opened with (any password masked)."""

    @property
    def capabilities(self) -> Capabilities:
        """What this backend can do."""

    async def __aenter__(self) -> Self:
        """Open (connect, lock, replay) and return self; raises only for a bad configuration."""

    async def __aexit__(self, *exc_info: object) -> None:
        """Close, releasing every resource."""

    async def open(self) -> StorageResult[None]:
        """Connect / lock / replay. Idempotent."""

    async def close(self) -> None:
        """Release every resource. Idempotent; never raises."""

    async def health(self) -> StorageResult[Health]:
        """Check the backend can serve requests right now."""

    # networks
    async def save_network(self, spec: Bassline) -> StorageResult[None]:
        """Create or replace a network's spec (its contents are kept)."""

    async def load_network(self, network: str) -> StorageResult[Bassline]:
        """The spec as saved; NETWORK_NOT_FOUND if absent."""

    async def delete_network(self, network: str) -> StorageResult[None]:
        """Remove a network with its contents and snapshots. Deleting nothing succeeds."""

    async def list_networks(self) -> StorageResult[list[str]]:
        """Every stored network id, sorted."""

    async def network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is stored."""

    # contents
    async def save_contact_content(
        self,
        network: str,
        group: str,
        contact: str,
        content: Any,
        stamp: Stamp | None = None,
    ) -> StorageResult[None]:
        """Store one contact's content (a one-record ``write``)."""

    async def load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One contact's content and stamp; CONTACT_NOT_FOUND if it has none stored."""

    async def load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network, with stamps (for recovery)."""

    async def write(self, batch: Batch) -> StorageResult[WriteSummary]:
        """Apply a batch atomically: all of it or nothing. Parents are written before children."""

    # queries
    async def query_groups(self, network: str, query: GroupQuery) -> StorageResult[list[GroupSpec]]:
        """Groups of a network matching every criterion of ``query``, sorted by id."""

    # snapshots
    async def save_snapshot(
        self, network: str, label: str | None = None
    ) -> StorageResult[SnapshotInfo]:
        """Copy the network's spec and contents at one consistent point in time."""

    async def load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot; SNAPSHOT_NOT_FOUND if absent."""

    async def list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""

    async def delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot. Deleting nothing succeeds."""


@runtime_checkable
class PooledStorage(Protocol):
    """A storage with a connection pool it can report on (PostgreSQL): optional, apart from
    :class:`NetworkStorage`. The runtime adds it to its metrics, ``/metrics`` and status."""

    def pool_stats(self) -> PoolStats | None:
        """The pool's state now; None while the storage is not open."""
