"""Mixins through which :class:`~bassline.testing.faults.FaultyStorage` passes on the
optional abilities (:mod:`bassline.storage.abilities`) of the storage it wraps.

:data:`PASS_THROUGH` pairs each ability with its mixin; ``FaultyStorage`` builds its
class from the mixins of the abilities its inner storage declares, and no others.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from bassline.storage import (
    ChangeBatch,
    ChangeWatch,
    ClaimsGroups,
    CreatesOnOpen,
    FeedsChanges,
    GroupClaims,
    HashesSpecs,
    JoinsMerges,
    LocatesStore,
    MigratesSchema,
    NetworkStorage,
    OpensReadOnly,
    PooledStorage,
    PoolStats,
    RepairsStore,
    StorageResult,
    Watcher,
    WriteSummary,
)
from bassline.storage.joins import Joins
from bassline.storage.records import Batch

__all__ = [
    "PASS_THROUGH",
    "PassClaims",
    "PassExisting",
    "PassFeed",
    "PassHash",
    "PassJoins",
    "PassLocate",
    "PassMigrate",
    "PassPool",
    "PassReadOnly",
    "PassRepair",
]


class PassHash:
    """Passes :class:`~bassline.storage.HashesSpecs` through (faulted as ``load_network_hash``)."""

    _inner: Any
    _call: Any

    async def load_network_hash(self, network: str) -> StorageResult[str]:
        """The wrapped storage's own ``load_network_hash``, unless a fault is injected."""
        result: StorageResult[str] = await self._call(
            "load_network_hash", lambda: self._inner.load_network_hash(network)
        )
        return result


class PassPool:
    """Passes :class:`~bassline.storage.PooledStorage` through (never faulted)."""

    _inner: Any

    def pool_stats(self) -> PoolStats | None:
        """The wrapped storage's pool state."""
        stats: PoolStats | None = self._inner.pool_stats()
        return stats


class PassMigrate:
    """Passes :class:`~bassline.storage.MigratesSchema` through (never faulted)."""

    _inner: Any

    def migrate_schema(self) -> str:
        """The wrapped storage's ``migrate_schema()``."""
        return str(self._inner.migrate_schema())

    def stamp_schema(self, revision: str) -> str:
        """The wrapped storage's ``stamp_schema(revision)``."""
        return str(self._inner.stamp_schema(revision))


class PassRepair:
    """Passes :class:`~bassline.storage.RepairsStore` through (never faulted)."""

    _inner: Any

    def repair_store(self, *, dry_run: bool = False) -> Any:
        """The wrapped storage's ``repair_store(dry_run=...)``."""
        return self._inner.repair_store(dry_run=dry_run)


class PassExisting:
    """Passes :class:`~bassline.storage.CreatesOnOpen` through, faults and all."""

    _inner: Any
    _wrap: Callable[[Any], NetworkStorage]

    def existing_only(self) -> NetworkStorage:
        """The wrapped storage's ``existing_only()`` copy, wrapped with the same faults."""
        return self._wrap(self._inner.existing_only())


class PassReadOnly:
    """Passes :class:`~bassline.storage.OpensReadOnly` through, faults and all."""

    _inner: Any
    _wrap: Callable[[Any], NetworkStorage]

    def read_only(self) -> NetworkStorage:
        """The wrapped storage's ``read_only()`` copy, wrapped with the same faults."""
        return self._wrap(self._inner.read_only())


class PassLocate:
    """Passes :class:`~bassline.storage.LocatesStore` through (never faulted)."""

    _inner: Any

    def store_location(self) -> str:
        """The wrapped storage's ``store_location()``."""
        return str(self._inner.store_location())


class PassClaims:
    """Passes :class:`~bassline.storage.ClaimsGroups` through (never faulted)."""

    _inner: Any

    def group_claims(self, network: str, holder: str) -> GroupClaims:
        """The wrapped storage's claim session."""
        claims: GroupClaims = self._inner.group_claims(network, holder)
        return claims


class PassFeed:
    """Passes :class:`~bassline.storage.FeedsChanges` through: ``feed_position``,
    ``read_changes`` and ``watchers`` faulted under their own names, the watch as is."""

    _inner: Any
    _call: Any

    async def feed_position(self, network: str) -> StorageResult[int]:
        """The wrapped storage's ``feed_position``, unless a fault is injected."""
        result: StorageResult[int] = await self._call(
            "feed_position", lambda: self._inner.feed_position(network)
        )
        return result

    async def read_changes(self, network: str, after: int) -> StorageResult[ChangeBatch]:
        """The wrapped storage's ``read_changes``, unless a fault is injected."""
        result: StorageResult[ChangeBatch] = await self._call(
            "read_changes", lambda: self._inner.read_changes(network, after)
        )
        return result

    def watch_changes(
        self, network: str, *, member: str = ""
    ) -> AbstractAsyncContextManager[ChangeWatch]:
        """The wrapped storage's watch."""
        watch: AbstractAsyncContextManager[ChangeWatch] = self._inner.watch_changes(
            network, member=member
        )
        return watch

    async def watchers(self, network: str) -> StorageResult[list[Watcher]]:
        """The wrapped storage's ``watchers``, unless a fault is injected."""
        result: StorageResult[list[Watcher]] = await self._call(
            "watchers", lambda: self._inner.watchers(network)
        )
        return result

    async def feed_identity(self) -> StorageResult[str]:
        """The wrapped storage's ``feed_identity``, unless a fault is injected."""
        result: StorageResult[str] = await self._call(
            "feed_identity", lambda: self._inner.feed_identity()
        )
        return result


class PassJoins:
    """Passes :class:`~bassline.storage.JoinsMerges` through, faulted as ``write`` (it is
    a write: every fault that meets ``write`` meets it too)."""

    _inner: Any
    _call: Any

    async def write_joining(self, batch: Batch, joins: Joins) -> StorageResult[WriteSummary]:
        """The wrapped storage's ``write_joining``, unless a fault is injected."""
        result: StorageResult[WriteSummary] = await self._call(
            "write", lambda: self._inner.write_joining(batch, joins)
        )
        return result


PASS_THROUGH: tuple[tuple[type, type], ...] = (
    (HashesSpecs, PassHash),
    (PooledStorage, PassPool),
    (MigratesSchema, PassMigrate),
    (RepairsStore, PassRepair),
    (CreatesOnOpen, PassExisting),
    (OpensReadOnly, PassReadOnly),
    (LocatesStore, PassLocate),
    (ClaimsGroups, PassClaims),
    (FeedsChanges, PassFeed),
    (JoinsMerges, PassJoins),
)
"""Each optional ability and the mixin that passes it through."""
