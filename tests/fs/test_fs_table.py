"""The fs index's column table behaves like a dict of Content rows."""

from __future__ import annotations

import pytest
from bassline_storage_fs.table import Content, ContentTable
from hypothesis import given
from hypothesis import strategies as st


def _table(**rows: Content) -> ContentTable:
    table = ContentTable()
    for contact, content in rows.items():
        table[contact] = content
    return table


def test_set_get_and_replace_in_place() -> None:
    table = _table(a=Content("g", 1, "n", b"1"))
    assert table.get("a") == Content("g", 1, "n", b"1") and table["a"].value == b"1"
    table["a"] = Content("h", 2, "m", b"2")
    assert len(table) == 1 and table["a"] == Content("h", 2, "m", b"2")
    assert table.get("b") is None and "b" not in table and "a" in table
    with pytest.raises(KeyError):
        table["b"]


def test_put_rows_appends_new_contacts_and_overwrites_stored_ones() -> None:
    table = _table(a=Content("g", 1, "n", b"1"))
    table.put_rows(["b", "c"], ["g", "g"], [2, 3], ["n", "n"], [b"2", b"3"])
    table.put_rows(["a", "d"], ["h", "h"], [4, 5], ["m", "m"], [b"4", b"5"])
    assert dict(table.items()) == {
        "a": Content("h", 4, "m", b"4"),
        "b": Content("g", 2, "n", b"2"),
        "c": Content("g", 3, "n", b"3"),
        "d": Content("h", 5, "m", b"5"),
    }
    assert list(table) == ["a", "b", "c", "d"] and table.max_hlc() == 5


def test_newer_or_equal_keeps_positions_not_older_than_what_is_stored() -> None:
    table = _table(a=Content("g", 5, "n", b"1"), b=Content("g", 5, "n", b"1"))
    stamps = [(4, "z"), (5, "n"), (1, "a"), (5, "m")]
    assert table.newer_or_equal(["a", "b", "c", "b"], stamps) == [1, 2]
    assert table.newer_or_equal(["x", "y"], [(0, ""), (0, "")]) == [0, 1]


def test_a_copy_does_not_change_with_the_table() -> None:
    table = _table(a=Content("g", 1, "n", b"1"))
    copy = table.copy()
    table["a"] = Content("g", 2, "n", b"2")
    table["b"] = Content("g", 3, "n", b"3")
    assert dict(copy.items()) == {"a": Content("g", 1, "n", b"1")}
    assert copy != table and copy == _table(a=Content("g", 1, "n", b"1"))


_CONTENTS = st.builds(
    Content,
    st.sampled_from("gh"),
    st.integers(0, 9),
    st.just("n"),
    st.binary(max_size=3),
    st.none() | st.sampled_from(['{"kind": "write"}', '{"kind": "wire"}']),
)


@given(st.lists(st.dictionaries(st.sampled_from("abcdef"), _CONTENTS, max_size=4), max_size=6))
def test_any_sequence_of_puts_matches_a_dict(batches: list[dict[str, Content]]) -> None:
    table, expected = ContentTable(), {}
    for batch in batches:
        contacts = list(batch)
        rows = list(batch.values())
        table.put_rows(
            contacts,
            [r.group for r in rows],
            [r.hlc for r in rows],
            [r.node for r in rows],
            [r.value for r in rows],
            [r.why for r in rows],
        )
        expected.update(batch)
    assert dict(table.items()) == expected and len(table) == len(expected)


def test_sorted_columns_are_the_rows_in_contact_order() -> None:
    table = _table(b=Content("g", 2, "n", b"2", "w"), a=Content("h", 1, "m", b"1"))
    assert table.sorted_columns() == (
        ["a", "b"],
        ["h", "g"],
        [1, 2],
        ["m", "n"],
        [b"1", b"2"],
        [None, "w"],
    )
    assert ContentTable().sorted_columns() == ([], [], [], [], [], [])
