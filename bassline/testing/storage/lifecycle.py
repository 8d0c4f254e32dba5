"""The storage conformance suite, lifecycle: opening, closing, health and the protocol itself."""

from __future__ import annotations

import pytest

from bassline.storage import (
    Capabilities,
    Health,
    NetworkStorage,
)
from bassline.testing.storage.support import (
    StorageFactory,
    StorageSuite,
    assert_not_open,
    assert_success,
    sample_bassline,
)

__all__ = ["LifecycleTests"]


@pytest.mark.anyio
class LifecycleTests(StorageSuite):
    """Opening, closing, health and the protocol itself."""

    async def test_satisfies_the_protocol(self, storage: NetworkStorage) -> None:
        assert isinstance(storage, NetworkStorage)
        assert isinstance(storage.url, str) and storage.url
        assert isinstance(storage.capabilities, Capabilities)
        assert storage.capabilities.transactions, "write() must be all-or-nothing"

    async def test_open_is_idempotent_and_health_is_ok(self, storage: NetworkStorage) -> None:
        assert_success(await storage.open(), "second open")
        health = assert_success(await storage.health(), "health")
        assert isinstance(health, Health)
        assert health.ok

    async def test_close_is_idempotent_and_later_calls_fail(
        self, storage_factory: StorageFactory
    ) -> None:
        storage = storage_factory()
        async with storage:
            assert_success(await storage.list_networks(), "list_networks while open")
        await storage.close()
        await storage.close()
        result = await storage.list_networks()
        assert_not_open(result, "list_networks after close")
        result_load = await storage.load_network("calc")
        assert_not_open(result_load, "load_network after close")

    async def test_calls_before_open_fail_without_raising(
        self, storage_factory: StorageFactory
    ) -> None:
        storage = storage_factory()
        try:
            result = await storage.save_network(sample_bassline())
            assert_not_open(result, "save_network before open")
        finally:
            await storage.close()
