"""The storage conformance suite: what only persistent or shared backends promise."""

from __future__ import annotations

import pytest

from bassline.lattices import GrowSet
from bassline.spec import GroupSpec
from bassline.storage import (
    ContentRecord,
    GroupRecord,
)
from bassline.testing.storage.support import (
    StorageFactory,
    assert_spec_equal,
    assert_success,
    make_stamp,
    records_by_key,
    sample_bassline,
)

__all__ = ["PersistentStorageConformance", "SharedStorageConformance"]

WIRE_FROM_Y = '{"kind":"wire","from":"y"}'
"""A justification (stored form): the value came across a wire from contact ``y``."""


@pytest.mark.anyio
class PersistentStorageConformance:
    """Extra checks for backends whose data outlives the storage object (``persistent``).

    Add it next to :class:`StorageConformance`:
    ``class TestMine(StorageConformance, PersistentStorageConformance): ...``
    """

    async def test_reopening_keeps_everything_when_persistent(
        self, storage_factory: StorageFactory
    ) -> None:
        first = storage_factory()
        assert first.capabilities.persistent, "PersistentStorageConformance needs persistent=True"
        spec = sample_bassline()
        async with first:
            assert_success(await first.save_network(spec))
            assert_success(
                await first.write(
                    [
                        GroupRecord("calc", GroupSpec("extra", "extra", "root", None, {"k": 1})),
                        ContentRecord(
                            "calc", "ui", "x", {"v": [1, 2.0]}, make_stamp(7), WIRE_FROM_Y
                        ),
                        ContentRecord("calc", "ui", "y", GrowSet([3]), make_stamp(8)),
                    ]
                )
            )
            info = assert_success(await first.save_snapshot("calc", "before"))
            expected_spec = assert_success(await first.load_network("calc"))
            expected_contents = assert_success(await first.load_contents("calc"))
        async with storage_factory() as second:
            assert_spec_equal(assert_success(await second.load_network("calc")), expected_spec)
            contents = assert_success(await second.load_contents("calc"))
            assert records_by_key(contents) == records_by_key(expected_contents)
            snaps = assert_success(await second.list_snapshots("calc"))
            assert [s.id for s in snaps] == [info.id]
            snap = assert_success(await second.load_snapshot("calc", info.id))
            assert records_by_key(list(snap.contents)) == records_by_key(expected_contents)


@pytest.mark.anyio
class SharedStorageConformance:
    """Extra checks for backends several storage objects may open at once (``shared``)."""

    async def test_two_open_instances_share_the_store_when_shared(
        self, storage_factory: StorageFactory
    ) -> None:
        first = storage_factory()
        assert first.capabilities.shared, "SharedStorageConformance needs shared=True"
        async with first, storage_factory() as second:
            assert_success(await first.save_network(sample_bassline()))
            assert_success(await second.save_contact_content("calc", "ui", "x", 1, make_stamp(1)))
            assert_success(
                await first.save_contact_content("calc", "ui", "y", GrowSet([2]), make_stamp(1))
            )
            seen_by_first = assert_success(await first.load_contents("calc"))
            seen_by_second = assert_success(await second.load_contents("calc"))
            assert records_by_key(seen_by_first) == records_by_key(seen_by_second)
            assert len(seen_by_first) == 2
            assert_success(await second.delete_network("calc"))
            assert assert_success(await first.network_exists("calc")) is False
