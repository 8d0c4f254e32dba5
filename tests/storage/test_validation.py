"""The checks every backend applies before touching its store, message by message.

Each refusal is an INVALID (or, for content that cannot be encoded, SERIALIZATION)
error that is never transient, and says exactly what is wrong; a batch is normalised
into networks, groups, wires and contents with duplicates collapsed.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from bassline.clock import Stamp
from bassline.spec import GroupSpec, WireSpec, parse_spec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupRecord,
    NetworkRecord,
    StorageError,
    WireRecord,
)
from bassline.storage.validation import (
    MAX_STORAGE_ID_LENGTH,
    check_group,
    check_id,
    check_spec,
    check_stamp,
    check_wire,
    invalid,
    normalise_batch,
)


def refusal(message: str, code: ErrorCode = ErrorCode.INVALID) -> StorageError:
    return StorageError(code, message, transient=False)


def test_invalid_errors_are_permanent() -> None:
    error = invalid("nope")
    assert (error.code, error.message, error.transient) == (ErrorCode.INVALID, "nope", False)
    assert error.transient is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "contact id must be a string, got int"),
        ("", "contact id must not be empty"),
        ("a" * 513, "contact id is 513 characters long (at most 512)"),
        ("a\x01b", "contact id 'a\\x01b' contains control character '\\x01'"),
        ("a\x7f", "contact id 'a\\x7f' contains control character '\\x7f'"),
    ],
)
def test_a_bad_id_is_refused_by_name(value: Any, message: str) -> None:
    assert check_id("contact", value) == refusal(message)
    assert check_id("contact", value).transient is False  # type: ignore[union-attr]


def test_any_other_id_up_to_512_characters_is_accepted() -> None:
    assert MAX_STORAGE_ID_LENGTH == 512
    for good in ("a" * 512, "a/../b c", "ünïcode", "x"):
        assert check_id("contact", good) is None


def test_stamps_must_be_in_range_with_a_string_node() -> None:
    assert check_stamp(Stamp(0, ""), "w") is None
    assert check_stamp(Stamp(2**63 - 1, "n"), "w") is None
    assert check_stamp(5, "w") == refusal("w: stamp must be a Stamp(hlc, node), got int")
    for hlc in (-1, 2**63, 1.0):
        assert check_stamp(Stamp(hlc, "n"), "w") == refusal(  # type: ignore[arg-type]
            f"w: stamp hlc must be an integer in [0, 2**63), got {hlc!r}"
        )
    assert check_stamp(Stamp(1, 5), "w") == refusal(  # type: ignore[arg-type]
        "w: stamp node must be a string, got int"
    )
    for node in ("a\tb", "n" * 201, "n\ud800"):  # no peer would take a value so stamped
        assert check_stamp(Stamp(1, node), "w") == refusal(
            f"w: stamp node {node!r:.80} is no node id (1 to 200 characters without control "
            "characters or lone surrogates; '' for a spec's contents): no peer would take a "
            "value stamped so"
        )


@pytest.mark.parametrize("count", [1, 8])  # the general path, and the fast path's columns
def test_a_batch_with_a_stamp_no_peer_would_take_is_refused(count: int) -> None:
    records = [ContentRecord("n", "root", f"c{i}", i, Stamp(5, "ok")) for i in range(count)]
    records[-1] = attrs.evolve(records[-1], stamp=Stamp(5, "bad\nnode"))
    found = normalise_batch(records)
    assert found == refusal(
        f"record {count - 1}: ContentRecord.stamp node 'bad\\nnode' is no node id (1 to 200 "
        "characters without control characters or lone surrogates; '' for a spec's "
        "contents): no peer would take a value stamped so"
    )
    records[-1] = attrs.evolve(records[-1], stamp=Stamp(5, ""))
    assert not isinstance(normalise_batch(records), StorageError)


def test_groups_wires_and_specs_are_checked_id_by_id() -> None:
    assert check_group("net", GroupSpec("g", parent="p")) is None
    assert check_group("net", GroupSpec("g")) is None
    assert check_group("net", 5) == refusal("group of network 'net': expected a GroupSpec, got 5")
    assert check_group("net", GroupSpec("")) == refusal("group id must not be empty")
    assert check_group("net", GroupSpec("g", parent="")) == refusal(
        "parent group id must not be empty"
    )
    assert check_wire("net", WireSpec("w", "a", "b")) is None
    assert check_wire("net", 5) == refusal("wire of network 'net': expected a WireSpec, got 5")
    assert check_wire("net", WireSpec("", "a", "b")) == refusal("wire id must not be empty")
    assert check_wire("net", WireSpec("w", "", "b")) == refusal(
        "wire source contact id must not be empty"
    )
    assert check_wire("net", WireSpec("w", "a", "")) == refusal(
        "wire target contact id must not be empty"
    )
    assert check_spec(5) == refusal("expected a Bassline spec, got int")
    spec = parse_spec({"id": "n", "contacts": [{"id": "a"}, {"id": "b"}]})
    assert check_spec(spec) is None


def record(contact: str, value: Any, hlc: int, network: str = "n") -> ContentRecord:
    return ContentRecord(network, "g", contact, value, Stamp(hlc, "x"))


def test_a_batch_is_ordered_by_kind_and_collapses_duplicates() -> None:
    spec = parse_spec({"id": "n", "contacts": [{"id": "a"}]})
    group = GroupRecord("n", GroupSpec("g"))
    group_again = GroupRecord("n", GroupSpec("g", name="again"))
    wire = WireRecord("n", WireSpec("w", "a", "a"))
    batch = [
        record("a", 1, 5),
        wire,
        record("a", 2, 9),
        record("a", 3, 7),  # older than the pending write: dropped
        record("b", 4, 1),
        record("b", 5, 1),  # a tie: the later one wins
        group,
        NetworkRecord(spec),
        group_again,
    ]
    normal = normalise_batch(batch)
    assert not isinstance(normal, StorageError)
    assert normal.networks == (NetworkRecord(spec),)
    assert normal.groups == (group_again,)
    assert normal.wires == (wire,)
    assert normal.contents == (record("a", 2, 9), record("b", 5, 1))
    assert normal.encoded == (b"2", b"5")
    assert normal.columns is None


def test_the_same_contact_in_two_networks_is_two_writes() -> None:
    normal = normalise_batch([record("a", 1, 5, "n"), record("a", 2, 1, "m")])
    assert not isinstance(normal, StorageError)
    assert normal.contents == (record("a", 1, 5, "n"), record("a", 2, 1, "m"))


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (5, "a batch must be a sequence of records, got int"),
        ([record("a", 1, 1), 5], "record 1 is a int, not a storage record"),
        ([NetworkRecord(5)], "record 0: NetworkRecord.spec must be a Bassline"),  # type: ignore[arg-type]
        ([GroupRecord("n", 5)], "record 0: GroupRecord.group must be a GroupSpec"),  # type: ignore[arg-type]
        ([WireRecord("n", 5)], "record 0: WireRecord.wire must be a WireSpec"),  # type: ignore[arg-type]
        (
            [ContentRecord("n", "g", "c", 1, Stamp(2**63, "x"))],
            "record 0: ContentRecord.stamp must be a Stamp(hlc in [0, 2**63), node: str), "
            "got Stamp(hlc=9223372036854775808, node='x')",
        ),
        ([ContentRecord("n", "g", "c", 1, Stamp(-1, "x"))], None),
        ([ContentRecord("n", "g", "c", 1, Stamp(1, 5))], None),  # type: ignore[arg-type]
        ([ContentRecord("n", "g", "c", 1, 5)], None),  # type: ignore[arg-type]
        ([GroupRecord("", GroupSpec("g"))], "network id must not be empty"),
        ([GroupRecord("n", GroupSpec(""))], "group id must not be empty"),
        ([WireRecord("", WireSpec("w", "a", "b"))], "network id must not be empty"),
        ([WireRecord("n", WireSpec("", "a", "b"))], "wire id must not be empty"),
        ([record("a", 1, 1, network="")], "network id must not be empty"),
        ([ContentRecord("n", "", "c", 1, Stamp(1, "x"))], "group id must not be empty"),
        ([record("", 1, 1)], "contact id must not be empty"),
        ([record("a", 1, 1), record("b", 1, 1, network="")], "network id must not be empty"),
    ],
)
def test_a_bad_record_is_refused_by_position_and_reason(batch: Any, message: str | None) -> None:
    error = normalise_batch(batch)
    assert isinstance(error, StorageError)
    assert (error.code, error.transient) == (ErrorCode.INVALID, False)
    if message is None:  # the stamp, whatever its shape, is named
        assert error.message.startswith("record 0: ContentRecord.stamp must be a Stamp(")
    else:
        assert error.message == message


def test_a_network_record_with_a_bad_id_is_refused() -> None:
    spec = attrs.evolve(parse_spec({"id": "n", "contacts": [{"id": "a"}]}), id="")
    assert normalise_batch([NetworkRecord(spec)]) == refusal("network id must not be empty")


def test_content_that_cannot_be_encoded_is_a_serialization_error_naming_the_contact() -> None:
    error = normalise_batch([record("c", float("nan"), 1)])
    assert error == refusal(
        "content of contact 'c' in network 'n' cannot be encoded: "
        "nan is not valid JSON (only finite numbers)",
        ErrorCode.SERIALIZATION,
    )


def test_a_spec_is_refused_for_its_first_bad_id_by_kind() -> None:
    from bassline.spec import ContactSpec

    spec = parse_spec({"id": "n", "contacts": [{"id": "a"}, {"id": "b"}]})
    cases: list[tuple[Any, str]] = [
        (attrs.evolve(spec, id=""), "network id must not be empty"),
        (
            attrs.evolve(spec, contacts=(ContactSpec("a"), ContactSpec(""))),
            "contact id must not be empty",
        ),
        (
            attrs.evolve(spec, groups=(GroupSpec("g"), GroupSpec("x\n"))),
            "group id 'x\\n' contains control character '\\n'",
        ),
        (attrs.evolve(spec, groups=(5,)), "group of network 'n': expected a GroupSpec, got 5"),
        (
            attrs.evolve(spec, wires=(WireSpec("w", "a", ""),)),
            "wire target contact id must not be empty",
        ),
        (attrs.evolve(spec, wires=(5,)), "wire of network 'n': expected a WireSpec, got 5"),
        (
            attrs.evolve(spec, id="", contacts=(ContactSpec(""),)),
            "network id must not be empty",  # the network first
        ),
    ]
    for bad, message in cases:
        assert check_spec(bad) == refusal(message)
