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
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import reprlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import anyio
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Result, Success

from bassline.clock import Stamp
from bassline.codec import encode, to_json
from bassline.lattices import GrowMap, GrowSet, Interval, ShrinkSet
from bassline.spec import Bassline, GroupSpec, WireSpec, parse_spec
from bassline.storage import (
    Capabilities,
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    Health,
    NetworkRecord,
    NetworkStorage,
    Record,
    SnapshotInfo,
    StorageError,
    WireRecord,
    WriteSummary,
    stored_spec_hash,
)
from bassline.testing._storage_strategies import (
    HOSTILE_IDS,
    basslines,
    content_values,
    group_queries,
    ids,
)

__all__ = [
    "PersistentStorageConformance",
    "SharedStorageConformance",
    "StorageConformance",
    "StorageFactory",
    "assert_failure",
    "assert_success",
    "sample_bassline",
]

T = TypeVar("T")

StorageFactory = Callable[[], NetworkStorage]
"""Creates a new, unopened storage on the suite's store each time it is called."""


def _examples(n: int) -> settings:
    """Hypothesis settings for a suite test: ``n`` examples, no deadline (I/O varies)."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


_unique = itertools.count()

_BAD_IDS: tuple[Any, ...] = ("", "a\x00b", "tab\there", "new\nline", "del\x7f", "x" * 513, 42, None)
"""Ids every method must refuse with INVALID."""


def _nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def _containing_itself() -> list[Any]:
    value: list[Any] = [1]
    value.append({"again": value})
    return value


_UNENCODABLE: tuple[Any, ...] = (
    float("nan"),
    float("inf"),
    object(),
    {1: "non-string key"},
    2**70,
    "lone surrogate \ud800",
    [1, {"deep": float("-inf")}],
    b"bytes",
    _nested(255),  # deeper than canonical JSON can be written
    _nested(100_000),  # deeper than Python's own recursion limit
    _containing_itself(),
)
"""Content the codec rejects: every backend answers SERIALIZATION."""


def assert_success(result: Result[T, StorageError], what: str = "operation") -> T:
    """The value of a ``Success``; otherwise fail the test showing the error."""
    if not isinstance(result, Success):
        raise AssertionError(f"{what}: expected Success, got {result!r}")
    return cast(T, result.unwrap())


def assert_failure(
    result: Result[Any, StorageError], code: ErrorCode, what: str = "operation"
) -> StorageError:
    """The error of a ``Failure`` with ``code``; otherwise fail the test."""
    if not isinstance(result, Failure):
        raise AssertionError(f"{what}: expected Failure({code.name}), got {result!r}")
    error = result.failure()
    if not isinstance(error, StorageError):
        raise AssertionError(f"{what}: a Failure must hold a StorageError, got {error!r}")
    if error.code is not code:
        raise AssertionError(f"{what}: expected {code.name}, got {error!r}")
    if not error.message:
        raise AssertionError(f"{what}: {code.name} error has no message")
    return error


def _assert_not_open(result: Result[Any, StorageError], what: str) -> None:
    """A call on a storage that is not open: CONNECTION, permanent (no retry opens it)."""
    error = assert_failure(result, ErrorCode.CONNECTION, what)
    assert not error.transient, f"{what}: not open must be permanent, got {error}"


def sample_bassline(network_id: str = "calc") -> Bassline:
    """A small valid network: nested groups with query attributes, a gadget, wires, content."""
    data: dict[str, Any] = {
        "format": "bassline/1",
        "id": network_id,
        "version": "3",
        "metadata": {"owner": "ann", "$type": "user data", "nested": {"list": [1, 2.5, None]}},
        "groups": [
            {
                "id": "ui",
                "attributes": {
                    "bassline.author": "ann",
                    "bassline.type": "ui",
                    "bassline.tags": ["red", "green"],
                    "color": "red",
                },
            },
            {
                "id": "calc",
                "parent": "ui",
                "attributes": {"author": "bob", "type": "calc", "tags": ["red"], "size": 2},
            },
            {"id": "adder", "gadget": "add", "attributes": {"bassline.author": "bob"}},
        ],
        "contacts": [
            {"id": "x", "group": "ui"},
            {"id": "y", "group": "ui", "lattice": "grow-set", "content": GrowSet([1, "two"])},
            {"id": "total", "group": "calc", "boundary": "output"},
            {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
            {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
            {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
        ],
        "wires": [{"from": "x", "to": "y", "type": "directed"}],
        "endpoints": {"calc": {"node": "node-1", "url": "ws://127.0.0.1:9001/gossip"}},
    }
    return parse_spec(to_json(data))


def _query(**criteria: Any) -> GroupQuery:
    """A GroupQuery (through ``Any``: attrs' ``tuple`` converter confuses mypy about ``tags``)."""
    return GroupQuery(**criteria)


def _stamp(n: int, node: str = "n1") -> Stamp:
    return Stamp(n, node)


def _same_content(loaded: Any, expected: Any) -> bool:
    """Exactly the same content: identical canonical JSON (so 1.0 stays a float)."""
    return encode(loaded) == encode(expected)


def _spec_equal(loaded: Bassline, expected: Bassline) -> None:
    if loaded != expected or loaded.hash != expected.hash:
        raise AssertionError(
            f"network {expected.id!r} did not round-trip:\n"
            f"  saved:  {expected.canonical_json()!r}\n  loaded: {loaded.canonical_json()!r}"
        )


def _group_view(groups: list[GroupSpec]) -> list[tuple[str, Any]]:
    return [(g.id, encode(to_json([g.name, g.parent, g.gadget, g.attributes]))) for g in groups]


@pytest.mark.anyio
class StorageConformance:
    """Subclass me and override ``storage_factory``; every test here then runs on your backend."""

    concurrent_writers = 100
    """How many tasks write at once in the concurrency tests."""

    large_value_chars = 1_000_000
    """Size of the large values that must round-trip."""

    @pytest.fixture
    def storage_factory(self) -> StorageFactory:
        """Override: return a callable creating an unopened storage on one fresh store."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the storage_factory fixture "
            "(see bassline.testing.storage)"
        )

    @pytest.fixture
    async def storage(self, storage_factory: StorageFactory) -> AsyncIterator[NetworkStorage]:
        """An opened storage on the fresh store, closed after the test."""
        async with storage_factory() as opened:
            yield opened

    async def _with_network(self, storage: NetworkStorage, network: str = "calc") -> Bassline:
        spec = sample_bassline(network)
        assert_success(await storage.save_network(spec), "save_network")
        return spec

    # -- lifecycle -----------------------------------------------------------------------

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
        _assert_not_open(result, "list_networks after close")
        result_load = await storage.load_network("calc")
        _assert_not_open(result_load, "load_network after close")

    async def test_calls_before_open_fail_without_raising(
        self, storage_factory: StorageFactory
    ) -> None:
        storage = storage_factory()
        try:
            result = await storage.save_network(sample_bassline())
            _assert_not_open(result, "save_network before open")
        finally:
            await storage.close()

    # -- networks ------------------------------------------------------------------------

    async def test_network_round_trips_exactly(self, storage: NetworkStorage) -> None:
        spec = await self._with_network(storage)
        _spec_equal(assert_success(await storage.load_network("calc")), spec)
        assert assert_success(await storage.network_exists("calc")) is True
        assert assert_success(await storage.network_exists("other")) is False
        assert assert_success(await storage.list_networks()) == ["calc"]

    @_examples(30)
    @given(spec=basslines())
    async def test_generated_networks_round_trip_exactly(
        self, storage: NetworkStorage, spec: Bassline
    ) -> None:
        assert_success(await storage.save_network(spec), "save_network")
        try:
            _spec_equal(assert_success(await storage.load_network(spec.id)), spec)
            assert spec.id in assert_success(await storage.list_networks())
        finally:
            assert_success(await storage.delete_network(spec.id), "delete_network")

    async def test_save_network_replaces_the_spec_and_keeps_contents(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 41, _stamp(1)))
        newer = parse_spec(to_json({**spec.to_dict(), "version": "4", "metadata": {"v": 4}}))
        assert_success(await storage.save_network(newer))
        _spec_equal(assert_success(await storage.load_network("calc")), newer)
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
        assert_success(await storage.save_contact_content("calc", "ui", "x", 1, _stamp(1)))
        assert_success(await storage.save_contact_content("other", "ui", "x", 2, _stamp(1)))
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
        _spec_equal(assert_success(await storage.load_network("calc")), spec)

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
        _spec_equal(assert_success(await storage.load_network("unsorted")), spec)
        assert assert_success(await stored_spec_hash(storage, "unsorted")) == spec.hash
        found = assert_success(await storage.query_groups("unsorted", GroupQuery()))
        assert [g.id for g in found] == sorted(g.id for g in spec.groups)
        snap = assert_success(await storage.save_snapshot("unsorted"))
        _spec_equal(assert_success(await storage.load_snapshot("unsorted", snap.id)).spec, spec)

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
            await storage.save_contact_content("bare", "root", "x", 1, _stamp(1)),
            ErrorCode.GROUP_NOT_FOUND,
        )
        batch: list[Record] = [
            ContentRecord("bare", "root", f"c{n}", n, _stamp(1)) for n in range(6)
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
        for bad in _BAD_IDS:
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

    # -- contents ------------------------------------------------------------------------

    async def test_contact_content_round_trips_with_its_stamp(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        stamp = Stamp(2**62 + 5, "node-ü")
        value = {"a": [1, 2.0, None, True], "b": {"$type": "mine"}, "c": Interval(0, None)}
        assert_success(await storage.save_contact_content("calc", "ui", "x", value, stamp))
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert isinstance(record, ContentRecord)
        assert (record.network, record.group, record.contact, record.stamp) == (
            "calc",
            "ui",
            "x",
            stamp,
        )
        assert _same_content(record.value, value)

    async def test_unstamped_saves_replace_each_other(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "first"))
        first = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert isinstance(first.stamp, Stamp)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "second"))
        second = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert second.value == "second" and second.stamp > first.stamp

    async def test_contents_not_found_codes(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 1, _stamp(1)))
        assert_failure(
            await storage.load_contact_content("nope", "ui", "x"), ErrorCode.NETWORK_NOT_FOUND
        )
        assert_failure(
            await storage.load_contact_content("calc", "ui", "total"), ErrorCode.CONTACT_NOT_FOUND
        )
        assert_failure(
            await storage.load_contact_content("calc", "calc", "x"),
            ErrorCode.CONTACT_NOT_FOUND,
            "content stored under another group",
        )
        assert_failure(
            await storage.save_contact_content("calc", "nogroup", "x", 1, _stamp(2)),
            ErrorCode.GROUP_NOT_FOUND,
        )
        assert_failure(
            await storage.save_contact_content("nope", "ui", "x", 1, _stamp(2)),
            ErrorCode.NETWORK_NOT_FOUND,
        )
        assert_failure(await storage.load_contents("nope"), ErrorCode.NETWORK_NOT_FOUND)
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == (1, _stamp(1)), "a failed save changed content"

    async def test_load_contents_returns_every_content_with_stamps(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        await self._with_network(storage, "other")
        assert assert_success(await storage.load_contents("calc")) == []
        records = [
            ContentRecord("calc", "ui", "x", [1], _stamp(3, "a")),
            ContentRecord("calc", "ui", "y", GrowSet(["s"]), _stamp(4, "b")),
            ContentRecord("calc", "calc", "total", None, _stamp(5, "c")),
            ContentRecord("calc", "adder", "adder.sum", 2.5, _stamp(6, "d")),
            ContentRecord("other", "ui", "x", "elsewhere", _stamp(9)),
        ]
        summary = assert_success(await storage.write(records))
        assert summary == WriteSummary(contents=5)
        loaded = assert_success(await storage.load_contents("calc"))
        assert all(isinstance(r, ContentRecord) for r in loaded)
        assert _records(loaded) == _records(records[:4])

    @_examples(25)
    @given(
        values=st.lists(content_values, min_size=1, max_size=6),
        contacts=st.lists(ids, min_size=6, max_size=6, unique=True),
    )
    async def test_generated_contents_round_trip_exactly(
        self, storage: NetworkStorage, values: list[Any], contacts: list[str]
    ) -> None:
        network = f"contents-{next(_unique)}"
        await self._with_network(storage, network)
        try:
            records = [
                ContentRecord(network, "ui", contact, value, _stamp(n + 1))
                for n, (contact, value) in enumerate(zip(contacts, values, strict=False))
            ]
            summary = assert_success(await storage.write(records), "write")
            assert summary.contents == len(records) and summary.stale == 0
            for record in records:
                loaded = assert_success(
                    await storage.load_contact_content(network, "ui", record.contact)
                )
                assert _same_content(loaded.value, record.value), (loaded.value, record.value)
                assert loaded.stamp == record.stamp
            assert _records(assert_success(await storage.load_contents(network))) == _records(
                records
            )
        finally:
            assert_success(await storage.delete_network(network))

    async def test_lattice_values_and_tag_like_user_dicts_round_trip(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        values: list[Any] = [
            GrowSet([1, "a", {"k": [1]}, None]),
            ShrinkSet([1.5, "b"]),
            Interval(None, 3),
            Interval(-2.5, 2.5),
            GrowMap({"m": GrowSet([1]), "n": {"$type": "grow-set", "value": [1]}}),
            {"$type": "grow-set", "value": [1, 2]},
            {"$type": "object", "value": {"a": 1}},
            [GrowMap({}), GrowSet([]), {"$type": 7}],
            "",
            [],
            {},
            0,
            -0.0,
            1e308,
            2**64 - 1,
            -(2**63),
        ]
        for n, value in enumerate(values):
            contact = f"v{n}"
            assert_success(
                await storage.save_contact_content("calc", "ui", contact, value, _stamp(1))
            )
            loaded = assert_success(await storage.load_contact_content("calc", "ui", contact))
            assert _same_content(loaded.value, value), f"{value!r} came back as {loaded.value!r}"
            assert type(loaded.value) is type(value) or isinstance(value, list | dict)

    async def test_large_values_round_trip(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        size = self.large_value_chars
        text = ("ünïcødé 日本 " * (size // 11 + 1))[:size]
        nested = [{"i": i, "s": "x" * 90, "f": i / 7} for i in range(size // 120)]
        for contact, value in (("big-text", text), ("big-list", nested)):
            assert_success(
                await storage.save_contact_content("calc", "ui", contact, value, _stamp(1))
            )
            loaded = assert_success(await storage.load_contact_content("calc", "ui", contact))
            assert _same_content(loaded.value, value), f"large value {contact} changed"

    async def test_text_with_nul_characters_round_trips(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        value = {"nul": "a\x00b", "key\x00": ["\x00"], "ctl": "\x01\x1f\x7f"}
        assert_success(await storage.save_contact_content("calc", "ui", "x", value, _stamp(1)))
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert _same_content(loaded.value, value)

    async def test_unencodable_content_is_a_serialization_error(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        for value in _UNENCODABLE:
            assert_failure(
                await storage.save_contact_content("calc", "ui", "x", value, _stamp(1)),
                ErrorCode.SERIALIZATION,
                f"saving {reprlib.repr(value)}",
            )
        assert_failure(
            await storage.load_contact_content("calc", "ui", "x"), ErrorCode.CONTACT_NOT_FOUND
        )

    async def test_content_nested_to_the_limit_round_trips_and_deeper_fails_a_whole_batch(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        deepest = _nested(253)  # 254 levels of lists: as deep as content may go
        assert_success(await storage.save_contact_content("calc", "ui", "x", deepest, _stamp(1)))
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert loaded.value == deepest
        batch = [ContentRecord("calc", "ui", f"b{i}", i, _stamp(2)) for i in range(8)]
        batch[5] = ContentRecord("calc", "ui", "b5", _nested(100_000), _stamp(2))
        assert_failure(await storage.write(batch), ErrorCode.SERIALIZATION, "a too-deep batch")
        batch[5] = ContentRecord("calc", "ui", "b5", _containing_itself(), _stamp(2))
        assert_failure(await storage.write(batch), ErrorCode.SERIALIZATION, "a cyclic batch")
        assert_failure(
            await storage.load_contact_content("calc", "ui", "b0"), ErrorCode.CONTACT_NOT_FOUND
        )

    async def test_saved_values_cannot_change_behind_the_callers_back(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        value: dict[str, Any] = {"list": [1, 2], "map": {"k": "v"}}
        assert_success(await storage.save_contact_content("calc", "ui", "x", value, _stamp(1)))
        value["list"].append(3)
        value["map"]["k"] = "changed"
        spec.metadata["owner"] = "mallory"
        spec.group("ui").attributes["color"] = "blue"
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert loaded.value == {"list": [1, 2], "map": {"k": "v"}}
        stored = assert_success(await storage.load_network("calc"))
        assert stored.metadata["owner"] == "ann"
        assert stored.group("ui").attributes["color"] == "red"

    async def test_contact_attributes_and_contents_in_a_spec_are_not_shared(
        self, storage: NetworkStorage
    ) -> None:
        spec = parse_spec(
            {
                "id": "calc",
                "contacts": [
                    {"id": "k", "attributes": {"ui": {"widget": "slider"}}, "content": [1, [2]]},
                    {"id": "plain", "content": 5},
                ],
            }
        )
        assert_success(await storage.save_network(spec))
        spec.contact("k").attributes["ui"]["widget"] = "mallory"
        given: Any = spec.contact("k").content  # a list: mutating it must not reach storage
        given[1].append(3)
        loaded = assert_success(await storage.load_network("calc"))
        assert loaded.contact("k").attributes == {"ui": {"widget": "slider"}}
        assert loaded.contact("k").content == [1, [2]]
        loaded.contact("k").attributes["ui"]["widget"] = "changed"
        read: Any = loaded.contact("k").content
        read[1].append(4)
        again = assert_success(await storage.load_network("calc"))
        assert again.contact("k").attributes == {"ui": {"widget": "slider"}}
        assert again.contact("k").content == [1, [2]]
        assert again.contact("plain").content == 5

    async def test_loaded_values_do_not_change_storage(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(
            await storage.save_contact_content("calc", "ui", "x", {"list": [1]}, _stamp(1))
        )
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        value: Any = loaded.value  # an object: mutating it must not reach storage
        value["list"].append(2)
        for record in assert_success(await storage.load_contents("calc")):
            each: Any = record.value
            each["list"].append(3)
        spec = assert_success(await storage.load_network("calc"))
        spec.metadata["owner"] = "mallory"
        spec.group("ui").attributes.clear()
        groups = assert_success(await storage.query_groups("calc", GroupQuery()))
        for group in groups:
            group.attributes["poison"] = True
        again = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert again.value == {"list": [1]}
        fresh = assert_success(await storage.load_network("calc"))
        assert fresh.metadata["owner"] == "ann" and fresh.group("ui").attributes["color"] == "red"
        hits = assert_success(await storage.query_groups("calc", GroupQuery({"poison": True})))
        assert hits == []

    # -- stamps --------------------------------------------------------------------------

    async def test_an_older_stamp_never_overwrites(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "new", _stamp(10)))
        summary = assert_success(
            await storage.write([ContentRecord("calc", "ui", "x", "old", _stamp(5))])
        )
        assert (summary.contents, summary.stale) == (0, 1)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "older", _stamp(9)))
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == ("new", _stamp(10))

    async def test_equal_stamps_replace_and_the_node_breaks_ties(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 1, _stamp(5, "b")))
        summary = assert_success(
            await storage.write([ContentRecord("calc", "ui", "x", 2, _stamp(5, "b"))])
        )
        assert (summary.contents, summary.stale) == (1, 0)
        assert assert_success(await storage.load_contact_content("calc", "ui", "x")).value == 2
        summary = assert_success(
            await storage.write([ContentRecord("calc", "ui", "x", 3, _stamp(5, "a"))])
        )
        assert (summary.contents, summary.stale) == (0, 1)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 4, _stamp(5, "c")))
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == (4, _stamp(5, "c"))

    async def test_the_highest_stamp_wins_under_concurrent_writes(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        stamps = list(range(1, 41))
        random.Random(7).shuffle(stamps)

        async def put(n: int) -> None:
            assert_success(
                await storage.save_contact_content("calc", "ui", "x", f"v{n}", _stamp(n))
            )

        async with anyio.create_task_group() as tg:
            for n in stamps:
                tg.start_soon(put, n)
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == ("v40", _stamp(40))

    # -- batches -------------------------------------------------------------------------

    async def test_a_batch_orders_parents_before_children(self, storage: NetworkStorage) -> None:
        spec = sample_bassline("fresh")
        extra = GroupSpec("late", "late", "root", None, {})
        wire = WireSpec("x->total", "x", "total")
        summary = assert_success(
            await storage.write(
                [
                    ContentRecord("fresh", "late", "only-in-late", "c", _stamp(1)),
                    ContentRecord("fresh", "ui", "x", "x", _stamp(1)),
                    WireRecord("fresh", wire),
                    GroupRecord("fresh", extra),
                    NetworkRecord(spec),
                ]
            )
        )
        assert summary == WriteSummary(networks=1, groups=1, wires=1, contents=2)
        loaded = assert_success(await storage.load_network("fresh"))
        assert loaded.group("late") == extra and wire in loaded.wires
        record = assert_success(await storage.load_contact_content("fresh", "late", "only-in-late"))
        assert record.value == "c"

    async def test_a_failing_batch_leaves_nothing(self, storage: NetworkStorage) -> None:
        spec = await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "kept", _stamp(1)))
        good: list[Any] = [
            NetworkRecord(sample_bassline("new-net")),
            ContentRecord("new-net", "ui", "x", 1, _stamp(2)),
            ContentRecord("calc", "ui", "x", "overwritten?", _stamp(2)),
            GroupRecord("calc", GroupSpec("added", "added", "root", None, {})),
            WireRecord("calc", WireSpec("x->total", "x", "total")),
            ContentRecord("calc", "ui", "y", GrowSet([9]), _stamp(2)),
        ]
        bad_tails: list[tuple[Any, ErrorCode]] = [
            (ContentRecord("calc", "no-such-group", "z", 1, _stamp(2)), ErrorCode.GROUP_NOT_FOUND),
            (ContentRecord("no-such-net", "ui", "z", 1, _stamp(2)), ErrorCode.NETWORK_NOT_FOUND),
            (GroupRecord("no-such-net", GroupSpec("g")), ErrorCode.NETWORK_NOT_FOUND),
            (ContentRecord("calc", "ui", "z", float("nan"), _stamp(2)), ErrorCode.SERIALIZATION),
            (ContentRecord("calc", "ui", "z\x00", 1, _stamp(2)), ErrorCode.INVALID),
            (object(), ErrorCode.INVALID),
        ]
        for tail, code in bad_tails:
            assert_failure(await storage.write([*good, tail]), code, f"batch ending in {tail!r}")
            assert assert_success(await storage.list_networks()) == ["calc"]
            _spec_equal(assert_success(await storage.load_network("calc")), spec)
            contents = assert_success(await storage.load_contents("calc"))
            assert [(r.contact, r.value) for r in contents] == [("x", "kept")]

    async def test_duplicate_keys_in_one_batch_collapse(self, storage: NetworkStorage) -> None:
        first = sample_bassline("dup")
        second = parse_spec(to_json({**first.to_dict(), "version": "second"}))
        summary = assert_success(
            await storage.write(
                [
                    NetworkRecord(first),
                    NetworkRecord(second),
                    GroupRecord("dup", GroupSpec("g", "one", "root")),
                    GroupRecord("dup", GroupSpec("g", "two", "root")),
                    ContentRecord("dup", "ui", "x", "three", _stamp(3)),
                    ContentRecord("dup", "ui", "x", "one", _stamp(1)),
                    ContentRecord("dup", "ui", "x", "two", _stamp(2)),
                    ContentRecord("dup", "ui", "y", GrowSet([1]), _stamp(1)),
                    ContentRecord("dup", "ui", "y", GrowSet([2]), _stamp(1)),
                ]
            )
        )
        assert summary == WriteSummary(networks=1, groups=1, wires=0, contents=2, stale=0)
        loaded = assert_success(await storage.load_network("dup"))
        assert loaded.version == "second" and loaded.group("g").name == "two"
        x = assert_success(await storage.load_contact_content("dup", "ui", "x"))
        assert (x.value, x.stamp) == ("three", _stamp(3))
        y = assert_success(await storage.load_contact_content("dup", "ui", "y"))
        assert y.value == GrowSet([2]), "on a stamp tie the later record of the batch wins"

    async def test_an_empty_batch_is_a_no_op(self, storage: NetworkStorage) -> None:
        assert assert_success(await storage.write([])) == WriteSummary()
        assert assert_success(await storage.list_networks()) == []

    async def test_concurrent_writers_lose_nothing(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        writers = self.concurrent_writers

        async def put(n: int) -> None:
            assert_success(
                await storage.save_contact_content("calc", "ui", f"c{n}", {"n": n}, _stamp(n + 1)),
                f"writer {n}",
            )

        async with anyio.create_task_group() as tg:
            for n in range(writers):
                tg.start_soon(put, n)
        contents = assert_success(await storage.load_contents("calc"))
        assert {r.contact: r.value for r in contents} == {f"c{n}": {"n": n} for n in range(writers)}

    async def test_concurrent_batches_lose_nothing(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)

        async def put(n: int) -> None:
            batch: list[Record] = [
                ContentRecord("calc", "ui", f"b{n}-{i}", [n, i], _stamp(1)) for i in range(5)
            ]
            batch.append(GroupRecord("calc", GroupSpec(f"g{n}", f"g{n}", "root", None, {})))
            assert_success(await storage.write(batch), f"batch {n}")

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(put, n)
        contents = assert_success(await storage.load_contents("calc"))
        assert len(contents) == 100
        loaded = assert_success(await storage.load_network("calc"))
        assert {f"g{n}" for n in range(20)} <= {g.id for g in loaded.groups}

    # -- queries -------------------------------------------------------------------------

    async def test_query_groups_by_attributes_author_type_and_tags(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        cases: list[tuple[GroupQuery, list[str]]] = [
            (GroupQuery(), ["adder", "calc", "root", "ui"]),
            (GroupQuery(attributes={"color": "red"}), ["ui"]),
            (GroupQuery(attributes={"size": 2}), ["calc"]),
            (GroupQuery(attributes={"color": "red", "size": 2}), []),
            (GroupQuery(author="ann"), ["ui"]),
            (GroupQuery(author="bob"), ["adder", "calc"]),
            (GroupQuery(type="calc"), ["calc"]),
            (_query(tags=("red",)), ["calc", "ui"]),
            (_query(tags=("red", "green")), ["ui"]),
            (_query(tags=("blue",)), []),
            (_query(author="bob", tags=("red",)), ["calc"]),
            (GroupQuery(author="bob", type="ui"), []),
        ]
        for query, expected in cases:
            found = assert_success(await storage.query_groups("calc", query), repr(query))
            assert [g.id for g in found] == expected, query
            reference = [g for g in spec.groups if query.matches(g)]
            assert _group_view(found) == _group_view(reference), query
        assert_success(
            await storage.write(
                [GroupRecord("calc", GroupSpec("late", "late", "ui", None, {"tags": ["blue"]}))]
            )
        )
        found = assert_success(await storage.query_groups("calc", _query(tags=("blue",))))
        assert [g.id for g in found] == ["late"]
        assert_failure(
            await storage.query_groups("nope", GroupQuery()), ErrorCode.NETWORK_NOT_FOUND
        )

    @_examples(25)
    @given(spec=basslines(), queries=st.lists(group_queries(), min_size=1, max_size=4))
    async def test_query_groups_agrees_with_the_reference_semantics(
        self, storage: NetworkStorage, spec: Bassline, queries: list[GroupQuery]
    ) -> None:
        assert_success(await storage.save_network(spec))
        try:
            for query in queries:
                found = assert_success(await storage.query_groups(spec.id, query), repr(query))
                reference = [g for g in spec.groups if query.matches(g)]
                assert _group_view(found) == _group_view(reference), query
        finally:
            assert_success(await storage.delete_network(spec.id))

    # -- snapshots -----------------------------------------------------------------------

    async def test_a_snapshot_is_an_isolated_point_in_time(self, storage: NetworkStorage) -> None:
        spec = await self._with_network(storage)
        assert_success(
            await storage.write(
                [
                    ContentRecord("calc", "ui", "x", {"v": 1}, _stamp(1)),
                    ContentRecord("calc", "ui", "y", GrowSet([1]), _stamp(1)),
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
                    ContentRecord("calc", "ui", "x", {"v": 2}, _stamp(2)),
                    ContentRecord("calc", "calc", "total", 3, _stamp(2)),
                    GroupRecord("calc", GroupSpec("later", "later", "root", None, {})),
                ]
            )
        )
        snap = assert_success(await storage.load_snapshot("calc", info.id))
        assert snap.info == info
        _spec_equal(snap.spec, spec)
        assert _records(list(snap.contents)) == _records(
            [
                ContentRecord("calc", "ui", "x", {"v": 1}, _stamp(1)),
                ContentRecord("calc", "ui", "y", GrowSet([1]), _stamp(1)),
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
        result = await _no_raise("save_snapshot", lambda: storage.save_snapshot("calc", label))
        if isinstance(result, Failure):
            assert_failure(result, ErrorCode.INVALID, "save_snapshot(lone surrogate label)")
            assert assert_success(await storage.list_snapshots("calc")) == []
        else:
            info = assert_success(result)
            assert assert_success(await storage.load_snapshot("calc", info.id)).info.label == label

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

    # -- ids -----------------------------------------------------------------------------

    async def test_hostile_ids_are_stored_safely_and_never_collide(
        self, storage: NetworkStorage
    ) -> None:
        networks = [*HOSTILE_IDS, "é", "e\u0301", "x" * 200]
        for n, network in enumerate(networks):
            await self._with_network(storage, network)
            assert_success(
                await storage.save_contact_content(network, "ui", "x", n, _stamp(1)), network
            )
        assert assert_success(await storage.list_networks()) == sorted(networks)
        for n, network in enumerate(networks):
            record = assert_success(await storage.load_contact_content(network, "ui", "x"))
            assert record.value == n, f"network {network!r} sees another network's content"
            assert assert_success(await storage.load_network(network)).id == network
        contacts = [*HOSTILE_IDS, "X", "x"]
        for n, contact in enumerate(contacts):
            assert_success(
                await storage.save_contact_content("Calc", "ui", contact, n, _stamp(2)), contact
            )
        loaded = assert_success(await storage.load_contents("Calc"))
        assert {r.contact: r.value for r in loaded} == {c: n for n, c in enumerate(contacts)}
        groups = [GroupSpec(g, g, "root", None, {}) for g in ("G", "g", "../g", "g/..")]
        assert_success(await storage.write([GroupRecord("calc", g) for g in groups]))
        for n, group in enumerate(groups):
            assert_success(
                await storage.save_contact_content("calc", group.id, f"in-{n}", n, _stamp(1))
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
                    ContentRecord(network, group, contact, "long", _stamp(1)),
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
        for bad in _BAD_IDS:
            calls = _calls_with_bad_id(storage, bad, info.id, spec)
            for name, call in calls:
                assert_failure(await _no_raise(name, call), ErrorCode.INVALID, f"{name}({bad!r})")
        assert assert_success(await storage.list_networks()) == ["calc"]
        assert assert_success(await storage.load_contents("calc")) == []

    # -- expected failures come back as values ---------------------------------------------

    async def test_no_method_raises_for_an_unknown_network(self, storage: NetworkStorage) -> None:
        expectations: list[tuple[str, Callable[[], Awaitable[Result[Any, StorageError]]], Any]] = [
            ("load_network", lambda: storage.load_network("nope"), ErrorCode.NETWORK_NOT_FOUND),
            ("delete_network", lambda: storage.delete_network("nope"), None),
            ("network_exists", lambda: storage.network_exists("nope"), False),
            (
                "save_contact_content",
                lambda: storage.save_contact_content("nope", "ui", "x", 1, _stamp(1)),
                ErrorCode.NETWORK_NOT_FOUND,
            ),
            (
                "load_contact_content",
                lambda: storage.load_contact_content("nope", "ui", "x"),
                ErrorCode.NETWORK_NOT_FOUND,
            ),
            ("load_contents", lambda: storage.load_contents("nope"), ErrorCode.NETWORK_NOT_FOUND),
            (
                "write",
                lambda: storage.write([WireRecord("nope", WireSpec("w", "a", "b"))]),
                ErrorCode.NETWORK_NOT_FOUND,
            ),
            (
                "query_groups",
                lambda: storage.query_groups("nope", GroupQuery(author="ann")),
                ErrorCode.NETWORK_NOT_FOUND,
            ),
            ("save_snapshot", lambda: storage.save_snapshot("nope"), ErrorCode.NETWORK_NOT_FOUND),
            (
                "load_snapshot",
                lambda: storage.load_snapshot("nope", "s"),
                ErrorCode.NETWORK_NOT_FOUND,
            ),
            ("list_snapshots", lambda: storage.list_snapshots("nope"), ErrorCode.NETWORK_NOT_FOUND),
            ("delete_snapshot", lambda: storage.delete_snapshot("nope", "s"), None),
        ]
        for name, call, expected in expectations:
            result = await _no_raise(name, call)
            if isinstance(expected, ErrorCode):
                error = assert_failure(result, expected, name)
                assert error.transient is False, f"{name}: not-found is not transient"
            else:
                assert assert_success(result, name) == expected, name
        assert assert_success(await storage.list_networks()) == []

    async def test_no_method_raises_for_malformed_input(self, storage: NetworkStorage) -> None:
        spec = await self._with_network(storage)
        nan_spec = attrs.evolve(spec, metadata={"bad": float("nan")})
        object_group = GroupSpec("g", "g", "root", None, {"obj": object()})
        cases: list[tuple[str, Callable[[], Awaitable[Result[Any, StorageError]]], ErrorCode]] = [
            (
                "save_network(not a spec)",
                lambda: storage.save_network(_any("spec")),
                ErrorCode.INVALID,
            ),
            (
                "save_network(NaN metadata)",
                lambda: storage.save_network(nan_spec),
                ErrorCode.SERIALIZATION,
            ),
            ("write(not a batch)", lambda: storage.write(_any(42)), ErrorCode.INVALID),
            ("write([object])", lambda: storage.write([_any(object())]), ErrorCode.INVALID),
            (
                "write(tuple stamp)",
                lambda: storage.write([ContentRecord("calc", "ui", "x", 1, _any((1, "a")))]),
                ErrorCode.INVALID,
            ),
            (
                "save_contact_content(negative stamp)",
                lambda: storage.save_contact_content("calc", "ui", "x", 1, Stamp(-1, "a")),
                ErrorCode.INVALID,
            ),
            (
                "save_contact_content(stamp beyond 63 bits)",
                lambda: storage.save_contact_content("calc", "ui", "x", 1, Stamp(2**63, "a")),
                ErrorCode.INVALID,
            ),
            (
                "write(group record without a GroupSpec)",
                lambda: storage.write([GroupRecord("calc", _any({"id": "g"}))]),
                ErrorCode.INVALID,
            ),
            (
                "write(wire record without a WireSpec)",
                lambda: storage.write([WireRecord("calc", _any(("w", "x", "y")))]),
                ErrorCode.INVALID,
            ),
            (
                "write(network record without a spec)",
                lambda: storage.write([NetworkRecord(_any({"id": "calc"}))]),
                ErrorCode.INVALID,
            ),
            (
                "write(group attributes that do not encode)",
                lambda: storage.write([GroupRecord("calc", object_group)]),
                ErrorCode.SERIALIZATION,
            ),
            (
                "query_groups(not a query)",
                lambda: storage.query_groups("calc", _any("q")),
                ErrorCode.INVALID,
            ),
            (
                "save_snapshot(label 7)",
                lambda: storage.save_snapshot("calc", _any(7)),
                ErrorCode.INVALID,
            ),
        ]
        for name, call, code in cases:
            assert_failure(await _no_raise(name, call), code, name)
        _spec_equal(assert_success(await storage.load_network("calc")), spec)
        assert assert_success(await storage.load_contents("calc")) == []
        assert assert_success(await storage.list_snapshots("calc")) == []


def _any(value: Any) -> Any:
    """Deliberately ill-typed input (the suite checks it is refused, not crashed on)."""
    return value


async def _no_raise(
    name: str, call: Callable[[], Awaitable[Result[Any, StorageError]]]
) -> Result[Any, StorageError]:
    try:
        return await call()
    except Exception as exc:  # the point of the check: nothing may escape
        raise AssertionError(f"{name} raised {exc!r} instead of returning a Failure") from exc


def _calls_with_bad_id(
    storage: NetworkStorage, bad: Any, snapshot_id: str, spec: Bassline
) -> list[tuple[str, Callable[[], Awaitable[Result[Any, StorageError]]]]]:
    s = storage
    return [
        ("save_network", lambda: s.save_network(attrs.evolve(spec, id=bad))),
        ("load_network", lambda: s.load_network(bad)),
        ("delete_network", lambda: s.delete_network(bad)),
        ("network_exists", lambda: s.network_exists(bad)),
        ("save_contact_content/network", lambda: s.save_contact_content(bad, "ui", "x", 1)),
        ("save_contact_content/group", lambda: s.save_contact_content("calc", bad, "x", 1)),
        ("save_contact_content/contact", lambda: s.save_contact_content("calc", "ui", bad, 1)),
        ("load_contact_content/network", lambda: s.load_contact_content(bad, "ui", "x")),
        ("load_contact_content/group", lambda: s.load_contact_content("calc", bad, "x")),
        ("load_contact_content/contact", lambda: s.load_contact_content("calc", "ui", bad)),
        ("load_contents", lambda: s.load_contents(bad)),
        ("write/group record network", lambda: s.write([GroupRecord(bad, GroupSpec("g"))])),
        ("write/group id", lambda: s.write([GroupRecord("calc", GroupSpec(bad))])),
        ("write/wire id", lambda: s.write([WireRecord("calc", WireSpec(bad, "x", "y"))])),
        (
            "write/content contact",
            lambda: s.write([ContentRecord("calc", "ui", bad, 1, _stamp(1))]),
        ),
        ("query_groups", lambda: s.query_groups(bad, GroupQuery())),
        ("save_snapshot", lambda: s.save_snapshot(bad)),
        ("load_snapshot/network", lambda: s.load_snapshot(bad, snapshot_id)),
        ("load_snapshot/id", lambda: s.load_snapshot("calc", bad)),
        ("list_snapshots", lambda: s.list_snapshots(bad)),
        ("delete_snapshot/network", lambda: s.delete_snapshot(bad, snapshot_id)),
        ("delete_snapshot/id", lambda: s.delete_snapshot("calc", bad)),
    ]


def _records(records: list[ContentRecord]) -> dict[tuple[str, str], tuple[str, bytes, Stamp]]:
    """Content records keyed by (network, contact), values compared as canonical JSON."""
    return {(r.network, r.contact): (r.group, encode(r.value), r.stamp) for r in records}


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
                        ContentRecord("calc", "ui", "x", {"v": [1, 2.0]}, _stamp(7)),
                        ContentRecord("calc", "ui", "y", GrowSet([3]), _stamp(8)),
                    ]
                )
            )
            info = assert_success(await first.save_snapshot("calc", "before"))
            expected_spec = assert_success(await first.load_network("calc"))
            expected_contents = assert_success(await first.load_contents("calc"))
        async with storage_factory() as second:
            _spec_equal(assert_success(await second.load_network("calc")), expected_spec)
            contents = assert_success(await second.load_contents("calc"))
            assert _records(contents) == _records(expected_contents)
            snaps = assert_success(await second.list_snapshots("calc"))
            assert [s.id for s in snaps] == [info.id]
            snap = assert_success(await second.load_snapshot("calc", info.id))
            assert _records(list(snap.contents)) == _records(expected_contents)


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
            assert_success(await second.save_contact_content("calc", "ui", "x", 1, _stamp(1)))
            assert_success(
                await first.save_contact_content("calc", "ui", "y", GrowSet([2]), _stamp(1))
            )
            seen_by_first = assert_success(await first.load_contents("calc"))
            seen_by_second = assert_success(await second.load_contents("calc"))
            assert _records(seen_by_first) == _records(seen_by_second)
            assert len(seen_by_first) == 2
            assert_success(await second.delete_network("calc"))
            assert assert_success(await first.network_exists("calc")) is False
