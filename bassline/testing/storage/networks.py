"""The storage conformance suite, networks: saving, loading, replacing, listing and deleting networks; their spec hash."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from returns.result import Failure

from bassline.codec import to_json
from bassline.spec import Bassline, GroupSpec, WireSpec, parse_spec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    NetworkStorage,
    Record,
    WireRecord,
    stored_spec_hash,
)
from bassline.testing._storage_strategies import (
    basslines,
)
from bassline.testing.storage.support import (
    BAD_IDS,
    StorageSuite,
    assert_failure,
    assert_spec_equal,
    assert_success,
    examples,
    make_stamp,
    sample_bassline,
)

__all__ = ["NetworkTests"]


@pytest.mark.anyio
class NetworkTests(StorageSuite):
    """Saving, loading, replacing, listing and deleting networks; their spec hash."""

    async def test_network_round_trips_exactly(self, storage: NetworkStorage) -> None:
        spec = await self._with_network(storage)
        assert_spec_equal(assert_success(await storage.load_network("calc")), spec)
        assert assert_success(await storage.network_exists("calc")) is True
        assert assert_success(await storage.network_exists("other")) is False
        assert assert_success(await storage.list_networks()) == ["calc"]

    @examples(30)
    @given(spec=basslines())
    async def test_generated_networks_round_trip_exactly(
        self, storage: NetworkStorage, spec: Bassline
    ) -> None:
        assert_success(await storage.save_network(spec), "save_network")
        try:
            assert_spec_equal(assert_success(await storage.load_network(spec.id)), spec)
            assert spec.id in assert_success(await storage.list_networks())
        finally:
            assert_success(await storage.delete_network(spec.id), "delete_network")

    async def test_save_network_replaces_the_spec_and_keeps_contents(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 41, make_stamp(1)))
        newer = parse_spec(to_json({**spec.to_dict(), "version": "4", "metadata": {"v": 4}}))
        assert_success(await storage.save_network(newer))
        assert_spec_equal(assert_success(await storage.load_network("calc")), newer)
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert record.value == 41

    async def test_list_networks_is_sorted_by_code_point(self, storage: NetworkStorage) -> None:
        names = ["b", "B", "a", "é", "Z", "日本", "a b", "a-b", "a/b"]
        for name in names:
            await self._with_network(storage, name)
        assert assert_success(await storage.list_networks()) == sorted(names)

    async def test_delete_network_removes_everything_and_is_idempotent(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        await self._with_network(storage, "other")
        assert_success(await storage.save_contact_content("calc", "ui", "x", 1, make_stamp(1)))
        assert_success(await storage.save_contact_content("other", "ui", "x", 2, make_stamp(1)))
        snap = assert_success(await storage.save_snapshot("calc"))
        assert_success(await storage.delete_network("calc"))
        assert_success(await storage.delete_network("calc"), "second delete")
        assert_success(await storage.delete_network("never-existed"), "delete of nothing")
        assert_failure(await storage.load_network("calc"), ErrorCode.NETWORK_NOT_FOUND)
        assert_failure(await storage.load_contents("calc"), ErrorCode.NETWORK_NOT_FOUND)
        assert_failure(await storage.list_snapshots("calc"), ErrorCode.NETWORK_NOT_FOUND)
        assert_failure(await storage.load_snapshot("calc", snap.id), ErrorCode.NETWORK_NOT_FOUND)
        assert assert_success(await storage.network_exists("calc")) is False
        assert assert_success(await storage.list_networks()) == ["other"]
        # the other network is untouched, and a recreated one starts empty
        other = assert_success(await storage.load_contact_content("other", "ui", "x"))
        assert other.value == 2
        assert_success(await storage.save_network(spec))
        assert assert_success(await storage.load_contents("calc")) == []
        assert assert_success(await storage.list_snapshots("calc")) == []

    async def test_group_and_wire_records_merge_into_the_loaded_spec(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        added = GroupSpec("extra", "Extra", "ui", None, {"bassline.tags": ["blue"]})
        changed = GroupSpec("calc", "calc v2", "ui", None, {"author": "cy"})
        wire = WireSpec("x=>total", "x", "total")
        summary = assert_success(
            await storage.write(
                [
                    GroupRecord("calc", added),
                    GroupRecord("calc", changed),
                    WireRecord("calc", wire),
                ]
            )
        )
        assert (summary.groups, summary.wires, summary.contents) == (2, 1, 0)
        loaded = assert_success(await storage.load_network("calc"))
        assert loaded.group("extra") == added and loaded.group("extra").attributes == {
            "bassline.tags": ["blue"]
        }
        assert loaded.group("calc") == changed and loaded.group("calc").attributes == {
            "author": "cy"
        }
        assert [g.id for g in loaded.groups] == sorted(g.id for g in loaded.groups)
        assert wire in loaded.wires and len(loaded.wires) == len(spec.wires) + 1
        assert loaded.contacts == spec.contacts
        # saving the whole spec again replaces the groups and wires added since
        assert_success(await storage.save_network(spec))
        assert_spec_equal(assert_success(await storage.load_network("calc")), spec)

    async def test_a_spec_not_in_sorted_order_round_trips_exactly(
        self, storage: NetworkStorage
    ) -> None:
        # storage keeps what it is given: a spec built without parse_spec, its groups and
        # wires not sorted by id, loads back as saved (same hash); a backend that stores
        # only what parse_spec gives back refuses it as INVALID instead. Queries still
        # answer sorted by id.
        base = sample_bassline("unsorted")
        spec = attrs.evolve(
            base,
            groups=tuple(reversed(base.groups)),
            wires=(WireSpec("z", "x", "y"), WireSpec("a", "y", "x")),
        )
        saved = await storage.save_network(spec)
        if isinstance(saved, Failure):
            assert_failure(saved, ErrorCode.INVALID, "save_network(unsorted spec)")
            return
        assert_spec_equal(assert_success(await storage.load_network("unsorted")), spec)
        assert assert_success(await stored_spec_hash(storage, "unsorted")) == spec.hash
        found = assert_success(await storage.query_groups("unsorted", GroupQuery()))
        assert [g.id for g in found] == sorted(g.id for g in spec.groups)
        snap = assert_success(await storage.save_snapshot("unsorted"))
        assert_spec_equal(
            assert_success(await storage.load_snapshot("unsorted", snap.id)).spec, spec
        )

    async def test_content_for_the_root_group_needs_a_root_group(
        self, storage: NetworkStorage
    ) -> None:
        # "root" is a group like any other: a spec saved without it (built without
        # parse_spec, which always adds it) has no root group to hold content
        saved = await storage.save_network(Bassline(id="bare"))
        if isinstance(saved, Failure):  # a backend storing only what parse_spec gives back
            assert_failure(saved, ErrorCode.INVALID, "save_network(spec without groups)")
            return
        assert_failure(
            await storage.save_contact_content("bare", "root", "x", 1, make_stamp(1)),
            ErrorCode.GROUP_NOT_FOUND,
        )
        batch: list[Record] = [
            ContentRecord("bare", "root", f"c{n}", n, make_stamp(1)) for n in range(6)
        ]
        assert_failure(await storage.write(batch), ErrorCode.GROUP_NOT_FOUND, "batch for root")
        assert assert_success(await storage.load_contents("bare")) == []
        summary = assert_success(
            await storage.write([GroupRecord("bare", GroupSpec("root", "root")), *batch])
        )
        assert summary.contents == 6

    async def test_the_stored_spec_hash_is_the_loaded_specs_hash(
        self, storage: NetworkStorage
    ) -> None:
        assert_failure(
            await stored_spec_hash(storage, "calc"), ErrorCode.NETWORK_NOT_FOUND, "no network"
        )
        for bad in BAD_IDS:
            assert_failure(
                await stored_spec_hash(storage, bad), ErrorCode.INVALID, f"network id {bad!r}"
            )
        spec = await self._with_network(storage)
        assert assert_success(await stored_spec_hash(storage, "calc")) == spec.hash
        wire = WireSpec("x=>total", "x", "total")
        assert_success(await storage.write([WireRecord("calc", wire)]))
        loaded = assert_success(await storage.load_network("calc"))
        assert loaded.hash != spec.hash
        assert assert_success(await stored_spec_hash(storage, "calc")) == loaded.hash
