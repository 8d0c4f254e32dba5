"""The filesystem backend passes the public storage conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from bassline.storage import open_storage
from bassline.testing.storage import (
    PersistentStorageConformance,
    StorageConformance,
    StorageFactory,
)


class TestFileConformance(StorageConformance, PersistentStorageConformance):
    """``file:///<fresh tmp dir>``: every conformance test, on asyncio and trio."""

    @pytest.fixture
    def storage_factory(self, tmp_path: Path) -> StorageFactory:
        url = f"file://{tmp_path / 'store'}"
        return lambda: open_storage(url)
