"""``unwired.apply_columns`` (a peer's delta handed to the engine as columns, its stamps
made by the protocol, one justification shared by all) must end exactly as
``Network.apply`` of the same items: the same result or error, what listeners hear, and
every contact's content, stamp and explanation, whatever the spec, state and batch."""

from __future__ import annotations

from itertools import repeat
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Network, Stamp
from bassline.engine import unwired
from bassline.engine.carried import CarriedGadget, CarriedWrite
from bassline.engine.results import PropagationResult
from bassline.spec import parse_spec

NOW = 10**15
SPEC = {
    "id": "cols",
    "contacts": [
        {"id": "a"},
        {"id": "b"},
        {"id": "c"},
        {"id": "d"},
        {"id": "m", "blend": "merge", "lattice": "max"},
    ],
    "wires": [{"from": "a", "to": "c"}],
}
CONTACTS = ["a", "b", "c", "d", "m"]

# what a peer's delta holds: stamps as the protocol makes them (a Stamp, a clock reading
# in range, a good node id), anything else as it may come
contact = st.sampled_from([*CONTACTS, "b", "d", "zz"])
value = st.one_of(
    st.integers(0, 3),
    st.text(alphabet="xy", max_size=2),
    st.sampled_from([None, True, 1.5, "é", "\ud800", 2**64, [1], "x" * 3]),
)
stamp = st.builds(
    Stamp, st.integers(NOW - 3, NOW + 3), st.sampled_from(["n1", "n2", ""])
) | st.just(Stamp(NOW + 10**13, "n1"))  # beyond the clock's drift
carried = st.sampled_from(
    [
        None,
        CarriedWrite("http"),
        CarriedWrite("http", Stamp(NOW - 5, "n1")),  # a kept stamp
        CarriedWrite("http", Stamp(NOW + 9, "n1")),  # kept, newer than the content
        CarriedWrite("x\x00"),  # a via no peer may send
        CarriedGadget("g", ()),
    ]
)
held = st.builds(Stamp, st.integers(NOW - 3, NOW + 3), st.sampled_from(["n1", "n2", ""]))
before = st.lists(st.tuples(st.sampled_from(CONTACTS[:4]), st.integers(0, 3), held), max_size=3)


def _outcome(
    columns: tuple[list[str], list[Any], list[Stamp]],
    shared: Any,
    earlier: list[Any],
    fast: bool,
) -> object:
    net = Network(parse_spec(SPEC), node_id="here")
    net.clock._physical = lambda: NOW  # type: ignore[method-assign]
    for cid, v, s in earlier:  # contents held before (ties, older and newer stamps)
        net.apply([(cid, v, s)])
    heard: list[PropagationResult] = []
    net.add_listener(heard.append)
    cids, values, stamps = columns
    try:
        if fast:
            hlcs = [s.hlc for s in stamps]
            newest = stamps[hlcs.index(max(hlcs))]
            result = unwired.apply_columns(net, cids, values, stamps, shared, newest)
        else:
            result = net.apply(list(zip(cids, values, stamps, repeat(shared), strict=False)))
    except Exception as exc:  # the exact error is compared
        return ("raised", type(exc), str(exc), net.values(), net.clock.last)
    return (
        result.touched,
        result.contradictions,
        result.steps,
        [h.touched for h in heard],
        net.values(),
        [net.stamped(c) for c in CONTACTS],
        [net.explain(c).to_json() for c in CONTACTS],
        net.clock.last,
    )


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.tuples(contact, value, stamp), min_size=1, max_size=5),
    shared=carried,
    earlier=before,
)
def test_a_delta_applied_as_columns_ends_as_applied_as_items(
    rows: list[Any], shared: Any, earlier: list[Any]
) -> None:
    columns = tuple(map(list, zip(*rows, strict=True)))
    fast = _outcome(columns, shared, earlier, True)  # type: ignore[arg-type]
    slow = _outcome(columns, shared, earlier, False)  # type: ignore[arg-type]
    assert repr(fast) == repr(slow)


def test_a_plain_delta_of_lone_contacts_takes_the_column_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The usual delta is run without ``Network.apply`` (not handed back to it)."""
    net = Network(parse_spec(SPEC))
    monkeypatch.setattr(net, "apply", lambda *a, **k: pytest.fail("handed to apply"))
    stamps = [Stamp(5, "n1"), Stamp(7, "n2")]
    result = unwired.apply_columns(
        net, ("b", "d"), ("x", 2), stamps, CarriedWrite("http"), stamps[1]
    )
    assert result.touched == (["b", "d"], ["x", 2], stamps)
    assert net.explain("b").to_json()["premises"][0]["via"] == "http"


N1, N2 = Stamp(NOW - 1, "n1"), Stamp(NOW, "n2")
NOW_B = Stamp(NOW - 2, "n2")  # what b holds before


@pytest.mark.parametrize(
    ("rows", "shared"),
    [
        ([("b", "\ud800", N1)], None),  # a lone surrogate: the codec refuses it
        ([("b", 2**64, N1)], None),  # beyond 64 bits
        ([("b", "é", N1), ("d", [1, "x"], N2)], None),  # not ASCII, a list: checked, taken
        ([("m", "x", N1)], None),  # a merge contact: its lattice refuses the kind
        ([("m", 3, N1), ("b", 1, N2)], CarriedWrite("http")),
        ([("zz", 1, N1)], None),  # unknown
        ([("b", 1, N2), ("d", 2, N1)], CarriedWrite("http", N2)),  # kept newer than the second
        ([("b", 1, N1), ("d", 2, N2)], CarriedWrite("http", N1)),  # kept, no newer than any
        ([("b", 1, N1)], CarriedWrite("x\x00")),  # a via no peer may send
        ([("b", 1, N1)], CarriedGadget("g", ())),  # not a write: resolved item by item
        ([("b", 1, Stamp(NOW + 10**13, "n1")), ("d", 1, N1)], None),  # beyond the drift
        ([("a", 1, N1), ("b", 2, N2)], None),  # a wired contact: the general run
        ([("b", 1, N1), ("b", 2, N2)], None),  # a contact twice
        ([("b", 1, NOW_B), ("d", 1, N1)], CarriedWrite("http")),  # a tie with what b holds
        ([("b", 1, Stamp(NOW - 3, "n1")), ("d", 1, N1)], None),  # older than what b holds
    ],
)
def test_what_the_columns_do_not_take_ends_as_apply_ends(rows: list[Any], shared: Any) -> None:
    columns = tuple(map(list, zip(*rows, strict=True)))
    earlier = [("b", 0, NOW_B)]
    fast = _outcome(columns, shared, earlier, True)  # type: ignore[arg-type]
    assert repr(fast) == repr(_outcome(columns, shared, earlier, False))  # type: ignore[arg-type]


def test_an_empty_batch_ends_as_apply_ends() -> None:
    net = Network(parse_spec(SPEC))
    result = unwired.apply_columns(net, (), (), (), CarriedWrite("http"), Stamp(1, "n1"))
    assert result.touched == net.apply([]).touched == ([], [], [])


@pytest.mark.parametrize(
    ("cids", "values", "stamps"),
    [
        (["a", "b"], [1], 2),  # plainly good contacts: the lone run's path
        (["m", "b"], [1, 2], 1),  # a merge contact: Network.apply's path
        (["a"], [1, 2], 1),
    ],
)
def test_columns_of_unequal_length_are_refused_whole(
    cids: list[str], values: list[Any], stamps: int
) -> None:
    """Columns that do not line up are refused by name, nothing applied (a short zip
    would have applied some items and dropped the rest without a word)."""
    net = Network(parse_spec(SPEC))
    column = [Stamp(NOW + k, "peer") for k in range(stamps)]
    with pytest.raises(ValueError, match="unequal length"):
        unwired.apply_columns(net, cids, values, column, None, max(column))
    assert net.values() == {}
