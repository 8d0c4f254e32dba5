"""The storage conformance suite, merge contacts: what a backend declaring
:class:`~bassline.storage.JoinsMerges` promises (``docs/storage.md``, "Merge contacts").

Add :class:`MergeJoinConformance` next to :class:`~bassline.testing.storage.StorageConformance`
with the same ``storage_factory``; every storage it makes must be on the same store (two
opened at once are two writers of it, as two processes on PostgreSQL or two runtimes on
one ``memory://NAME`` store).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.lattices import GrowSet, Interval
from bassline.spec import Bassline, parse_spec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    FeedsChanges,
    JoinsMerges,
    NetworkStorage,
    StorageResult,
    WriteSummary,
)
from bassline.storage.joins import JoinConflict, spec_joins
from bassline.testing.storage.support import (
    StorageFactory,
    StorageSuite,
    assert_failure,
    assert_success,
    examples,
)

__all__ = ["MergeJoinConformance", "merge_spec"]

_networks = itertools.count()


def merge_spec(network: str = "joins") -> Bassline:
    """A network with a grow-set, an interval (which can contradict) and a plain contact."""
    return parse_spec(
        {
            "format": "bassline/1",
            "id": network,
            "groups": [{"id": "g"}],
            "contacts": [
                {"id": "set", "group": "g", "lattice": "grow-set"},
                {"id": "range", "group": "g", "lattice": "interval"},
                {"id": "plain", "group": "g"},
            ],
        }
    )


def _set(network: str, elements: list[Any], hlc: int, node: str = "a") -> ContentRecord:
    return ContentRecord(network, "g", "set", GrowSet(elements), Stamp(hlc, node))


async def _write(storage: NetworkStorage, records: list[ContentRecord]) -> StorageResult[Any]:
    assert isinstance(storage, JoinsMerges), "MergeJoinConformance needs JoinsMerges"
    network = records[0].network
    return await storage.write_joining(records, spec_joins(merge_spec(network)))


async def _stored(storage: NetworkStorage, network: str, contact: str) -> ContentRecord:
    return assert_success(await storage.load_contact_content(network, "g", contact))


@pytest.mark.anyio
class MergeJoinConformance(StorageSuite):
    """Writes to merge contacts store the join of every acknowledged write."""

    async def _network(self, storage: NetworkStorage) -> str:
        network = f"joins-{next(_networks)}"
        assert_success(await storage.save_network(merge_spec(network)))
        return network

    async def test_a_newer_write_that_has_not_seen_an_older_one_keeps_both(
        self, storage_factory: StorageFactory
    ) -> None:
        """The loss this guards against, in its losing order: writer A stores {x}; writer B,
        not having seen it, stores {y} with a newer stamp. Both were acknowledged."""
        async with storage_factory() as a, storage_factory() as b:
            network = await self._network(a)
            assert_success(await _write(a, [_set(network, ["x"], 10, "a")]))
            summary: WriteSummary = assert_success(await _write(b, [_set(network, ["y"], 20, "b")]))
            stored = await _stored(a, network, "set")
            assert stored.value == GrowSet(["x", "y"])
            assert stored.stamp == Stamp(20, "b")
            assert (summary.contents, summary.stale) == (1, 0)
            assert [r.value for r in summary.joined] == [GrowSet(["x", "y"])]

    async def test_an_older_write_still_adds_and_the_newer_stamp_stays(
        self, storage_factory: StorageFactory
    ) -> None:
        async with storage_factory() as a, storage_factory() as b:
            network = await self._network(a)
            assert_success(await _write(b, [_set(network, ["y"], 20, "b")]))
            assert_success(await _write(a, [_set(network, ["x"], 10, "a")]))
            stored = await _stored(b, network, "set")
            assert (stored.value, stored.stamp) == (GrowSet(["x", "y"]), Stamp(20, "b"))

    async def test_a_write_that_adds_nothing_stores_nothing(
        self, storage_factory: StorageFactory
    ) -> None:
        async with storage_factory() as a:
            network = await self._network(a)
            assert_success(await _write(a, [_set(network, ["x", "y"], 10)]))
            position = None
            if isinstance(a, FeedsChanges):
                position = assert_success(await a.feed_position(network))
            summary = assert_success(await _write(a, [_set(network, ["y"], 30)]))
            assert (summary.contents, summary.stale, summary.joined) == (0, 1, ())
            stored = await _stored(a, network, "set")
            assert (stored.value, stored.stamp) == (GrowSet(["x", "y"]), Stamp(10, "a"))
            if isinstance(a, FeedsChanges):
                assert assert_success(await a.feed_position(network)) == position

    async def test_a_write_holding_the_stored_value_is_stored_as_written(
        self, storage_factory: StorageFactory
    ) -> None:
        async with storage_factory() as a:
            network = await self._network(a)
            assert_success(await _write(a, [_set(network, ["x"], 10)]))
            record = _set(network, ["x", "y"], 20)
            summary = assert_success(await _write(a, [record]))
            assert (summary.contents, summary.joined) == (1, ())
            assert await _stored(a, network, "set") == record

    async def test_a_contradiction_stores_nothing_of_the_batch(
        self, storage_factory: StorageFactory
    ) -> None:
        async with storage_factory() as a, storage_factory() as b:
            network = await self._network(a)
            first = ContentRecord(network, "g", "range", Interval(0, 5), Stamp(10, "a"))
            assert_success(await _write(a, [first]))
            refused = await _write(
                b,
                [
                    ContentRecord(network, "g", "range", Interval(7, 9), Stamp(20, "b")),
                    ContentRecord(network, "g", "plain", "kept?", Stamp(20, "b")),
                    _set(network, ["z"], 20, "b"),
                ],
            )
            error = assert_failure(refused, ErrorCode.CONFLICT)
            assert not error.transient
            assert "'range'" in error.message
            # the cause names the contact: a writer gives up its writes alone (D62)
            assert isinstance(error.cause, JoinConflict)
            assert (error.cause.network, error.cause.contact) == (network, "range")
            contents = assert_success(await a.load_contents(network))
            assert [(r.contact, r.value) for r in contents] == [("range", Interval(0, 5))]

    async def test_values_not_of_the_lattice(self, storage_factory: StorageFactory) -> None:
        """A written value not of the lattice is INVALID, naming the contact and why; a
        stored one (the contact was accept-last before) is replaced as accept-last: by a
        write with an equal or newer stamp, an older one storing nothing."""
        async with storage_factory() as a:
            network = await self._network(a)
            empty = ContentRecord(network, "g", "range", [9, 1], Stamp(10, "a"))
            error = assert_failure(await _write(a, [empty]), ErrorCode.INVALID)
            assert "'range'" in error.message and "[9, 1] is empty" in error.message
            plain = ContentRecord(network, "g", "set", "text", Stamp(20, "a"))
            assert_success(await a.write([plain]))  # written as accept-last, not joined
            older = assert_success(await _write(a, [_set(network, ["x"], 10)]))
            assert (older.contents, older.stale) == (0, 1)
            assert (await _stored(a, network, "set")).value == "text"
            assert_success(await _write(a, [_set(network, ["y"], 20)]))
            assert (await _stored(a, network, "set")).value == GrowSet(["y"])

    async def test_plain_contacts_keep_the_newest_stamp(
        self, storage_factory: StorageFactory
    ) -> None:
        """In a batch that joins, an accept-last record is written as ``write`` writes it:
        a stale one stores nothing."""
        async with storage_factory() as a:
            network = await self._network(a)
            newer = ContentRecord(network, "g", "plain", "new", Stamp(20, "a"))
            assert_success(await _write(a, [newer]))
            summary = assert_success(
                await _write(
                    a,
                    [
                        ContentRecord(network, "g", "plain", "old", Stamp(10, "a")),
                        _set(network, ["x"], 10),
                    ],
                )
            )
            assert (summary.contents, summary.stale) == (1, 1)
            assert await _stored(a, network, "plain") == newer

    async def test_one_contact_twice_in_a_batch_is_joined(
        self, storage_factory: StorageFactory
    ) -> None:
        async with storage_factory() as a:
            network = await self._network(a)
            assert_success(
                await _write(a, [_set(network, ["x"], 20), _set(network, ["y"], 10, "b")])
            )
            stored = await _stored(a, network, "set")
            assert (stored.value, stored.stamp) == (GrowSet(["x", "y"]), Stamp(20, "a"))

    async def test_the_feed_reports_a_joined_contact_once_with_its_join(
        self, storage_factory: StorageFactory
    ) -> None:
        async with storage_factory() as a, storage_factory() as b:
            if not isinstance(a, FeedsChanges):
                pytest.skip("no change feed")
            network = await self._network(a)
            start = assert_success(await a.feed_position(network))
            assert_success(await _write(a, [_set(network, ["x"], 10, "a")]))
            assert_success(await _write(b, [_set(network, ["y"], 5, "b")]))
            changes = assert_success(await a.read_changes(network, start))
            assert [(r.contact, r.value, r.stamp) for r in changes.records] == [
                ("set", GrowSet(["x", "y"]), Stamp(10, "a"))
            ]

    @examples(25)
    @given(
        writes=st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 30), st.integers(1, 1000)),
            min_size=1,
            max_size=12,
        )
    )
    async def test_any_order_of_writers_ends_with_the_union(
        self, storage_factory: StorageFactory, writes: list[tuple[int, int, int]]
    ) -> None:
        """Three writers, each adding one element at a time with any stamp, in any
        order, none having read the others: storage ends with every element."""
        async with storage_factory() as a, storage_factory() as b, storage_factory() as c:
            writers = (a, b, c)
            network = await self._network(a)
            for writer, element, hlc in writes:
                record = _set(network, [element], hlc, f"w{writer}")
                assert_success(await _write(writers[writer], [record]))
            stored = await _stored(b, network, "set")
            assert stored.value == GrowSet([element for _, element, _ in writes])
            assert stored.stamp in {Stamp(h, f"w{w}") for w, _, h in writes}
