"""What every area of the storage conformance suite shares: checks, samples, fixtures."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import attrs
import pytest
from hypothesis import HealthCheck, settings
from returns.result import Failure, Result, Success

from bassline.clock import Stamp
from bassline.codec import encode, to_json
from bassline.lattices import GrowSet
from bassline.spec import Bassline, GroupSpec, WireSpec, parse_spec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    NetworkStorage,
    StorageError,
    WireRecord,
)

__all__ = [
    "BAD_IDS",
    "UNENCODABLE",
    "StorageFactory",
    "StorageSuite",
    "assert_failure",
    "assert_not_open",
    "assert_spec_equal",
    "assert_success",
    "calls_with_bad_id",
    "containing_itself",
    "examples",
    "group_view",
    "ill_typed",
    "make_query",
    "make_stamp",
    "nested_lists",
    "no_raise",
    "records_by_key",
    "same_content",
    "sample_bassline",
    "unique_ids",
]

T = TypeVar("T")

StorageFactory = Callable[[], NetworkStorage]
"""Creates a new, unopened storage on the suite's store each time it is called."""


def examples(n: int) -> settings:
    """Hypothesis settings for a suite test: ``n`` examples, no deadline (I/O varies)."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


unique_ids = itertools.count()

BAD_IDS: tuple[Any, ...] = ("", "a\x00b", "tab\there", "new\nline", "del\x7f", "x" * 513, 42, None)
"""Ids every method must refuse with INVALID."""


def nested_lists(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def containing_itself() -> list[Any]:
    value: list[Any] = [1]
    value.append({"again": value})
    return value


UNENCODABLE: tuple[Any, ...] = (
    float("nan"),
    float("inf"),
    object(),
    {1: "non-string key"},
    2**70,
    "lone surrogate \ud800",
    [1, {"deep": float("-inf")}],
    b"bytes",
    nested_lists(255),  # deeper than canonical JSON can be written
    nested_lists(100_000),  # deeper than Python's own recursion limit
    containing_itself(),
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


def assert_not_open(result: Result[Any, StorageError], what: str) -> None:
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


def make_query(**criteria: Any) -> GroupQuery:
    """A GroupQuery (through ``Any``: attrs' ``tuple`` converter confuses mypy about ``tags``)."""
    return GroupQuery(**criteria)


def make_stamp(n: int, node: str = "n1") -> Stamp:
    return Stamp(n, node)


def same_content(loaded: Any, expected: Any) -> bool:
    """Exactly the same content: identical canonical JSON (so 1.0 stays a float)."""
    return encode(loaded) == encode(expected)


def assert_spec_equal(loaded: Bassline, expected: Bassline) -> None:
    if loaded != expected or loaded.hash != expected.hash:
        raise AssertionError(
            f"network {expected.id!r} did not round-trip:\n"
            f"  saved:  {expected.canonical_json()!r}\n  loaded: {loaded.canonical_json()!r}"
        )


def group_view(groups: list[GroupSpec]) -> list[tuple[str, Any]]:
    return [(g.id, encode(to_json([g.name, g.parent, g.gadget, g.attributes]))) for g in groups]


def ill_typed(value: Any) -> Any:
    """Deliberately ill-typed input (the suite checks it is refused, not crashed on)."""
    return value


async def no_raise(
    name: str, call: Callable[[], Awaitable[Result[Any, StorageError]]]
) -> Result[Any, StorageError]:
    try:
        return await call()
    except Exception as exc:  # the point of the check: nothing may escape
        raise AssertionError(f"{name} raised {exc!r} instead of returning a Failure") from exc


def calls_with_bad_id(
    storage: NetworkStorage, bad: Any, snapshot_id: str, spec: Bassline
) -> list[tuple[str, Callable[[], Awaitable[Result[Any, StorageError]]]]]:
    """Every operation that takes an id, once per id it takes, with ``bad`` in that place:
    ``(name, call)`` pairs, each call starting the operation. The other ids are good ones
    (network ``calc``, group ``ui``, snapshot ``snapshot_id``); ``save_network`` saves
    ``spec`` renamed ``bad``."""
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
            lambda: s.write([ContentRecord("calc", "ui", bad, 1, make_stamp(1))]),
        ),
        ("query_groups", lambda: s.query_groups(bad, GroupQuery())),
        ("save_snapshot", lambda: s.save_snapshot(bad)),
        ("load_snapshot/network", lambda: s.load_snapshot(bad, snapshot_id)),
        ("load_snapshot/id", lambda: s.load_snapshot("calc", bad)),
        ("list_snapshots", lambda: s.list_snapshots(bad)),
        ("delete_snapshot/network", lambda: s.delete_snapshot(bad, snapshot_id)),
        ("delete_snapshot/id", lambda: s.delete_snapshot("calc", bad)),
    ]


def records_by_key(
    records: list[ContentRecord],
) -> dict[tuple[str, str], tuple[str, bytes, Stamp, str | None]]:
    """Content records keyed by (network, contact), values compared as canonical JSON,
    with their stamps and justifications."""
    return {
        (r.network, r.contact): (r.group, encode(r.value), r.stamp, r.justification)
        for r in records
    }


@pytest.mark.anyio
class StorageSuite:
    """The fixtures and settings every area of the suite shares (combined in
    :class:`~bassline.testing.storage.StorageConformance`)."""

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
