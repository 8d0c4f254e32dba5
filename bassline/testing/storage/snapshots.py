"""The storage conformance suite, snapshots: snapshots: isolated points in time, order, not-found codes."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from returns.result import Failure

from bassline.lattices import GrowSet
from bassline.spec import GroupSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupRecord,
    NetworkStorage,
    SnapshotInfo,
)
from bassline.testing.storage.support import (
    StorageSuite,
    assert_failure,
    assert_spec_equal,
    assert_success,
    make_stamp,
    no_raise,
    records_by_key,
)

__all__ = ["SnapshotTests"]


@pytest.mark.anyio
class SnapshotTests(StorageSuite):
    """Snapshots: isolated points in time, order, not-found codes."""

    async def test_a_snapshot_is_an_isolated_point_in_time(self, storage: NetworkStorage) -> None:
        spec = await self._with_network(storage)
        assert_success(
            await storage.write(
                [
                    ContentRecord("calc", "ui", "x", {"v": 1}, make_stamp(1)),
                    ContentRecord("calc", "ui", "y", GrowSet([1]), make_stamp(1)),
                ]
            )
        )
        before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        info = assert_success(await storage.save_snapshot("calc", "first"))
        assert isinstance(info, SnapshotInfo) and isinstance(info.id, str) and info.id
        assert (info.network, info.label, info.contents) == ("calc", "first", 2)
        assert info.created_at.tzinfo is not None and info.created_at >= before
        assert_success(
            await storage.write(
                [
                    ContentRecord("calc", "ui", "x", {"v": 2}, make_stamp(2)),
                    ContentRecord("calc", "calc", "total", 3, make_stamp(2)),
                    GroupRecord("calc", GroupSpec("later", "later", "root", None, {})),
                ]
            )
        )
        snap = assert_success(await storage.load_snapshot("calc", info.id))
        assert snap.info == info
        assert_spec_equal(snap.spec, spec)
        assert records_by_key(list(snap.contents)) == records_by_key(
            [
                ContentRecord("calc", "ui", "x", {"v": 1}, make_stamp(1)),
                ContentRecord("calc", "ui", "y", GrowSet([1]), make_stamp(1)),
            ]
        )
        # loading a snapshot does not restore it: the live network keeps its new state
        live = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert live.value == {"v": 2}
        snap.spec.metadata["owner"] = "mallory"
        again = assert_success(await storage.load_snapshot("calc", info.id))
        assert again.spec.metadata["owner"] == "ann"

    async def test_list_snapshots_is_newest_first(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        await self._with_network(storage, "other")
        assert assert_success(await storage.list_snapshots("calc")) == []
        made = []
        for n in range(4):
            made.append(assert_success(await storage.save_snapshot("calc", f"s{n}")))
        made.append(assert_success(await storage.save_snapshot("calc")))
        other = assert_success(await storage.save_snapshot("other", "s0"))
        listed = assert_success(await storage.list_snapshots("calc"))
        assert [s.id for s in listed] == [s.id for s in reversed(made)]
        assert [s.label for s in listed] == [None, "s3", "s2", "s1", "s0"]
        assert listed == list(reversed(made))
        ids_ = [s.id for s in made] + [other.id]
        assert len(set(ids_)) == len(ids_), "snapshot ids must be unique"
        times = [s.created_at for s in listed]
        assert times == sorted(times, reverse=True)

    async def test_a_label_that_is_not_valid_unicode_never_raises(
        self, storage: NetworkStorage
    ) -> None:
        # a lone surrogate cannot be written as UTF-8: a backend stores it exactly or
        # refuses it as INVALID, and never raises
        await self._with_network(storage)
        label = "half \ud800 a pair"
        result = await no_raise("save_snapshot", lambda: storage.save_snapshot("calc", label))
        if isinstance(result, Failure):
            assert_failure(result, ErrorCode.INVALID, "save_snapshot(lone surrogate label)")
            assert assert_success(await storage.list_snapshots("calc")) == []
        else:
            info = assert_success(result)
            assert assert_success(await storage.load_snapshot("calc", info.id)).info.label == label

    async def test_a_label_with_a_control_character_is_invalid(
        self, storage: NetworkStorage
    ) -> None:
        # as in ids: a newline would split a listing's line, an escape drive a terminal
        await self._with_network(storage)
        for label in ("two\nlines", "tab\there", "esc\x1b[31m", "nul\x00", "del\x7f"):
            save = functools.partial(storage.save_snapshot, "calc", label)
            result = await no_raise("save_snapshot", save)
            assert_failure(result, ErrorCode.INVALID, f"save_snapshot(label {label!r})")
            assert "control character" in result.failure().message
        assert assert_success(await storage.list_snapshots("calc")) == []
        info = assert_success(await storage.save_snapshot("calc", "spaces and ünïcode 🎉"))
        assert info.label == "spaces and ünïcode 🎉"

    async def test_snapshot_not_found_codes_and_idempotent_delete(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        await self._with_network(storage, "other")
        info = assert_success(await storage.save_snapshot("calc"))
        assert_failure(await storage.save_snapshot("nope"), ErrorCode.NETWORK_NOT_FOUND)
        assert_failure(await storage.list_snapshots("nope"), ErrorCode.NETWORK_NOT_FOUND)
        assert_failure(await storage.load_snapshot("nope", info.id), ErrorCode.NETWORK_NOT_FOUND)
        assert_failure(
            await storage.load_snapshot("calc", "no-such-snapshot"), ErrorCode.SNAPSHOT_NOT_FOUND
        )
        assert_failure(
            await storage.load_snapshot("other", info.id),
            ErrorCode.SNAPSHOT_NOT_FOUND,
            "a snapshot id of another network",
        )
        assert_success(await storage.delete_snapshot("other", info.id), "delete via other network")
        assert_success(await storage.load_snapshot("calc", info.id), "still there")
        assert_success(await storage.delete_snapshot("calc", info.id))
        assert_failure(await storage.load_snapshot("calc", info.id), ErrorCode.SNAPSHOT_NOT_FOUND)
        assert_success(await storage.delete_snapshot("calc", info.id), "second delete")
        assert_success(await storage.delete_snapshot("nope", "x"), "delete in unknown network")
        assert assert_success(await storage.list_snapshots("calc")) == []
