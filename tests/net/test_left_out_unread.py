"""Changes of an origin a peer pruned quietly are left out as the log is read, once the
first link they were made ready for noted them as writes (``ChangeLog.note_writes``):
whatever the state, the links and the order they read in, a link's deltas must hold what
reading every entry and parting it one contact at a time gives, less what is left out,
and count the same changes left out."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Stamp
from bassline.engine.carried import CarriedWrite
from bassline.errors import BasslineError
from bassline.net import delta_entries
from bassline.net.carry import CarryCodec
from bassline.net.changelog import UNNOTED, ChangeLog
from bassline.net.delta_entries import entries, link_entries

from .test_delta_entries_columns import CONTACTS, NOW, _one_at_a_time, _state, step

PEER, OTHER = ("p", "e1"), ("q", "e2")
origins = st.sampled_from([(), {"p1"}, {"p2"}, {"p1", "p2", "n"}])
# a link: its peer, the origins it pruned, those of them it pruned quietly, delta size;
# a size of 0 reads 100 at a time without leaving anything out as the log is read (all
# is left to link_entries, which must leave out the same)
link = st.tuples(st.sampled_from([PEER, OTHER]), origins, origins, st.sampled_from([0, 1, 2, 100]))


def _read(
    view: Any,
    log: ChangeLog,
    link: tuple[Any, Any, Any, int],
    cache: dict[str, Any],
) -> Any:
    """A link's whole read of ``log`` (``since_noted`` then ``link_entries`` with the
    notes read, as ``Replicator.build_delta`` reads it, ``cache`` shared by the node's
    links), its frames' entries joined."""
    codec, merging = CarryCodec(view.network.spec), frozenset({"m"})
    peer, lazy, quiet, limit = link
    items: list[Any] = []
    have: list[Any] = []
    left, seq = 0, 0
    while seq < log.head:
        ids, seq, dropped, notes = log.since_noted(
            seq, limit or 100, peer, None, quiet if limit else ()
        )
        assert notes is None or notes == log.notes_of(ids)  # as they are noted now
        left += dropped
        if ids:
            got = link_entries(view, codec, cache, merging, log, ids, lazy, quiet, notes)
            items += got[0]
            have += got[2]
            left += got[4]
    return items, have, left


def _want(view: Any, log: ChangeLog, link: tuple[Any, Any, Any, int]) -> Any:
    """What a link is due: every entry the peer lacks, parted one contact at a time, the
    announced changes of ``quiet`` origins taken out and counted."""
    peer, lazy, quiet, _ = link
    ids, _ = log.since(0, len(CONTACTS), peer)
    if not ids:
        return [], [], 0
    codec, merging = CarryCodec(view.network.spec), frozenset({"m"})
    with pytest.MonkeyPatch.context() as monkeypatch:
        _one_at_a_time(monkeypatch)
        items, _, have, _ = entries(view, codec, {}, merging, log, ids, lazy)
    kept = [row for row in have if row[1].node not in quiet]
    return items, kept, len(have) - len(kept)


def _held(view: Any) -> list[str]:
    return [cid for cid in CONTACTS if view.network.stamped(cid)[0] is not delta_entries.ABSENT]


def _plain(step: Any) -> bool:
    """Whether a step writes a plain value without a wire's copy or a kept stamp."""
    kind, cid, _, *rest = step
    return cid not in ("a", "c") and (
        kind == "update" or (kind == "apply" and rest[1] in (None, CarriedWrite("http")))
    )


@settings(max_examples=400, deadline=None)
@given(
    steps=st.lists(step, max_size=12),
    held=st.lists(st.sampled_from(CONTACTS), max_size=3),
    links=st.lists(link, min_size=1, max_size=4),
    later=st.lists(step, max_size=4),
    again=st.lists(link, min_size=1, max_size=3),
    plain=st.booleans(),
)
def test_a_links_deltas_hold_what_it_is_due_less_what_it_left_out(
    steps: list[Any],
    held: list[str],
    links: list[Any],
    later: list[Any],
    again: list[Any],
    plain: bool,
) -> None:
    if plain:  # only plain writes (no wire's copy, no kept stamp): every change noted
        steps = [s for s in steps if _plain(s)]
        later = [s for s in later if _plain(s)]
    view = _state(steps)
    log = ChangeLog("e" * 16)
    log.record_all(_held(view))  # a node logs the contacts that hold content
    for cid in held:  # PEER sent these: passed over, neither sent nor left out
        log.hold(cid, PEER)
    cache: dict[str, Any] = {}
    for peer, lazy, quiet, limit in links:
        each = (peer, lazy, set(quiet) & set(lazy) if lazy else (), limit)  # quiet: pruned
        assert _read(view, log, each, cache) == _want(view, log, each)
    for tick, (kind, cid, v, *rest) in enumerate(later):  # more changes, logged anew
        stamp = Stamp(10**15 + 99 + tick, rest[0])
        try:
            if kind == "update":
                view.network.update_many({cid: v}, via=rest[0])
            elif kind == "restore":
                view.network.restore([(cid, v, stamp)])
            else:
                view.network.apply([(cid, v, stamp, rest[1])])
        except BasslineError:  # a generated write the engine refuses changes nothing
            continue
        log.record_all(_held(view))  # (a wire's copy changes with its source)
    for peer, lazy, quiet, limit in again:
        each = (peer, lazy, set(quiet) & set(lazy) if lazy else (), limit)
        assert _read(view, log, each, cache) == _want(view, log, each)


def test_noted_changes_are_parted_without_reading_their_justifications() -> None:
    """Once noted, a quiet link reads no contact for a write of a quiet origin, and a link
    whose peer pruned origins parts its deltas without reading justifications."""
    view = _state(
        [
            ("apply", "b", "x", "p1", CarriedWrite("http")),
            ("apply", "d", "y", "p2", CarriedWrite("http")),
        ]
    )
    log = ChangeLog("e" * 16)
    log.record_all(["b", "d"])
    cache: dict[str, Any] = {}
    assert _read(view, log, (PEER, (), (), 100), cache)[2] == 0  # made ready: noted
    assert log.notes_of(["b", "d", "zz"]) == ["p1", "p2", UNNOTED]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(delta_entries, "entries", lambda *a: pytest.fail("read"))
        monkeypatch.setattr(delta_entries, "_split_lazy", lambda *a: pytest.fail("read"))
        assert log.since_noted(0, 100, PEER, None, {"p1", "p2"}) == ([], 2, 2, [])
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(delta_entries, "_split_lazy", lambda *a: pytest.fail("read"))
        for limit in (0, 1):  # left out by link_entries, or as the log is read
            items, have, left = _read(view, log, (PEER, {"p1", "p2"}, {"p1"}, limit), cache)
            assert items == [] and have == [("d", Stamp(NOW + 2, "p2"))] and left == 1


def test_notes_of_live_entries_outlive_the_logs_compaction() -> None:
    log = ChangeLog("e" * 16)
    log.record_all(["a", "b"])
    log.note_writes([1, 2], ["p1", "p2"])
    for _ in range(1100):  # "b" again and again: the log compacts its superseded entries
        log.record("b")
    assert log.since_noted(0, 100, None, None, {"p1"}) == (["b"], log.head, 1, [UNNOTED])
    log.note_writes([log.head], ["p1"])
    assert log.since_noted(0, 100, None, None, {"p1"}) == ([], log.head, 2, [])
