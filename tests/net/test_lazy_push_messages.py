"""Eager and lazy push on the wire (protocol v3; v4 allows a graft without contacts): announced changes in a delta (``have``),
``prune`` and ``graft``, parsed and refused field by field (no sockets)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.net.protocol import (
    MAX_GRAFT,
    MAX_ID,
    MAX_ORIGINS,
    Delta,
    Graft,
    ProtocolViolation,
    Prune,
    dump,
    encode_delta,
    kind_of,
    parse_frame,
    parse_message,
)

EPOCH = "c" * 16
DELTA: dict[str, Any] = {
    "t": "delta",
    "epoch": EPOCH,
    "from": 0,
    "to": 3,
    "base": 10,
    "nodes": ["a", "b"],
    "items": [["c", 1, 0, 1]],
    "have": [["d", 5, 0], ["e", 0, 1]],
}


def refused(data: Any) -> tuple[str, str]:
    with pytest.raises(ProtocolViolation) as refusal:
        parse_message(data)
    return refusal.value.code, str(refusal.value)


def test_announced_changes_parse_with_their_stamps_and_no_values() -> None:
    delta = parse_message(DELTA)
    assert delta == Delta(
        EPOCH,
        0,
        3,
        (("c", 1, Stamp(10, "b")),),
        (),
        (("d", Stamp(15, "a")), ("e", Stamp(10, "b"))),
    )
    # at their limits: the longest contact id, the largest clock reading
    top = parse_message({**DELTA, "have": [["d" * MAX_ID, 2**63 - 11, 0]]})
    assert isinstance(top, Delta) and top.have == (("d" * MAX_ID, Stamp(2**63 - 1, "a")),)
    assert parse_message({**DELTA, "have": []}) == parse_message(
        {k: v for k, v in DELTA.items() if k != "have"}
    )


def test_a_delta_of_announcements_only_is_encoded_on_their_own_base() -> None:
    have = [("d", Stamp(50, "a")), ("e", Stamp(40, "b"))]
    frame = dump(encode_delta(EPOCH, 2, 4, [], None, have))
    data = orjson.loads(frame)
    assert data["base"] == 40 and data["items"] == [] and "whys" not in data
    assert data["have"] == [["d", 10, 0], ["e", 0, 1]]
    assert parse_frame(frame, 1 << 20) == Delta(EPOCH, 2, 4, (), (), tuple(have))
    # mixed: one base for items and announcements
    mixed = encode_delta(EPOCH, 0, 1, [("c", "v", Stamp(45, "b"))], None, have)
    assert mixed["base"] == 40 and mixed["items"] == [["c", "v", 5, 0]]
    assert mixed["have"] == [["d", 10, 1], ["e", 0, 0]] and mixed["nodes"] == ["b", "a"]


def test_prune_and_graft_parse_into_their_models() -> None:
    assert parse_message({"t": "prune", "origins": ["a", ""]}) == Prune(("a", ""))
    graft = {"t": "graft", "origins": ["a"], "contacts": ["c1", "c2"]}
    assert parse_message(graft) == Graft(("a",), ("c1", "c2"))
    assert [kind_of(parse_message(f)) for f in ({"t": "prune", "origins": ["a"]}, graft)] == [
        "prune",
        "graft",
    ]
    most = {"t": "graft", "origins": ["o"] * MAX_ORIGINS, "contacts": ["c"] * MAX_GRAFT}
    assert parse_message(most) == Graft(("o",) * MAX_ORIGINS, ("c",) * MAX_GRAFT)
    longest = {"t": "graft", "origins": ["o" * MAX_ID], "contacts": ["c" * MAX_ID]}
    assert parse_message(longest) == Graft(("o" * MAX_ID,), ("c" * MAX_ID,))
    # v4: no contacts, origins only (made eager again after a pre-prune)
    assert parse_message({"t": "graft", "origins": ["a"], "contacts": []}) == Graft(("a",), ())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"have": 5}, "delta.have must be a list"),
        ({"have": [["d", 0]]}, "delta.have[0] must be [contact, clock offset, node index]"),
        ({"have": [["d", 0, 0, 0]]}, "delta.have[0] must be [contact, clock offset, node index]"),
        ({"have": [["d", 0, 0], "x"]}, "delta.have[1] must be [contact, clock offset, node index]"),
        ({"have": [["", 0, 0]]}, "delta.have[0][0] must be a contact id"),
        ({"have": [["c" * (MAX_ID + 1), 0, 0]]}, "delta.have[0][0] must be a contact id"),
        (
            {"have": [["d", -1, 0]]},
            "delta.have[0][1] must be a clock offset in [0, 9223372036854775797]",
        ),
        (
            {"have": [["d", 1.0, 0]]},
            "delta.have[0][1] must be a clock offset in [0, 9223372036854775797]",
        ),
        (
            {"have": [["d", 2**63 - 10, 0]]},  # base 10: one past the largest clock reading
            "delta.have[0][1] must be a clock offset in [0, 9223372036854775797]",
        ),
        ({"have": [["d", 0, 2]]}, "delta.have[0][2] must index delta.nodes (0-1)"),
        ({"have": [["d", 0, True]]}, "delta.have[0][2] must index delta.nodes (0-1)"),
    ],
)
def test_a_bad_announcement_is_refused_by_field(change: dict[str, Any], message: str) -> None:
    assert refused({**DELTA, **change}) == ("invalid-message", message)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"t": "prune"}, f"prune.origins must be a list of 1-{MAX_ORIGINS} node ids"),
        (
            {"t": "prune", "origins": []},
            f"prune.origins must be a list of 1-{MAX_ORIGINS} node ids",
        ),
        (
            {"t": "prune", "origins": ["o"] * (MAX_ORIGINS + 1)},
            f"prune.origins must be a list of 1-{MAX_ORIGINS} node ids",
        ),
        (
            {"t": "prune", "origins": ["a", 5]},
            f"prune.origins[1] must be a node id (at most {MAX_ID} characters)",
        ),
        (
            {"t": "prune", "origins": ["a\nb"]},
            f"prune.origins[0] must be a node id (at most {MAX_ID} characters)",
        ),
        ({"t": "prune", "origins": ["a"], "x": 1}, "prune has unknown fields: x"),
        (
            {"t": "graft", "origins": [], "contacts": ["c"]},
            f"graft.origins must be a list of 1-{MAX_ORIGINS} node ids",
        ),
        (
            {"t": "graft", "origins": ["a"]},
            f"graft.contacts must be a list of 0-{MAX_GRAFT} contact ids",
        ),
        (
            {"t": "graft", "origins": ["a"], "contacts": "c"},
            f"graft.contacts must be a list of 0-{MAX_GRAFT} contact ids",
        ),
        (
            {"t": "graft", "origins": ["a"], "contacts": ["c"] * (MAX_GRAFT + 1)},
            f"graft.contacts must be a list of 0-{MAX_GRAFT} contact ids",
        ),
        (
            {"t": "graft", "origins": ["a"], "contacts": ["c", ""]},
            "graft.contacts[1] must be a contact id",
        ),
        (
            {"t": "graft", "origins": ["a"], "contacts": ["c" * (MAX_ID + 1)]},
            "graft.contacts[0] must be a contact id",
        ),
        (
            {"t": "graft", "origins": ["a"], "contacts": ["c"], "from": 0},
            "graft has unknown fields: from",
        ),
    ],
)
def test_a_bad_prune_or_graft_is_refused_by_field(data: Any, message: str) -> None:
    assert refused(data) == ("invalid-message", message)


_NODES = st.sampled_from(["a", "b", "c", ""])
_STAMPS = st.builds(Stamp, st.integers(0, 2**62), _NODES)
_IDS = st.text("xyz0123", min_size=1, max_size=4)


@given(
    items=st.dictionaries(_IDS, st.tuples(st.one_of(st.text(), st.integers(-5, 5)), _STAMPS)),
    have=st.dictionaries(_IDS, _STAMPS),
)
def test_a_delta_of_values_and_announcements_reads_back_as_it_was_encoded(
    items: dict[str, tuple[Any, Stamp]], have: dict[str, Stamp]
) -> None:
    """Whatever the stamps (nodes shared by values and announcements or not, any base),
    the items and the announced changes parse back exactly, in order."""
    sent = [(cid, value, stamp) for cid, (value, stamp) in items.items()]
    announced = list(have.items())
    delta = parse_frame(dump(encode_delta(EPOCH, 0, 1, sent, None, announced)), 1 << 20)
    assert isinstance(delta, Delta)
    assert list(delta.items) == sent
    assert list(delta.have) == announced
