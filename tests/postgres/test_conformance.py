"""The storage conformance suite, run against PostgreSQL (a fresh migrated schema per test)."""

from __future__ import annotations

import pytest

from bassline.storage import open_storage
from bassline.testing.storage import (
    MergeJoinConformance,
    PersistentStorageConformance,
    SharedStorageConformance,
    StorageConformance,
    StorageFactory,
)


class TestPostgresConformance(
    StorageConformance,
    PersistentStorageConformance,
    SharedStorageConformance,
    MergeJoinConformance,
):
    """Every conformance test on ``postgresql://`` storage."""

    @pytest.fixture
    def storage_factory(self, store_url: str) -> StorageFactory:
        """New unopened storages on one fresh, migrated schema."""
        return lambda: open_storage(store_url)
