"""Restoring a column at a time (:mod:`bassline.engine.restoring`): whatever the rows, the
outcome (the error, or the state after it) must be what checking them one by one gives,
and what recovery learns from :meth:`Network.restore_stored` must be what
:meth:`Network.missing` and :meth:`Network.differing` say."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Network, Stamp
from bassline.codec import to_json
from bassline.content import ABSENT
from bassline.engine import restoring
from bassline.engine.justify import RESTORED
from bassline.engine.propagation import Propagator
from bassline.errors import ContentError
from bassline.lattices import Interval
from bassline.spec import parse_spec

SPEC = {
    "id": "cols",
    "contacts": [
        {"id": "a", "group": "g1"},
        {"id": "b", "group": "g2"},
        {"id": "c", "group": "g1"},
        {"id": "d", "content": 4},
        {"id": "m", "blend": "merge", "lattice": "interval"},
    ],
    "groups": [{"id": "g1"}, {"id": "g2"}],
    "wires": [{"from": "a", "to": "c", "type": "directed"}],
}
IDS = ["a", "b", "c", "d", "m"]
NOW = 10**15
WRITE = '{"kind":"write","via":"http","local":true}'

contact = st.sampled_from([*IDS, "zz"])
value = st.one_of(
    st.text(max_size=3),
    st.integers(min_value=-(2**64), max_value=2**65),
    st.sampled_from(
        [True, None, 1.5, math.nan, math.inf, "é", "\ud800", [1, "x"], {"k": [1]}, (1,), ABSENT]
    ),
    st.builds(Interval, st.integers(0, 3), st.integers(0, 3)),
)
good_stamp = st.builds(Stamp, st.integers(NOW - 5, NOW + 5), st.sampled_from(["n1", "n2"]))
stamp = st.one_of(good_stamp, st.just(Stamp(NOW + 10**13, "n1")))  # beyond the clock's drift
text = st.sampled_from(
    [
        None,
        WRITE,
        '{"kind":"write","via":"http","local":true,"stamp":[1,"n1"]}',
        '{"kind":"wire","from":"a"}',
        '{"kind":"wire","from":"b"}',
        '{"kind":"write"}',
        "not json",
    ]
)
row = st.one_of(st.tuples(contact, value, stamp), st.tuples(contact, value, stamp, text))


def _network(merge: bool = True) -> Network:
    spec = dict(SPEC, contacts=SPEC["contacts"] if merge else SPEC["contacts"][:-1])
    net = Network(parse_spec(spec), apply_initial=False)
    net.clock._physical = lambda: NOW  # type: ignore[method-assign]
    return net


def _state(net: Network) -> list[Any]:
    ids = [c for c in IDS if c in net]
    return [(net.value(c), net.stamp(c), net.stored_justification(c)) for c in ids]


def _outcome(rows: list[Any], merge: bool) -> object:
    net = _network(merge)
    try:
        net.restore(rows)
    except Exception as exc:  # the exact error is compared
        return ("raised", type(exc), str(exc), _state(net))
    return _state(net)


def _row_whys(net: Any, at: list[int], stamps: list[Stamp], texts: list[str | None]) -> list[Any]:
    """The justifications resolved one row at a time (before session 14)."""
    why_of = net._stored.restorer()
    return [
        RESTORED if t is None else why_of(t, net._lattice[i], i, s)
        for i, s, t in zip(at, stamps, texts, strict=True)
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(row, max_size=6), st.booleans())
def test_restoring_a_column_at_a_time_is_restoring_row_by_row(rows: list[Any], merge: bool) -> None:
    """With and without a merge contact in the network (two column paths)."""
    if not merge:
        rows = [r for r in rows if r[0] != "m"]
    by_columns = _outcome(rows, merge)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(restoring, "_plain_rows", lambda *a: None)
        patch.setattr(restoring, "_whys", _row_whys)
        row_by_row = _outcome(rows, merge)
    assert by_columns == row_by_row


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(contact, st.integers(0, 9), good_stamp, st.sampled_from(["g1", "g2", "root"]))
    ),
    st.sampled_from(["some", "every", "every-one-moved"]),
    st.integers(0, 4),
)
def test_what_restore_stored_reports_is_what_missing_and_differing_say(
    rows: list[tuple[str, Any, Stamp, str]], which: str, moved: int
) -> None:
    """Rows for some contacts, or for every one in order (the fast path), each under
    its group or one under another."""
    groups = {"a": "g1", "b": "g2", "c": "g1", "d": "root", "m": "root"}
    if which == "some":
        rows = [r for r in rows if r[0] != "m"]  # (a merge contact takes no integer)
        rows = sorted({r[0]: r for r in rows}.values())  # one row per contact, sorted
    else:
        rows = [(c, i, Stamp(NOW - i, "n1"), groups[c]) for i, c in enumerate(IDS)]
        rows[-1] = ("m", Interval(0, 1), rows[-1][2], "root")
        if which == "every-one-moved":
            c, v, s, _ = rows[moved]
            rows[moved] = (c, v, s, "g2" if groups[c] != "g2" else "g1")
    spec = parse_spec(SPEC)
    net = Network(spec)
    net.clock._physical = lambda: NOW  # type: ignore[method-assign]
    contacts = [r[0] for r in rows]
    restored = net.restore_stored(
        contacts,
        [r[1] for r in rows],
        [r[2] for r in rows],
        [WRITE] * len(rows),
        [r[3] for r in rows],
    )
    net.settle()
    assert restored.ignored == sorted(net.missing(contacts))
    kept = {c: s for c, _, s, g in rows if c in groups and g == groups[c]}
    assert restored.differing() == net.differing(kept)


def _old_settle(self: Propagator) -> Any:
    """The settle before session 14: every contact with content a seed."""
    seeds = [i for i, v in enumerate(self._values) if v is not ABSENT]
    self._settling = True
    try:
        return self._propagate(deque(seeds), {}, [], _touched_gadgets=self._all_gadget_seeds())
    finally:
        self._settling = False


@pytest.mark.parametrize("budget", [None, 1, 2, 3, 4, 5, 6, 8])
def test_settle_counts_the_seeds_without_wires_as_it_took_them(budget: int | None) -> None:
    """Seeds without wires are not taken, yet the run's steps, what it changed and where
    a small step budget stops it are those of taking every seed."""

    def settled(old: bool) -> object:
        net = Network(parse_spec(SPEC), step_budget=budget, apply_initial=False)
        rows = [(c, 1, Stamp(NOW - i, "n1")) for i, c in enumerate(["a", "b", "c", "d"])]
        net.restore(rows)
        result = _old_settle(net) if old else net.settle()
        return result.steps, result.changed, result.unsettled, _state(net)

    assert settled(old=False) == settled(old=True)


json_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**64), max_value=2**65),
        st.floats(),
        st.text(max_size=3),
        st.sampled_from(["\ud800", "é", "$type"]),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.one_of(st.text(max_size=2), st.sampled_from(["$type", 1])), inner, max_size=3
        )
        | st.tuples(inner)
    ),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(json_value, max_size=4))
def test_what_the_column_check_lets_through_the_codec_encodes(values: list[Any]) -> None:
    if restoring.all_plain_content(values):
        for v in values:
            to_json(v)  # never raises ContentError


def test_the_column_check_takes_plain_content_and_refuses_the_rest() -> None:
    good = [1, "a", None, True, 1.5, [1, [2, {"k": "v"}]], {"$type": 1}, 2**64 - 1, -(2**63), "é"]
    assert restoring.all_plain_content(good)
    bad = [2**64, -(2**63) - 1, "\ud800", math.nan, math.inf, {1: 2}, {"\ud800": 1}, ABSENT]
    for value in bad:
        assert not restoring.all_plain_content([1, value]), value
        with pytest.raises(ContentError):
            to_json(value)
