"""``delta_items.unlike_sent``: whether a run applying a peer's delta touched contents all
as the peer sent them (then the change log marks the peer as holding every one, a column
at a time), checked first against the items in order, then by contact."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline import Stamp
from bassline.net.delta_items import Item, unlike_sent

A, B, C = "a", ["b"], "c"  # a list: sent and held as the same object, or an equal copy
ITEMS: list[Item] = [("x", A, Stamp(5, "p"), None), ("y", B, Stamp(6, "p"), None)]


@pytest.mark.parametrize(
    ("ids", "values", "stamps"),
    [
        (["x", "y"], [A, B], [Stamp(5, "p"), Stamp(6, "p")]),  # each item, in order
        (("x", "y"), (A, B), (Stamp(5, "p"), Stamp(6, "p"))),  # tuples, as a one-step run
        (["y", "x"], [B, A], [Stamp(6, "p"), Stamp(5, "p")]),  # another order
        (["y"], [B], [Stamp(6, "p")]),  # one item taken (the other older than held)
        ([], [], []),
    ],
)
def test_contents_all_as_sent_are_none(ids: Any, values: Any, stamps: Any) -> None:
    assert unlike_sent(ITEMS, ids, values, stamps) is None


@pytest.mark.parametrize(
    ("ids", "values", "stamps"),
    [
        (["x", "y"], [A, ["b"]], [Stamp(5, "p"), Stamp(6, "p")]),  # an equal copy: not sent
        (["x", "y"], [A, B], [Stamp(5, "p"), Stamp(7, "p")]),  # another stamp
        (["x", "y", "z"], [A, B, C], [Stamp(5, "p"), Stamp(6, "p"), Stamp(6, "p")]),  # wired
        (["z", "y"], [C, B], [Stamp(5, "p"), Stamp(6, "p")]),  # not sent, as many
    ],
)
def test_contents_not_all_as_sent_give_what_was_sent(ids: Any, values: Any, stamps: Any) -> None:
    assert unlike_sent(ITEMS, ids, values, stamps) == {
        "x": (A, Stamp(5, "p")),
        "y": (B, Stamp(6, "p")),
    }


values = st.sampled_from([A, B, C, ["b"]])
stamps = st.builds(Stamp, st.integers(5, 6), st.just("p"))
item = st.tuples(st.sampled_from("xyz"), values, stamps, st.none())


@given(
    sent=st.lists(item, max_size=4),
    touched=st.lists(
        st.tuples(st.sampled_from("xyz"), values, stamps), max_size=4, unique_by=lambda t: t[0]
    ),
)
def test_it_agrees_with_the_check_one_by_one(sent: list[Item], touched: list[Any]) -> None:
    by_contact = {cid: (value, stamp) for cid, value, stamp, _ in sent}
    expected = all(
        cid in by_contact and by_contact[cid][0] is value and by_contact[cid][1] == stamp
        for cid, value, stamp in touched
    )
    ids, vals, stps = [t[0] for t in touched], [t[1] for t in touched], [t[2] for t in touched]
    assert (unlike_sent(sent, ids, vals, stps) is None) == expected
