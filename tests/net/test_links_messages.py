"""The ``links`` frame (protocol v4, link state): parsed, and refused field by field with
a message naming what is wrong (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from bassline.net.protocol import (
    MAX_ID,
    MAX_PEERS,
    MAX_TABLE,
    Links,
    ProtocolViolation,
    kind_of,
    parse_message,
)

TOP = 2**63 - 1


def refused(data: Any) -> tuple[str, str]:
    with pytest.raises(ProtocolViolation) as refusal:
        parse_message(data)
    return refusal.value.code, str(refusal.value)


def test_links_rows_parse_into_their_model_up_to_their_limits() -> None:
    frame = {"t": "links", "rows": [["a", 7, ["b", "c"]], ["b", 0, []]]}
    links = parse_message(frame)
    assert links == Links((("a", 7, ("b", "c")), ("b", 0, ())))
    assert kind_of(links) == "links"
    peers = [f"p{i}" for i in range(MAX_PEERS)]
    most = {"t": "links", "rows": [["n" * MAX_ID, TOP, peers]]}
    assert parse_message(most) == Links((("n" * MAX_ID, TOP, tuple(peers)),))
    table = {"t": "links", "rows": [[f"n{i}", i, []] for i in range(MAX_TABLE)]}
    parsed = parse_message(table)
    assert isinstance(parsed, Links) and len(parsed.rows) == MAX_TABLE


ROWS = f"links.rows must be a list of 1-{MAX_TABLE} [node, version, peers] rows"
VERSION = f"links.rows[0][1] must be a version, an integer in [0, {TOP}]"
NODE = f"must be a node id (1-{MAX_ID} characters, no control characters)"
PEERS = f"links.rows[0][2] must be a list of at most {MAX_PEERS} node ids"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"t": "links"}, ROWS),
        ({"t": "links", "rows": []}, ROWS),
        ({"t": "links", "rows": {"a": 1}}, ROWS),
        ({"t": "links", "rows": [["a", 1, []]] * (MAX_TABLE + 1)}, ROWS),
        ({"t": "links", "rows": [["a", 1, []]], "x": 1}, "links has unknown fields: x"),
        ({"t": "links", "rows": ["a"]}, "links.rows[0] must be [node, version, peers]"),
        ({"t": "links", "rows": [["a", 1]]}, "links.rows[0] must be [node, version, peers]"),
        (
            {"t": "links", "rows": [["a", 1, [], 0]]},
            "links.rows[0] must be [node, version, peers]",
        ),
        ({"t": "links", "rows": [["", 1, []]]}, f"links.rows[0][0] {NODE}"),
        ({"t": "links", "rows": [[5, 1, []]]}, f"links.rows[0][0] {NODE}"),
        ({"t": "links", "rows": [["n" * (MAX_ID + 1), 1, []]]}, f"links.rows[0][0] {NODE}"),
        ({"t": "links", "rows": [["a\tb", 1, []]]}, f"links.rows[0][0] {NODE}"),
        (
            {"t": "links", "rows": [["a", 1, []], ["b", 1, []], ["a", 2, []]]},
            "links.rows[2][0] repeats node 'a'",
        ),
        ({"t": "links", "rows": [["a", -1, []]]}, VERSION),
        ({"t": "links", "rows": [["a", TOP + 1, []]]}, VERSION),
        ({"t": "links", "rows": [["a", 1.0, []]]}, VERSION),
        ({"t": "links", "rows": [["a", True, []]]}, VERSION),
        ({"t": "links", "rows": [["a", "1", []]]}, VERSION),
        ({"t": "links", "rows": [["a", 1, "b"]]}, PEERS),
        ({"t": "links", "rows": [["a", 1, None]]}, PEERS),
        ({"t": "links", "rows": [["a", 1, ["p"] * (MAX_PEERS + 1)]]}, PEERS),
        ({"t": "links", "rows": [["a", 1, ["b", ""]]]}, f"links.rows[0][2][1] {NODE}"),
        ({"t": "links", "rows": [["a", 1, [["b"]]]]}, f"links.rows[0][2][0] {NODE}"),
        (
            {"t": "links", "rows": [["a", 1, ["b", "a"]]]},
            "links.rows[0][2] must name distinct nodes other than 'a'",
        ),
        (
            {"t": "links", "rows": [["a", 1, ["b", "b"]]]},
            "links.rows[0][2] must name distinct nodes other than 'a'",
        ),
    ],
)
def test_a_bad_links_frame_is_refused_by_field(data: Any, message: str) -> None:
    assert refused(data) == ("invalid-message", message)
