"""``ChangeLog.record_all`` records a batch (and ``hold_all`` notes a peer's announcements)
a column at a time: the log must end exactly as recording (holding) each contact in turn
leaves it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.net.changelog import ChangeLog

contacts = st.sampled_from(["a", "b", "c", "d"])
skip = st.sampled_from([None, ("p", "e1"), ("q", "e2"), ("store", "s")])
step = st.one_of(
    st.tuples(st.just("batch"), st.lists(contacts, max_size=5), skip),
    st.tuples(st.just("one"), contacts, skip),
    st.tuples(st.just("hold"), contacts, skip.filter(lambda s: s is not None)),
    st.tuples(  # a peer's announcements, "e" never recorded
        st.just("hold_all"),
        st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=5),
        skip.filter(lambda s: s is not None),
    ),
)


def _view(log: ChangeLog) -> Any:
    peers = [None, ("p", "e1"), ("q", "e2")]
    return (
        log.head,
        len(log),
        {c: log.seq_of(c) for c in "abcd"},
        {c: sorted(map(repr, log.holders(c))) for c in "abcde"},
        [
            log.since(seq, limit, peer, also)
            for seq in range(log.head + 1)
            for limit in (1, 3, 100)
            for peer in peers
            for also in (None, ("store", "s"))
        ],
    )


@settings(max_examples=200)
@given(steps=st.lists(step, max_size=30))
def test_a_batch_recorded_at_once_leaves_the_log_as_one_recorded_in_turn(steps: list[Any]) -> None:
    batched, single = ChangeLog("e" * 16), ChangeLog("e" * 16)
    for kind, what, who in steps:
        if kind == "batch":
            batched.record_all(list(what), who)
            for cid in what:
                single.record(cid, who)
        elif kind == "hold_all":
            batched.hold_all(list(what), who)
            for cid in what:
                single.hold(cid, who)
        elif kind == "one":
            batched.record(what, who)
            single.record(what, who)
        else:
            batched.hold(what, who)
            single.hold(what, who)
        assert _view(batched) == _view(single)


def test_many_batches_compact_the_log_as_records_do() -> None:
    batched, single = ChangeLog("e" * 16), ChangeLog("e" * 16)
    for _ in range(600):  # 2,400 entries of 4 contacts: compacted on the way
        batched.record_all(["a", "b", "c", "d"], ("p", "e1"))
        for cid in "abcd":
            single.record(cid, ("p", "e1"))
    assert _view(batched) == _view(single)
    assert len(batched._seqs) < 1100  # compacted (not 2,400 entries)


def _since_one_by_one(
    log: ChangeLog, seq: int, limit: int, peer: Any, also: Any
) -> tuple[list[str], int]:
    """``ChangeLog.since`` as its docstring defines it, entry by entry (the oracle)."""
    out: list[str] = []
    scanned = seq
    live = [
        (s, c) for s, c in zip(log._seqs, log._ids, strict=True) if s > seq and log.seq_of(c) == s
    ]
    for s, cid in live:
        if len(out) >= limit:
            return out, scanned
        scanned = s
        if peer is not None and any(h in (peer, also) for h in log.holders(cid)):
            continue
        out.append(cid)
    return out, log.head


@settings(max_examples=300)
@given(
    steps=st.lists(step, max_size=40),
    limit=st.integers(0, 6),
    peer=st.sampled_from([None, ("p", "e1"), ("q", "e2")]),
    also=st.sampled_from([None, ("store", "s")]),
)
def test_since_reads_the_log_as_entry_by_entry_reading_does(
    steps: list[Any], limit: int, peer: Any, also: Any
) -> None:
    log = ChangeLog("e" * 16)
    for kind, what, who in steps:
        if kind == "batch":
            log.record_all(list(what), who)
        elif kind == "hold_all":
            log.hold_all(list(what), who)
        elif kind == "one":
            log.record(what, who)
        else:
            log.hold(what, who)
    for seq in range(log.head + 1):
        assert log.since(seq, limit, peer, also) == _since_one_by_one(log, seq, limit, peer, also)


def test_since_reads_a_long_tail_in_chunks_as_entry_by_entry_reading_does() -> None:
    log = ChangeLog("e" * 16)
    for n in range(3000):  # beyond one chunk; some superseded, some held, some held by two
        cid = f"c{n % 700}"
        log.record(cid, ("p", "e1") if n % 3 == 0 else None)
        if n % 11 == 0:
            log.hold(cid, ("q", "e2"))
    for seq in (0, 1, 1500, 2299, 2999):
        for limit in (1, 2, 100, 699, 700, 5000):
            for peer in (None, ("p", "e1"), ("q", "e2")):
                expected = _since_one_by_one(log, seq, limit, peer, None)
                assert log.since(seq, limit, peer) == expected


def test_the_limit_reached_at_the_end_of_a_chunk_stops_the_reading_there() -> None:
    """Entries are read ``limit`` (at least 64) at a time: the limit reached exactly at the
    end of a chunk, with more entries after it, stops the reading there."""
    log = ChangeLog("e" * 16)
    log.record_all([f"a{n}" for n in range(300)])
    assert log.since(0, 100) == ([f"a{n}" for n in range(100)], 100)
    held = ChangeLog("e" * 16)
    held.record_all([f"h{n}" for n in range(36)], ("p", "e1"))
    held.record_all([f"a{n}" for n in range(100)])  # the first 64: 36 held, 28 lacked
    expected = ([f"a{n}" for n in range(28)], 64)
    assert held.since(0, 28, ("p", "e1")) == expected
    for each in (log, held):
        for limit in (28, 64, 100, 128):
            for peer in (None, ("p", "e1")):
                assert each.since(0, limit, peer) == _since_one_by_one(each, 0, limit, peer, None)
