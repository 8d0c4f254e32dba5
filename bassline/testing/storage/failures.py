"""The storage conformance suite, failures: expected failures come back as values: no method raises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from returns.result import Result

from bassline.clock import Stamp
from bassline.spec import GroupSpec, WireSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    NetworkRecord,
    NetworkStorage,
    StorageError,
    WireRecord,
)
from bassline.testing.storage.support import (
    StorageSuite,
    assert_failure,
    assert_spec_equal,
    assert_success,
    ill_typed,
    make_stamp,
    no_raise,
)

__all__ = ["FailureTests"]


@pytest.mark.anyio
class FailureTests(StorageSuite):
    """Expected failures come back as values: no method raises."""

    async def test_no_method_raises_for_an_unknown_network(self, storage: NetworkStorage) -> None:
        expectations: list[tuple[str, Callable[[], Awaitable[Result[Any, StorageError]]], Any]] = [
            ("load_network", lambda: storage.load_network("nope"), ErrorCode.NETWORK_NOT_FOUND),
            ("delete_network", lambda: storage.delete_network("nope"), None),
            ("network_exists", lambda: storage.network_exists("nope"), False),
            (
                "save_contact_content",
                lambda: storage.save_contact_content("nope", "ui", "x", 1, make_stamp(1)),
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
            result = await no_raise(name, call)
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
                lambda: storage.save_network(ill_typed("spec")),
                ErrorCode.INVALID,
            ),
            (
                "save_network(NaN metadata)",
                lambda: storage.save_network(nan_spec),
                ErrorCode.SERIALIZATION,
            ),
            ("write(not a batch)", lambda: storage.write(ill_typed(42)), ErrorCode.INVALID),
            ("write([object])", lambda: storage.write([ill_typed(object())]), ErrorCode.INVALID),
            (
                "write(tuple stamp)",
                lambda: storage.write([ContentRecord("calc", "ui", "x", 1, ill_typed((1, "a")))]),
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
                lambda: storage.write([GroupRecord("calc", ill_typed({"id": "g"}))]),
                ErrorCode.INVALID,
            ),
            (
                "write(wire record without a WireSpec)",
                lambda: storage.write([WireRecord("calc", ill_typed(("w", "x", "y")))]),
                ErrorCode.INVALID,
            ),
            (
                "write(network record without a spec)",
                lambda: storage.write([NetworkRecord(ill_typed({"id": "calc"}))]),
                ErrorCode.INVALID,
            ),
            (
                "write(group attributes that do not encode)",
                lambda: storage.write([GroupRecord("calc", object_group)]),
                ErrorCode.SERIALIZATION,
            ),
            (
                "query_groups(not a query)",
                lambda: storage.query_groups("calc", ill_typed("q")),
                ErrorCode.INVALID,
            ),
            (
                "save_snapshot(label 7)",
                lambda: storage.save_snapshot("calc", ill_typed(7)),
                ErrorCode.INVALID,
            ),
        ]
        for name, call, code in cases:
            assert_failure(await no_raise(name, call), code, name)
        assert_spec_equal(assert_success(await storage.load_network("calc")), spec)
        assert assert_success(await storage.load_contents("calc")) == []
        assert assert_success(await storage.list_snapshots("calc")) == []
