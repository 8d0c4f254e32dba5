"""The memory backend: the conformance suite, plus what only memory promises."""

from __future__ import annotations

import itertools
import threading

import anyio
import pytest
from bassline_storage_memory import MemoryStorage, drop_store, open_memory_storage, store_names

from bassline.clock import HybridLogicalClock, Stamp
from bassline.lattices import GrowMap
from bassline.storage import Capabilities, ContentRecord, open_storage
from bassline.testing.storage import (
    MergeJoinConformance,
    StorageConformance,
    StorageFactory,
    assert_success,
    sample_bassline,
)

pytestmark = pytest.mark.anyio
_names = itertools.count()


class TestMemoryConformance(StorageConformance, MergeJoinConformance):
    """``memory://NAME`` with a fresh name per test passes the whole suite (the merge
    contacts' too: storages of one name are writers of one store)."""

    @pytest.fixture
    def storage_factory(self) -> StorageFactory:
        url = f"memory://conformance-{next(_names)}"
        return lambda: open_storage(url)


def _fresh_name() -> str:
    return f"memory-test-{next(_names)}"


async def test_memory_is_not_persistent_and_transactional() -> None:
    storage = open_storage("memory://")
    assert isinstance(storage, MemoryStorage)
    assert storage.capabilities == Capabilities(persistent=False, transactions=True, shared=False)


async def test_a_named_store_is_shared_by_every_open_of_the_name() -> None:
    url = f"memory://{_fresh_name()}"
    async with open_storage(url) as first, open_storage(url) as second:
        assert_success(await first.save_network(sample_bassline()))
        assert_success(await second.save_contact_content("calc", "ui", "x", 1, Stamp(1, "a")))
        record = assert_success(await first.load_contact_content("calc", "ui", "x"))
        assert record.value == 1
    async with open_storage(url) as later:
        assert assert_success(await later.list_networks()) == ["calc"], "lives until dropped"


async def test_plain_memory_urls_open_private_stores() -> None:
    async with open_storage("memory://") as first, open_storage("memory://") as second:
        assert_success(await first.save_network(sample_bassline()))
        assert assert_success(await second.list_networks()) == []


async def test_drop_store_forgets_a_named_store() -> None:
    name = _fresh_name()
    async with open_storage(f"memory://{name}") as storage:
        assert_success(await storage.save_network(sample_bassline()))
    assert name in store_names()
    assert drop_store(name) is True
    assert drop_store(name) is False
    assert name not in store_names()
    async with open_storage(f"memory://{name}") as storage:
        assert assert_success(await storage.list_networks()) == []
    drop_store(name)


async def test_store_names_are_case_sensitive_and_may_be_percent_encoded() -> None:
    upper, lower = _fresh_name().upper(), _fresh_name()
    async with open_storage(f"memory://{upper}") as a, open_storage(f"memory://{lower}") as b:
        assert_success(await a.save_network(sample_bassline()))
        assert assert_success(await b.list_networks()) == []
    async with open_storage("memory://two%20words") as spaced:
        assert isinstance(spaced, MemoryStorage) and spaced.store.name == "two words"
    for name in (upper, lower, "two words"):
        drop_store(name)


async def test_a_name_written_raw_or_percent_encoded_is_one_store() -> None:
    """``memory://a b`` and ``memory://a%20b`` (and ``%2F`` for a slash, which a raw name
    cannot hold: it would be a path) open the same store: the name is percent-decoded."""
    base = _fresh_name()
    for raw, encoded, name in (
        (f"memory://{base} b", f"memory://{base}%20b", f"{base} b"),
        (f"memory://{base}-%41", f"memory://{base}-A", f"{base}-A"),
    ):
        async with open_storage(raw) as one, open_storage(encoded) as other:
            assert isinstance(one, MemoryStorage) and isinstance(other, MemoryStorage)
            assert one.store is other.store and one.store.name == name
            assert_success(await one.save_network(sample_bassline()))
            assert assert_success(await other.list_networks()) == ["calc"]
        assert drop_store(name)
    async with open_storage(f"memory://{base}%2Fslash") as slashed:
        assert isinstance(slashed, MemoryStorage) and slashed.store.name == f"{base}/slash"
    assert drop_store(f"{base}/slash")


async def test_nothing_handed_out_is_the_stored_object() -> None:
    async with open_storage("memory://") as storage:
        spec = sample_bassline()
        assert_success(await storage.save_network(spec))
        one = assert_success(await storage.load_network("calc"))
        two = assert_success(await storage.load_network("calc"))
        assert one == two == spec and one is not spec and one is not two
        assert one.metadata is not two.metadata and one.metadata is not spec.metadata
        value = GrowMap({"k": [1, {"d": 2}]})
        assert_success(await storage.save_contact_content("calc", "ui", "x", value, Stamp(1, "a")))
        first = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        second = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert first.value == second.value == value
        assert first.value["k"] is not second.value["k"] and first.value["k"] is not value["k"]


async def test_unstamped_saves_are_newer_than_every_stamp_seen() -> None:
    async with open_storage("memory://") as storage:
        assert_success(await storage.save_network(sample_bassline()))
        ahead = HybridLogicalClock("peer")
        ahead_stamp = Stamp(ahead.tick().hlc + (5_000 << 16), "peer")  # 5 s in the future
        assert_success(await storage.save_contact_content("calc", "ui", "x", "peer", ahead_stamp))
        assert_success(await storage.save_contact_content("calc", "ui", "x", "local"))
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert record.value == "local" and record.stamp > ahead_stamp


async def test_storages_on_one_named_store_share_its_clock() -> None:
    """A stamp written through one storage is seen by the clock of every other storage on
    the same named store: the other's unstamped save is newer and replaces it."""
    url = f"memory://{_fresh_name()}"
    async with open_storage(url) as writer, open_storage(url) as saver:
        assert_success(await writer.save_network(sample_bassline()))
        ahead = HybridLogicalClock("peer")
        ahead_stamp = Stamp(ahead.tick().hlc + (5_000 << 16), "peer")  # 5 s in the future
        batch = [ContentRecord("calc", "ui", "x", "peer", ahead_stamp)]
        assert_success(await writer.write(batch))
        assert_success(await saver.save_contact_content("calc", "ui", "x", "local"))
        record = assert_success(await saver.load_contact_content("calc", "ui", "x"))
        assert record.value == "local" and record.stamp > ahead_stamp


def test_writers_in_other_threads_and_event_loops_lose_nothing() -> None:
    url = f"memory://{_fresh_name()}"

    async def setup() -> None:
        async with open_storage(url) as storage:
            assert_success(await storage.save_network(sample_bassline()))

    async def writer(prefix: str) -> None:
        async with open_storage(url) as storage:
            for n in range(200):
                assert_success(
                    await storage.save_contact_content(
                        "calc", "ui", f"{prefix}{n}", n, Stamp(1, "t")
                    )
                )

    async def count() -> int:
        async with open_storage(url) as storage:
            return len(assert_success(await storage.load_contents("calc")))

    anyio.run(setup)
    threads = [
        threading.Thread(target=anyio.run, args=(writer, prefix), kwargs={"backend": backend})
        for prefix, backend in (("a", "asyncio"), ("b", "trio"), ("c", "asyncio"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert anyio.run(count) == 600


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memory://name/path", "has a path"),
        ("memory:///abs", "has a path"),
        ("memory://name?cache=1", "has a query"),
        ("memory://name#frag", "has a fragment"),
        ("memory://user@name", "has a user name"),
        ("memory://name:80", "has a port"),
    ],
)
def test_malformed_memory_urls_are_value_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        open_storage(url)
    assert "memory://NAME" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "found"),
    [("a" * 194, "194 characters"), ("%00", "a control character"), ("a%0Ab", "a control")],
)
def test_a_store_name_that_cannot_stamp_is_refused_saying_why(name: str, found: str) -> None:
    """The store stamps writes as ``memory:NAME``; a name making that no node id was
    "bad storage URL memory://...: node_id must be a non-empty string of at most 200
    characters ..., not 'memory:...'", about a node id nobody gave."""
    with pytest.raises(ValueError) as caught:
        open_storage(f"memory://{name}")
    assert "a store name is 1 to 193 characters without control characters" in str(caught.value)
    assert f"this one has {found}" in str(caught.value) and "node_id" not in str(caught.value)
    open_storage("memory://" + "a" * 193)  # the longest name


def test_memory_takes_no_options() -> None:
    with pytest.raises(ValueError, match="memory storage takes no options, got pool_size"):
        open_storage("memory://", pool_size=3)
    with pytest.raises(ValueError, match="not a memory storage URL"):
        open_memory_storage("file:///tmp/x")
