"""The storage conformance suite, ids: hostile, long and invalid ids, everywhere."""

from __future__ import annotations

import pytest

from bassline.spec import GroupSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupRecord,
    NetworkRecord,
    NetworkStorage,
)
from bassline.testing._storage_strategies import (
    HOSTILE_IDS,
)
from bassline.testing.storage.support import (
    BAD_IDS,
    StorageSuite,
    assert_failure,
    assert_success,
    calls_with_bad_id,
    make_stamp,
    no_raise,
    sample_bassline,
)

__all__ = ["IdTests"]


@pytest.mark.anyio
class IdTests(StorageSuite):
    """Hostile, long and invalid ids, everywhere."""

    async def test_hostile_ids_are_stored_safely_and_never_collide(
        self, storage: NetworkStorage
    ) -> None:
        networks = [*HOSTILE_IDS, "é", "e\u0301", "x" * 200]
        for n, network in enumerate(networks):
            await self._with_network(storage, network)
            assert_success(
                await storage.save_contact_content(network, "ui", "x", n, make_stamp(1)), network
            )
        assert assert_success(await storage.list_networks()) == sorted(networks)
        for n, network in enumerate(networks):
            record = assert_success(await storage.load_contact_content(network, "ui", "x"))
            assert record.value == n, f"network {network!r} sees another network's content"
            assert assert_success(await storage.load_network(network)).id == network
        contacts = [*HOSTILE_IDS, "X", "x"]
        for n, contact in enumerate(contacts):
            assert_success(
                await storage.save_contact_content("Calc", "ui", contact, n, make_stamp(2)), contact
            )
        loaded = assert_success(await storage.load_contents("Calc"))
        assert {r.contact: r.value for r in loaded} == {c: n for n, c in enumerate(contacts)}
        groups = [GroupSpec(g, g, "root", None, {}) for g in ("G", "g", "../g", "g/..")]
        assert_success(await storage.write([GroupRecord("calc", g) for g in groups]))
        for n, group in enumerate(groups):
            assert_success(
                await storage.save_contact_content("calc", group.id, f"in-{n}", n, make_stamp(1))
            )
            got = assert_success(await storage.load_contact_content("calc", group.id, f"in-{n}"))
            assert (got.group, got.value) == (group.id, n)
        assert_success(await storage.delete_network("CALC"))
        assert assert_success(await storage.network_exists("calc")) is True
        assert assert_success(await storage.network_exists("Calc")) is True

    async def test_long_ids_are_stored(self, storage: NetworkStorage) -> None:
        # specs cap ids at 200 characters; 200 non-ASCII ones are 600 UTF-8 bytes, longer
        # than a file name may be. Contact and snapshot ids may be 512 characters long.
        network, group, contact = "日" * 200, "g" * 200, "ü" * 512
        spec = sample_bassline(network)
        extra = GroupSpec(group, "long", "root", None, {})
        assert_success(
            await storage.write(
                [
                    NetworkRecord(spec),
                    GroupRecord(network, extra),
                    ContentRecord(network, group, contact, "long", make_stamp(1)),
                ]
            )
        )
        loaded = assert_success(await storage.load_network(network))
        assert loaded.id == network and loaded.group(group) == extra
        record = assert_success(await storage.load_contact_content(network, group, contact))
        assert (record.contact, record.value) == (contact, "long")
        snap = assert_success(await storage.save_snapshot(network))
        assert [
            r.contact
            for r in assert_success(await storage.load_snapshot(network, snap.id)).contents
        ] == [contact]
        assert assert_success(await storage.list_networks()) == [network]
        longest = "n" * 512
        assert_failure(await storage.load_network(longest), ErrorCode.NETWORK_NOT_FOUND)
        assert assert_success(await storage.network_exists(longest)) is False
        assert_failure(
            await storage.load_snapshot(network, "s" * 512), ErrorCode.SNAPSHOT_NOT_FOUND
        )
        assert_success(await storage.delete_snapshot(network, "s" * 512))

    async def test_bad_ids_are_invalid_everywhere(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        info = assert_success(await storage.save_snapshot("calc"))
        spec = sample_bassline()
        for bad in BAD_IDS:
            calls = calls_with_bad_id(storage, bad, info.id, spec)
            for name, call in calls:
                assert_failure(await no_raise(name, call), ErrorCode.INVALID, f"{name}({bad!r})")
        assert assert_success(await storage.list_networks()) == ["calc"]
        assert assert_success(await storage.load_contents("calc")) == []
