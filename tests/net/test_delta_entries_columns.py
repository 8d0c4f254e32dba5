"""A delta's entries for contents justified by plain writes are made ready a column at a
time: whatever the state, the lazy origins and the contacts asked for, the entries and
the cache must be what making them ready one contact at a time gives."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Network, Stamp
from bassline.engine.carried import CarriedWrite
from bassline.engine.carrier import Carrier
from bassline.errors import UnknownContact
from bassline.net import delta_entries
from bassline.net.carry import CarryCodec
from bassline.net.changelog import ChangeLog
from bassline.net.delta_entries import entries
from bassline.runtime.view import EngineView
from bassline.spec import parse_spec

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
NOW = 10**15


class View(EngineView):
    """An engine read as a runtime reads it."""

    def __init__(self, network: Network) -> None:
        self.network = network


value = st.one_of(
    st.text(alphabet="xyzé", max_size=3),
    st.integers(-5, 5),
    st.sampled_from([True, None, 1.5, [1, "é"], {"k": 1}]),
)
# a write here (via http or cli), a peer's value (from origin p1 or p2, justified by a
# plain write, a write with a kept stamp, or nothing), or a content restored from storage
step = st.one_of(
    st.tuples(st.just("restore"), st.sampled_from(CONTACTS), value, st.sampled_from(["p1", "n"])),
    st.tuples(
        st.just("update"), st.sampled_from(CONTACTS[:4]), value, st.sampled_from(["http", "cli"])
    ),
    st.tuples(
        st.just("apply"),
        st.sampled_from([*CONTACTS, "m", "m"]),  # the merge contact more often
        value,
        st.sampled_from(["p1", "p2"]),
        st.sampled_from([None, CarriedWrite("http"), CarriedWrite("cli", Stamp(NOW, "p1"))]),
    ),
)


def _state(steps: list[Any]) -> View:
    net = Network(parse_spec(SPEC))
    net.clock._physical = lambda: NOW  # type: ignore[method-assign]
    tick = 0
    for kind, cid, v, *rest in steps:
        try:
            if kind == "update":
                net.update_many({cid: v}, via=rest[0])
            elif kind == "restore":
                tick += 1
                net.restore([(cid, v, Stamp(NOW + tick, rest[0]))])
            else:
                tick += 1
                net.apply([(cid, v, Stamp(NOW + tick, rest[0]), rest[1])])
        except Exception:  # a value the contact refuses: the state stays as it was
            continue
    return View(net)


def _one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delta_entries, "_all_cached", lambda *a: None)
    monkeypatch.setattr(delta_entries, "_plain_writes", lambda *a: None)


@settings(max_examples=500, deadline=None)
@given(
    steps=st.lists(step, max_size=12),
    ids=st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=5, unique=True),
    lazy=st.sampled_from([(), {"p1"}, {"p2"}, {"p1", "p2", "n"}]),
)
def test_the_column_path_gives_what_the_contact_at_a_time_path_gives(
    steps: list[Any], ids: list[str], lazy: Any
) -> None:
    merging = frozenset({"m"})  # the spec's merge contacts, as the replicator passes them
    view = _state(steps)
    log = ChangeLog("e" * 16)
    log.record_all(CONTACTS)
    codec = CarryCodec(view.network.spec)
    columns_cache: dict[str, Any] = {}
    taken: list[object] = []
    original = delta_entries._plain_writes

    def spy(*args: Any) -> object:
        taken.append(result := original(*args))
        return result

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(delta_entries, "_plain_writes", spy)
        got = entries(view, codec, columns_cache, merging, log, ids, lazy)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _one_at_a_time(monkeypatch)
        one_cache: dict[str, Any] = {}
        want = entries(view, codec, one_cache, merging, log, ids, lazy)
    assert got == want
    assert columns_cache == one_cache
    plain = all(
        type(view.carried_justification(cid)) in (CarriedWrite, type(None))
        and getattr(view.carried_justification(cid), "stamp", None) is None
        for cid in ids
    ) and all(view.network.stamped(cid)[0] is not delta_entries.ABSENT for cid in ids)
    assert (taken[0] is not None) == plain  # the column path is taken exactly then


def test_plain_writes_once_seen_are_read_without_a_call_per_contact() -> None:
    view = _state([("update", "a", "x", "http"), ("apply", "b", "y", "p1", CarriedWrite("cli"))])
    first = view.carried_justifications(["a", "b"])  # caches each write's reference
    assert first == [CarriedWrite("http"), CarriedWrite("cli")]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(Carrier, "carried", lambda *a: pytest.fail("read one at a time"))
        assert view.carried_justifications(["a", "b"]) == first
        log = ChangeLog("e" * 16)
        log.record_all(["a", "b"])
        codec = CarryCodec(view.network.spec)
        items, whys, have, order = entries(view, codec, {}, frozenset(), log, ["a", "b"], {"p1"})
    assert [item[0] for item in items] == ["a"] and have == [("b", view.network.stamp("b"))]
    assert order == [False, True] and whys == [codec.to_wire("a", CarriedWrite("http"))]


def test_one_write_shared_by_every_contact_is_a_plain_write_only_without_a_kept_stamp() -> None:
    """The column path checks a justification shared by every contact once: a write
    without a kept stamp is made ready there, one with a kept stamp (even one contact's,
    which is shared by itself) is left to the contact-at-a-time path."""
    kept = CarriedWrite("cli", Stamp(NOW - 5, "p1"))
    view = _state([("apply", "b", "y", "p1", kept), ("apply", "d", "z", "p1", kept)])
    log = ChangeLog("e" * 16)
    log.record_all(CONTACTS)
    codec = CarryCodec(view.network.spec)
    for ids in (["b"], ["d"]):
        assert (
            delta_entries._plain_writes(view, codec, {}, frozenset(), log, ids, (), False) is None
        )
    view = _state([("update", "b", "y", "http"), ("update", "d", "z", "http")])
    assert view.carried_justification("b") is view.carried_justification("d")  # one object
    cache: dict[str, Any] = {}
    got = delta_entries._plain_writes(view, codec, cache, frozenset(), log, ["b", "d"], (), False)
    assert got is not None and got[1] == [codec.to_wire("b", CarriedWrite("http"))] * 2
    assert log.notes_of(["b", "d"]) == [view.network.stamp("b").node] * 2  # this node


def test_an_unknown_contact_is_named() -> None:
    view = _state([])
    with pytest.raises(UnknownContact, match="'zz'"):
        view.carried_justifications(["a", "zz"])


@settings(max_examples=500, deadline=None)
@given(
    steps=st.lists(step, max_size=12),
    ids=st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=5, unique=True),
    lazy=st.sampled_from([(), {"p1"}, {"p2"}, {"p1", "p2", "n"}]),
    quiet=st.sampled_from([(), {"p1"}, {"p2"}, {"p1", "p2", "n"}]),
)
def test_a_links_entries_parted_first_are_the_entries_less_what_is_left_out(
    steps: list[Any], ids: list[str], lazy: Any, quiet: Any
) -> None:
    """``link_entries`` parts lazy changes from the items before making anything ready;
    whatever the state, it gives what the contact-at-a-time path gives with the announced
    changes of quiet origins taken out, and counts those."""
    quiet = set(quiet) & set(lazy) if lazy else ()  # a quiet origin is pruned too
    merging = frozenset({"m"})
    view = _state(steps)
    log = ChangeLog("e" * 16)
    log.record_all(CONTACTS)
    codec = CarryCodec(view.network.spec)
    parted_cache: dict[str, Any] = {}
    got = delta_entries.link_entries(view, codec, parted_cache, merging, log, ids, lazy, quiet)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _one_at_a_time(monkeypatch)
        one_cache: dict[str, Any] = {}
        items, whys, have, order = entries(view, codec, one_cache, merging, log, ids, lazy)
    left_out = [row for row in have if row[1].node in quiet]
    marks = iter(row[1].node not in quiet for row in have)
    want_order = [o for o in order if not o or next(marks)]
    kept = [row for row in have if row[1].node not in quiet]
    assert got == (items, whys, kept, want_order, len(left_out))
    assert parted_cache == one_cache


digest_value = st.one_of(
    value,
    st.sampled_from(["\ud800", 2**70, -(2**64), 1e300, 2.0, [], {}]),  # orjson refuses some
)
digest_step = st.one_of(
    step,
    st.tuples(st.just("update"), st.sampled_from(CONTACTS[:4]), digest_value, st.just("http")),
)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(digest_step, max_size=12),
    later=st.lists(digest_step, max_size=6),
)
def test_the_digest_read_a_column_at_a_time_is_the_digest_read_line_by_line(
    steps: list[Any], later: list[Any]
) -> None:
    """The content digest's column path (strings, integers, booleans, null; no merge
    contact) gives the sum the line-by-line path gives, whatever the contents, on the
    first digest and on one after further changes."""
    from bassline.net.content_digest import ContentDigest

    merging = frozenset({"m"})
    view = _state(steps)
    log = ChangeLog("e" * 16)
    by_column = ContentDigest(log, merging, view.state, view.stamped, view.contents_of)
    by_line = ContentDigest(log, merging, view.state, view.stamped)
    log.record_all(CONTACTS)
    assert by_column.digest() == by_line.digest()
    for kind, cid, v, *rest in later:  # more changes, logged: each digest reads only those
        try:
            if kind == "update":
                view.network.update_many({cid: v}, via=rest[0])
            else:
                view.network.apply([(cid, v, Stamp(NOW + 99, rest[0]), rest[1])])
        except Exception:
            continue
        log.record_all([cid])
    assert by_column.digest() == by_line.digest()
