"""The change log keeps who holds each change in a list aligned with its entries (read
as slices with the log): holders, the log's read and compaction must agree with a model
kept per contact, over runs long enough to compact the log many times."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bassline.net.changelog import ChangeLog
from tests.net.test_changelog_batch import _since_one_by_one

CONTACTS = list("abcdef")
KEYS: list[Any] = [("p", "e1"), ("q", "e2"), ("r", "e3"), ("store", "s")]


@pytest.mark.parametrize("seed", range(6))
def test_holders_and_reads_agree_with_a_model_across_compactions(seed: int) -> None:
    rnd = random.Random(seed)
    log = ChangeLog("e" * 16)
    model: dict[str, set[Any]] = {}
    compactions = 0
    for step in range(4000):
        kind = rnd.random()
        before = len(log._seqs)
        if kind < 0.4:
            batch = rnd.sample(CONTACTS, rnd.randint(1, 4))
            skip = rnd.choice([None, *KEYS])
            log.record_all(batch, skip)
            model.update({c: set() if skip is None else {skip} for c in batch})
        elif kind < 0.6:
            cid, skip = rnd.choice(CONTACTS), rnd.choice([None, *KEYS])
            log.record(cid, skip)
            model[cid] = set() if skip is None else {skip}
        elif kind < 0.8:
            cid, key = rnd.choice(CONTACTS), rnd.choice(KEYS)
            log.hold(cid, key)
            if cid in model:
                model[cid].add(key)
        else:
            batch, key = rnd.sample([*CONTACTS, "z"], rnd.randint(0, 4)), rnd.choice(KEYS)
            log.hold_all(batch, key)
            for cid in batch:
                if cid in model:
                    model[cid].add(key)
        compactions += len(log._seqs) < before
        assert len(log._held) == len(log._seqs) == len(log._ids)
        if step % 97 == 0 or len(log._seqs) < before:
            assert {c: set(log.holders(c)) for c in CONTACTS} == {
                c: model.get(c, set()) for c in CONTACTS
            }
            for seq in rnd.sample(range(log.head + 1), min(8, log.head + 1)):
                for peer in (None, *KEYS[:3]):
                    also = rnd.choice([None, KEYS[3]])
                    limit = rnd.randint(0, 5)
                    assert log.since(seq, limit, peer, also) == _since_one_by_one(
                        log, seq, limit, peer, also
                    )
    assert compactions > 2
