"""``ChangeLog.record_all`` records a batch a column at a time: the log must end exactly as
recording each contact in turn leaves it."""

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
)


def _view(log: ChangeLog) -> Any:
    peers = [None, ("p", "e1"), ("q", "e2")]
    return (
        log.head,
        len(log),
        {c: log.seq_of(c) for c in "abcd"},
        {c: sorted(map(repr, log.holders(c))) for c in "abcd"},
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
