"""Every gossip message, parsed and refused field by field (no sockets).

Each valid frame becomes exactly its model; each rule of ``docs/protocol.md`` refuses a
frame that breaks it with its code and its exact message, at its limits exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from bassline.clock import Stamp
from bassline.lattices import GrowSet
from bassline.net.protocol import (
    MAX_ID,
    MAX_PEERS,
    MAX_REASON,
    MAX_STORE,
    MAX_URL,
    Auth,
    Bye,
    Delta,
    Digest,
    Heartbeat,
    Hello,
    Peers,
    ProtocolViolation,
    Refuse,
    dump,
    encode_delta,
    kind_of,
    parse_frame,
    parse_message,
)
from bassline.net.wire_whys import WhyInput, WhyRef

HEX64, HEX32, EPOCH = "a" * 64, "b" * 32, "c" * 16
HELLO: dict[str, Any] = {
    "t": "hello",
    "v": 1,
    "node": "n1",
    "bassline": HEX64,
    "nonce": HEX32,
    "epoch": EPOCH,
    "auth": "none",
    "url": None,
    "groups": [],
}
DIGEST: dict[str, Any] = {
    "t": "digest",
    "epoch": None,
    "seq": 0,
    "head_epoch": EPOCH,
    "head": 5,
    "rewind": False,
}
DELTA: dict[str, Any] = {
    "t": "delta",
    "epoch": EPOCH,
    "from": 0,
    "to": 1,
    "base": 10,
    "nodes": ["a", ""],
    "items": [["c", 1, 0, 1]],
}


def refused(data: Any) -> tuple[str, str]:
    with pytest.raises(ProtocolViolation) as refusal:
        parse_message(data)
    return refusal.value.code, str(refusal.value)


def test_every_kind_of_message_parses_into_its_model() -> None:
    full = {**HELLO, "auth": "hmac-sha256", "url": "ws://h:1", "groups": ["g1", "g2"]}
    assert parse_message(full) == Hello(
        1, "n1", HEX64, HEX32, EPOCH, "hmac-sha256", "ws://h:1", ("g1", "g2")
    )
    assert parse_message(HELLO) == Hello(1, "n1", HEX64, HEX32, EPOCH, "none", None, ())
    assert parse_message({**HELLO, "v": 1_000_000}).version == 1_000_000  # type: ignore[union-attr]
    assert parse_message({"t": "auth", "proof": HEX64}) == Auth(HEX64)
    assert parse_message({"t": "refuse", "code": "c" * 40, "reason": "r"}) == Refuse("c" * 40, "r")
    assert parse_message({"t": "bye", "reason": "r" * MAX_REASON}) == Bye("r" * MAX_REASON)
    assert parse_message({"t": "hb"}) == Heartbeat()
    assert parse_message(DIGEST) == Digest(None, 0, EPOCH, 5, False)
    assert parse_message({**DIGEST, "epoch": EPOCH, "rewind": True}) == Digest(
        EPOCH, 0, EPOCH, 5, True
    )
    assert parse_message(DELTA) == Delta(EPOCH, 0, 1, (("c", 1, Stamp(10, "")),))
    assert parse_message({"t": "peers", "peers": [["n", "ws://x"]] * MAX_PEERS}) == Peers(
        (("n", "ws://x"),) * MAX_PEERS
    )


def test_kind_of_names_each_message_as_on_the_wire() -> None:
    frames = [HELLO, {"t": "auth", "proof": HEX64}, {"t": "refuse", "code": "c", "reason": "r"}]
    frames += [{"t": "bye", "reason": "r"}, {"t": "hb"}, DIGEST, DELTA, {"t": "peers", "peers": []}]
    assert [kind_of(parse_message(f)) for f in frames] == [f["t"] for f in frames]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 0}, "hello.v must be an integer in [1, 1000000], got 0"),
        ({"v": 1_000_001}, "hello.v must be an integer in [1, 1000000], got 1000001"),
        ({"v": True}, "hello.v must be an integer in [1, 1000000], got True"),
        ({"url": ""}, "hello.url must be a non-empty string of at most 2048 characters"),
        (
            {"url": "u" * (MAX_URL + 1)},
            "hello.url must be a non-empty string of at most 2048 characters",
        ),
        ({"url": "a\nb"}, "hello.url must not contain control characters"),
        ({"groups": 5}, "hello.groups must be a list of group ids"),
        (
            {"groups": [""]},
            "hello.groups[] must be a node id (1-200 characters, no control characters)",
        ),
        ({"auth": "x"}, "hello.auth must be 'hmac-sha256' or 'none', got 'x'"),
        ({"node": ""}, "hello.node must be a node id (1-200 characters, no control characters)"),
        (
            {"node": "n" * (MAX_ID + 1)},
            "hello.node must be a node id (1-200 characters, no control characters)",
        ),
        (
            {"node": "a\x7f"},
            "hello.node must be a node id (1-200 characters, no control characters)",
        ),
        ({"bassline": "A" * 64}, f"hello.bassline is malformed: {'A' * 64!r}"),
        ({"nonce": "b" * 31 + "g"}, f"hello.nonce is malformed: {'b' * 31 + 'g'!r}"),
        ({"epoch": "c" * 15}, f"hello.epoch is malformed: {'c' * 15!r}"),
        ({"store": 5}, "hello.store must be a non-empty string of at most 200 characters"),
        (
            {"store": "s" * (MAX_STORE + 1)},
            "hello.store must be a non-empty string of at most 200 characters",
        ),
        ({"store": "pg:\n"}, "hello.store must not contain control characters"),
        ({"extra": 1, "zz": 2}, "hello has unknown fields: extra, zz"),
    ],
)
def test_a_bad_hello_is_refused_by_field(change: dict[str, Any], message: str) -> None:
    assert refused({**HELLO, **change}) == ("invalid-message", message)


def test_limits_are_inclusive() -> None:
    longest = {**HELLO, "node": "n" * MAX_ID, "url": "u" * MAX_URL, "groups": ["g" * MAX_ID]}
    parsed = parse_message(longest)
    assert isinstance(parsed, Hello) and parsed.url == "u" * MAX_URL
    shared = parse_message({**HELLO, "store": "s" * MAX_STORE})
    assert isinstance(shared, Hello) and shared.store == "s" * MAX_STORE
    assert isinstance(plain := parse_message(HELLO), Hello) and plain.store is None
    assert parse_message({"t": "peers", "peers": [["n" * MAX_ID, "u" * MAX_URL]]}) == Peers(
        (("n" * MAX_ID, "u" * MAX_URL),)
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"t": "auth", "proof": "a" * 65},
            "auth.proof must be a non-empty string of at most 64 characters",
        ),
        ({"t": "auth", "proof": HEX64, "x": 1}, "auth has unknown fields: x"),
        ({"t": "auth", "proof": "a" * 63}, f"auth.proof is malformed: {'a' * 63!r}"),
        (
            {"t": "refuse", "code": "c" * 41, "reason": "r"},
            "refuse.code must be a non-empty string of at most 40 characters",
        ),
        (
            {"t": "refuse", "code": "c", "reason": ""},
            "refuse.reason must be a non-empty string of at most 500 characters",
        ),
        (
            {"t": "bye", "reason": "r" * (MAX_REASON + 1)},
            "bye.reason must be a non-empty string of at most 500 characters",
        ),
        ({"t": "bye"}, "bye.reason must be a non-empty string of at most 500 characters"),
        ({"t": "hb", "extra": 1}, "hb has unknown fields: extra"),
        ({**DIGEST, "rewind": 1}, "digest.rewind must be true or false"),
        (
            {**DIGEST, "seq": -1},
            "digest.seq must be an integer in [0, 9223372036854775807], got -1",
        ),
        (
            {**DIGEST, "head": 2**63},
            "digest.head must be an integer in [0, 9223372036854775807], got 9223372036854775808",
        ),
        ({**DIGEST, "epoch": "X" * 16}, f"digest.epoch is malformed: {'X' * 16!r}"),
        (
            {**DIGEST, "head_epoch": None},
            "digest.head_epoch must be a non-empty string of at most 16 characters",
        ),
        ({**DIGEST, "more": 1}, "digest has unknown fields: more"),
        (
            {"t": "peers", "peers": [["n", "u"]] * (MAX_PEERS + 1)},
            "peers.peers must be a list of at most 1000 [node, url] pairs",
        ),
        (
            {"t": "peers", "peers": 5},
            "peers.peers must be a list of at most 1000 [node, url] pairs",
        ),
        ({"t": "peers", "peers": [["n", "u"], ["n"]]}, "peers.peers[1] must be [node, url]"),
        ({"t": "peers", "peers": [["n", 5]]}, "peers.peers[0] must be [node, url]"),
        ({"t": "peers", "peers": ["nu"]}, "peers.peers[0] must be [node, url]"),
        (
            {"t": "peers", "peers": [["n", ""]]},
            "peers.peers[0][1] must be a URL of at most 2048 characters",
        ),
        (
            {"t": "peers", "peers": [["n", "u" * (MAX_URL + 1)]]},
            "peers.peers[0][1] must be a URL of at most 2048 characters",
        ),
        (
            {"t": "peers", "peers": [["n", "u\x00"]]},
            "peers.peers[0][1] must be a URL of at most 2048 characters",
        ),
        (
            {"t": "peers", "peers": [["", "u"]]},
            "peers.peers[0][0] must be a node id (1-200 characters, no control characters)",
        ),
        (5, "a frame must be a JSON object, got int"),
    ],
)
def test_a_bad_message_is_refused_by_field(data: Any, message: str) -> None:
    assert refused(data) == ("invalid-message", message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"from": 5, "to": 4}, "delta.to (4) is before delta.from (5)"),
        ({"from": -1}, "delta.from must be an integer in [0, 9223372036854775807], got -1"),
        ({"base": "0"}, "delta.base must be an integer in [0, 9223372036854775807], got '0'"),
        ({"nodes": 5}, "delta.nodes must be a list of node ids"),
        ({"nodes": [5]}, "delta.nodes[] must be node ids (at most 200 characters)"),
        (
            {"nodes": ["n" * (MAX_ID + 1)]},
            "delta.nodes[] must be node ids (at most 200 characters)",
        ),
        ({"nodes": ["a\tb"]}, "delta.nodes[] must be node ids (at most 200 characters)"),
        ({"items": 5}, "delta.items must be a list"),
        (
            {"items": [["c", 1, 0]]},
            "delta.items[0] must be [contact, value, clock offset, node index] and optionally a whys index",
        ),
        (
            {"items": [["c", 1, 0, 0], "x"]},
            "delta.items[1] must be [contact, value, clock offset, node index] and optionally a whys index",
        ),
        ({"items": [["", 1, 0, 0]]}, "delta.items[0][0] must be a contact id"),
        ({"items": [[5, 1, 0, 0]]}, "delta.items[0][0] must be a contact id"),
        ({"items": [["c" * (MAX_ID + 1), 1, 0, 0]]}, "delta.items[0][0] must be a contact id"),
        (
            {"items": [["c", 1, -1, 0]]},
            "delta.items[0][2] must be a clock offset in [0, 9223372036854775797]",
        ),
        (
            {"items": [["c", 1, 2**63 - 10, 0]]},
            "delta.items[0][2] must be a clock offset in [0, 9223372036854775797]",
        ),
        (
            {"items": [["c", 1, 1.0, 0]]},
            "delta.items[0][2] must be a clock offset in [0, 9223372036854775797]",
        ),
        ({"items": [["c", 1, 0, 2]]}, "delta.items[0][3] must index delta.nodes (0-1)"),
        ({"items": [["c", 1, 0, -1]]}, "delta.items[0][3] must index delta.nodes (0-1)"),
        ({"items": [["c", 1, 0, True]]}, "delta.items[0][3] must index delta.nodes (0-1)"),
        (
            {"items": [["c", {"$type": "nope", "value": 1}, 0, 0]]},
            "delta.items[0][1]: unknown tagged type 'nope' (known: grow-map, grow-set, interval, shrink-set)",
        ),
        ({"epoch": "0" * 15}, f"delta.epoch is malformed: {'0' * 15!r}"),
        ({"x": 1}, "delta has unknown fields: x"),
    ],
)
def test_a_bad_delta_is_refused_by_field(change: dict[str, Any], message: str) -> None:
    assert refused({**DELTA, **change}) == ("invalid-message", message)


def test_a_delta_item_may_reach_the_largest_clock_reading() -> None:
    top = {**DELTA, "items": [["c", [1], 2**63 - 11, 0], ["d", None, 0, 1]]}
    parsed = parse_message(top)
    assert isinstance(parsed, Delta)
    assert parsed.items == (("c", [1], Stamp(2**63 - 1, "a")), ("d", None, Stamp(10, "")))


def test_unknown_types_and_frames_that_are_not_json_or_too_big() -> None:
    assert refused({"t": 5}) == ("unknown-type", "unknown message type 5")
    assert refused({"x": 1}) == ("unknown-type", "unknown message type None")
    assert refused({"t": "x" * 100}) == ("unknown-type", f"unknown message type {'x' * 100!r:.40}")
    with pytest.raises(ProtocolViolation) as oversized:
        parse_frame(b'{"t":"hb"}' + b" " * 3, 12)
    assert (oversized.value.code, str(oversized.value)) == (
        "oversized",
        "frame of 13 bytes exceeds 12",
    )
    assert parse_frame(b'{"t":"hb"}' + b" " * 2, 12) == Heartbeat()
    assert parse_frame('{"t":"hb"}', 12) == Heartbeat()
    with pytest.raises(ProtocolViolation) as malformed:
        parse_frame(b"{", 12)
    assert malformed.value.code == "malformed"
    assert str(malformed.value).startswith("frame is not valid JSON: unexpected end of data")


def test_a_delta_is_encoded_with_one_base_and_indexed_nodes() -> None:
    items = [("a", 1, Stamp(105, "n2")), ("b", [2], Stamp(100, "n1")), ("c", 3, Stamp(107, "n2"))]
    assert encode_delta(EPOCH, 4, 9, items) == {
        "t": "delta",
        "epoch": EPOCH,
        "from": 4,
        "to": 9,
        "base": 100,
        "nodes": ["n2", "n1"],
        "items": [["a", 1, 5, 0], ["b", [2], 0, 1], ["c", 3, 7, 0]],
    }
    assert encode_delta(EPOCH, 0, 0, [])["base"] == 0
    parsed = parse_frame(dump(encode_delta(EPOCH, 4, 9, items)), 1 << 20)
    assert isinstance(parsed, Delta) and parsed.items == tuple(items)
    assert dump({"b": 1, "a": GrowSet([1]).to_json()}) == b'{"a":[1],"b":1}'


def test_more_limits_are_inclusive_and_one_more_is_refused() -> None:
    ids = ["g" * MAX_ID, *(f"g{n}" for n in range(99_999))]
    assert len(parse_message({**HELLO, "groups": ids}).groups) == 100_000  # type: ignore[union-attr]
    assert refused({**HELLO, "groups": [*ids, "x"]}) == (
        "invalid-message",
        "hello.groups must be a list of group ids",
    )
    nodes = ["n" * MAX_ID] + [""] * 99_999
    wide = {**DELTA, "nodes": nodes, "items": [["c" * MAX_ID, 1, 0, 0]]}
    parsed = parse_message(wide)
    assert isinstance(parsed, Delta)
    assert parsed.items == (("c" * MAX_ID, 1, Stamp(10, "n" * MAX_ID)),)
    assert refused({**DELTA, "nodes": [*nodes, ""]}) == (
        "invalid-message",
        "delta.nodes must be a list of node ids",
    )
    assert parse_message({**DELTA, "from": 3, "to": 3, "items": []}) == Delta(EPOCH, 3, 3, ())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {**HELLO, "bassline": "a" * 65},
            "hello.bassline must be a non-empty string of at most 64 characters",
        ),
        (
            {**HELLO, "nonce": "b" * 33},
            "hello.nonce must be a non-empty string of at most 32 characters",
        ),
        (
            {**HELLO, "epoch": "c" * 17},
            "hello.epoch must be a non-empty string of at most 16 characters",
        ),
        (
            {**DIGEST, "epoch": "c" * 17},
            "digest.epoch must be a non-empty string of at most 16 characters",
        ),
        ({**DIGEST, "head_epoch": "X" * 16}, f"digest.head_epoch is malformed: {'X' * 16!r}"),
        (
            {**DELTA, "epoch": "c" * 17},
            "delta.epoch must be a non-empty string of at most 16 characters",
        ),
        (
            {**DELTA, "to": None},
            "delta.to must be an integer in [0, 9223372036854775807], got None",
        ),
        ({"t": "refuse", "code": "c", "reason": "r", "x": 1}, "refuse has unknown fields: x"),
        ({"t": "bye", "reason": "r", "x": 1}, "bye has unknown fields: x"),
        ({"t": "peers", "peers": [], "x": 1}, "peers has unknown fields: x"),
        ({"t": "hb", "k" * 300: 1}, f"hb has unknown fields: {'k' * 200}"),
    ],
)
def test_each_field_is_named_in_its_refusal(data: Any, message: str) -> None:
    assert refused(data) == ("invalid-message", message)


def test_a_type_that_is_not_a_string_is_an_unknown_type() -> None:
    assert refused({"t": [1]}) == ("unknown-type", "unknown message type [1]")
    assert refused({"t": {"a": 1}}) == ("unknown-type", "unknown message type {'a': 1}")


def test_a_delta_carries_its_whys_as_a_table_indexed_by_the_items() -> None:
    """``whys`` aligned with the items become the ``whys`` table: each item that has one
    ends with its index; a stamp in an entry is written against the delta's base and
    nodes (a node the items do not name is added, an older stamp has a negative offset)."""
    a, b = Stamp(100, "x"), Stamp(105, "y")
    write = WhyRef("w", via="http")
    inputs = (
        None,  # the port had no content
        WhyInput(a, "v", "a"),  # at the stamp this delta carries for "a"
        WhyInput(Stamp(90, "z"), contact="q"),  # at a stamp the receiver holds
        WhyInput(Stamp(95, "z"), [1], "m"),  # a merge contact's value used
    )
    gadget = WhyRef("g", inputs=inputs, kept=Stamp(80, "k"))
    items = [("a", "v", a), ("b", 1, b), ("o", "out", b)]
    message = encode_delta(EPOCH, 0, 3, items, [write, None, gadget])
    assert message == {
        "t": "delta",
        "epoch": EPOCH,
        "from": 0,
        "to": 3,
        "base": 100,
        "nodes": ["x", "y", "z", "k"],
        "items": [["a", "v", 0, 0, 0], ["b", 1, 5, 1], ["o", "out", 5, 1, 1]],
        "whys": [["w", "http"], ["g", [0, 1, [-10, 2], [-5, 2, [1]]], -20, 3]],
    }
    received = (
        None,
        WhyInput(None),
        WhyInput(Stamp(90, "z")),
        WhyInput(Stamp(95, "z"), [1]),
    )
    assert parse_frame(dump(message), 1 << 20) == Delta(
        EPOCH,
        0,
        3,
        tuple(items),
        (write, None, WhyRef("g", inputs=received, kept=Stamp(80, "k"))),
    )
    # no justification at all: no table, and the items end with their node index
    bare = encode_delta(EPOCH, 0, 3, items, [None, None, None])
    assert "whys" not in bare and bare["items"][0] == ["a", "v", 0, 0]
    assert encode_delta(EPOCH, 0, 1, items[:1], [write])["whys"] == [["w", "http"]]


def test_a_bad_whys_table_is_refused_as_a_bad_justification() -> None:
    bad = {**DELTA, "items": [["c", 1, 0, 0, 0]], "whys": [["x"]]}
    assert refused(bad) == (
        "bad-justification",
        'delta.whys[0] must be a list starting with "w", "c" or "g"',
    )
