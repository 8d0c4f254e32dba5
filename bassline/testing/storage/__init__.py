"""The storage conformance suite: the tests every ``NetworkStorage`` backend must pass.

A backend's test module subclasses :class:`StorageConformance` and overrides one
fixture, ``storage_factory``: it returns a zero-argument callable that creates a new,
*unopened* storage on the same fresh, empty store each time it is called::

    import pytest
    from bassline.storage import open_storage
    from bassline.testing.storage import StorageConformance


    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def storage_factory(self, tmp_path):
            return lambda: open_storage(f"mine://{tmp_path}")

The suite opens storages itself (the ``storage`` fixture), opens a second one after
closing the first to check persistence when ``capabilities.persistent`` is true, and
runs concurrent writers on one storage. Tests are ``@pytest.mark.anyio`` coroutines:
anyio's pytest plugin runs each on every installed backend (asyncio, and trio if it is
installed). Override the ``anyio_backend`` fixture in your ``conftest.py`` (or on your
subclass) to choose, e.g. ``return "asyncio"``.

What is checked is listed on the Storage page of the docs: every protocol method,
not-found codes, idempotent deletes, exact round-trips of generated networks and
contents, hostile ids, atomic and ordered batches, stamp monotonicity, group queries,
snapshot isolation, 100 concurrent writers, and that no method raises for an
expected failure.

The suite is a package with one module per area, as SQLAlchemy's ``testing/suite/``:
:mod:`~bassline.testing.storage.lifecycle`, :mod:`~bassline.testing.storage.networks`,
:mod:`~bassline.testing.storage.contents`, :mod:`~bassline.testing.storage.batches`,
:mod:`~bassline.testing.storage.queries`, :mod:`~bassline.testing.storage.snapshots`,
:mod:`~bassline.testing.storage.ids` and :mod:`~bassline.testing.storage.failures`, each
a class of tests (``LifecycleTests``, ...) that :class:`StorageConformance` combines;
:mod:`~bassline.testing.storage.persistence` holds the checks only some backends take
(and :mod:`~bassline.testing.storage.joins`, :class:`MergeJoinConformance`, those of a
backend that joins merge contacts' writes: :class:`~bassline.storage.JoinsMerges`),
and :mod:`~bassline.testing.storage.support` what they all share.
"""

from __future__ import annotations

import pytest

from bassline.testing.storage.batches import BatchTests
from bassline.testing.storage.contents import ContentTests
from bassline.testing.storage.failures import FailureTests
from bassline.testing.storage.ids import IdTests
from bassline.testing.storage.joins import MergeJoinConformance, merge_spec
from bassline.testing.storage.lifecycle import LifecycleTests
from bassline.testing.storage.networks import NetworkTests
from bassline.testing.storage.persistence import (
    PersistentStorageConformance,
    SharedStorageConformance,
)
from bassline.testing.storage.queries import QueryTests
from bassline.testing.storage.snapshots import SnapshotTests
from bassline.testing.storage.support import (
    StorageFactory,
    assert_failure,
    assert_success,
    sample_bassline,
)

__all__ = [
    "MergeJoinConformance",
    "PersistentStorageConformance",
    "SharedStorageConformance",
    "StorageConformance",
    "StorageFactory",
    "assert_failure",
    "assert_success",
    "merge_spec",
    "sample_bassline",
]


@pytest.mark.anyio
class StorageConformance(
    LifecycleTests,
    NetworkTests,
    ContentTests,
    BatchTests,
    QueryTests,
    SnapshotTests,
    IdTests,
    FailureTests,
):
    """Subclass me and override ``storage_factory``; every test here then runs on your backend.

    ``concurrent_writers`` (100) and ``large_value_chars`` (1,000,000) size the
    concurrency and large-value tests.
    """
