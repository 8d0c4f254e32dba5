"""A delta's rows are checked a column at a time when they are all plain: the result must
be exactly what checking them one by one gives, and anything odd must go the slow way."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.net import delta_rows, protocol
from bassline.net.protocol import Delta, ProtocolViolation, parse_message

_MAX = 2**63 - 1

cell = st.one_of(
    st.text(max_size=3),
    st.integers(min_value=-2, max_value=4),
    st.sampled_from(["", "x" * 201, _MAX, 2**63, True, None, 1.5, [], {}, ["a"], {"k": 1}]),
)
plain_row = st.builds(
    lambda cid, value, offset, ni: [cid, value, offset, ni],
    st.text(min_size=1, max_size=5),
    st.one_of(
        st.text(max_size=5),
        st.integers(-(2**63), 2**64 - 1),  # what JSON on the wire holds
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1),
)
any_row = st.one_of(plain_row, st.lists(cell, min_size=2, max_size=6), cell)


def _delta(rows: list[Any], have: list[Any] | None = None, base: int = 5) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "t": "delta",
        "epoch": "e" * 16,
        "from": 0,
        "to": 1,
        "base": base,
        "nodes": ["n0", "n1"],
        "items": rows,
    }
    if have is not None:
        frame["have"] = have
    return frame


def _outcome(frame: dict[str, Any]) -> object:
    data = orjson.loads(orjson.dumps(frame))  # as a peer's frame arrives: decoded JSON
    try:
        message = parse_message(data)
    except ProtocolViolation as exc:
        return ("refused", exc.code, str(exc))
    assert isinstance(message, Delta)
    return (message.items, message.have, [type(s) for _, _, s in message.items])


def _slow(monkeypatch: pytest.MonkeyPatch, frame: dict[str, Any]) -> object:
    with monkeypatch.context() as m:
        m.setattr(protocol, "plain_rows", lambda *a: None)
        m.setattr(protocol, "plain_have", lambda *a: None)
        return _outcome(frame)


@given(
    rows=st.lists(st.one_of(plain_row, any_row), max_size=6),
    have=st.lists(
        st.one_of(
            st.builds(
                lambda c, o, n: [c, o, n],
                st.text(min_size=1, max_size=3),
                st.integers(-1, 9),
                st.integers(-1, 2),
            ),
            cell,
        ),
        max_size=4,
    ),
    base=st.sampled_from([0, 5, _MAX - 500]),
)
def test_rows_checked_by_column_give_what_rows_checked_one_by_one_give(
    rows: list[Any], have: list[Any], base: int
) -> None:
    frame = _delta(rows, have, base)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _outcome(frame) == _slow(monkeypatch, frame)


def test_plain_rows_are_taken_by_the_column_path_with_their_stamps() -> None:
    rows = [["a", "x", 0, 1], ["b", 2, 7, 0, 3]]
    assert delta_rows.plain_rows(rows, 5, ["n0", "n1"]) is None  # mixed widths
    items, indexes = delta_rows.plain_rows([*rows[:1], ["b", 2, 7, 0]], 5, ["n0", "n1"])  # type: ignore[misc]
    assert items == [("a", "x", Stamp(5, "n1")), ("b", 2, Stamp(12, "n0"))]
    assert all(type(s) is Stamp for _, _, s in items)
    assert indexes == [None, None]
    items, indexes = delta_rows.plain_rows([["a", None, 1, 0, 4]], 0, ["n0"])  # type: ignore[misc]
    assert items == [("a", None, Stamp(1, "n0"))] and indexes == [4]


@pytest.mark.parametrize(
    "rows",
    [
        [["a", [1], 0, 0]],  # a list value: decoded by the codec
        [["a", {"k": 1}, 0, 0]],
        [["", "x", 0, 0]],
        [["a" * 201, "x", 0, 0]],
        [["a", "x", -1, 0]],
        [["a", "x", True, 0]],
        [["a", "x", 0, 2]],
        [["a", "x", 0, -1]],
        [["a", "x", 0, 1.0]],
        [["a", "x", _MAX, 0]],  # beyond the base's room
        [[1, "x", 0, 0]],
        [("a", "x", 0, 0)],
        [["a", "x", 0]],
    ],
)
def test_a_row_that_is_not_plainly_good_goes_the_slow_way(rows: list[Any]) -> None:
    assert delta_rows.plain_rows(rows, 1, ["n0", "n1"]) is None


@pytest.mark.parametrize(
    "rows",
    [[["", 0, 0]], [["a", -1, 0]], [["a", 0, 2]], [["a", False, 0]], [["a", 0]], [("a", 0, 0)]],
)
def test_an_announcement_that_is_not_plainly_good_goes_the_slow_way(rows: list[Any]) -> None:
    assert delta_rows.plain_have(rows, 1, ["n0", "n1"]) is None
