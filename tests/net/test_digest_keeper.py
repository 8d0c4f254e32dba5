"""The digest is folded forward off the request path (bassline.net.digest_keeper)."""

from __future__ import annotations

import logging

import anyio
import pytest

from bassline.clock import Stamp
from bassline.net import BasslineNetwork
from bassline.net.changelog import ChangeLog
from bassline.net.content_digest import ContentDigest
from bassline.net.digest_keeper import DigestKeeper

from .conftest import FAST, flat, wait_until
from .test_digest_cache import fresh_digest

pytestmark = pytest.mark.anyio


def keeper_of(net: BasslineNetwork) -> DigestKeeper:
    keeper = net._keeper
    assert keeper is not None
    return keeper


def rested(keeper: DigestKeeper) -> bool:
    return keeper.folds > 0 and not keeper.contents.behind


async def test_after_a_burst_the_node_folds_its_digest_before_a_status_asks() -> None:
    async with BasslineNetwork("d", flat(300, sets=2), settings=FAST) as net:
        keeper = keeper_of(net)
        await wait_until(lambda: rested(keeper), what="the keeper's first fold")
        for burst in range(2):  # bursts of writes, applied values and joins
            for start in range(burst * 150, burst * 150 + 150, 50):
                await net.update_many({f"c{i}": f"v{i}" for i in range(start, start + 50)})
            stamp = Stamp(net.contact("c7").stamp.hlc + 1, "peer")
            await net.apply([("c7", 7.5 + burst, stamp)])
            await net.update_many({"s0": [burst], "s1": [1.0], "c3": {"k": [burst]}, "c4": None})
            await wait_until(lambda: rested(keeper), what="the keeper caught up")
            before = keeper.contents.on_demand
            status = net.status()
            assert keeper.contents.on_demand == before  # the status folded nothing itself
            assert status["digest"] == net.digest() == fresh_digest(net)
            assert status["contacts"]["with_content"] == 152 + 150 * burst


async def test_a_change_logged_just_before_a_status_is_in_its_digest() -> None:
    async with BasslineNetwork("d", flat(20), settings=FAST) as net:
        keeper = keeper_of(net)
        await net.update_many({f"c{i}": i for i in range(20)})
        await wait_until(lambda: rested(keeper), what="the keeper caught up")
        for k in range(5):  # each status right after its write, rested or not
            await net.update_contact(f"c{k}", f"new {k}")
            assert net.status()["digest"] == fresh_digest(net)
        await net.update_many({"c9": "last"})
        assert net.digest() == fresh_digest(net)


async def test_a_digest_folded_a_chunk_at_a_time_is_the_digest_from_scratch() -> None:
    async with BasslineNetwork("d", flat(30, sets=1), settings=FAST) as net:
        runtime = net.runtime
        assert runtime is not None
        log = ChangeLog()
        contents = ContentDigest(log, frozenset({"s0"}), runtime.state, runtime.stamped)
        assert contents.digest() == fresh_digest(net)  # nothing yet
        for k in range(4):
            written = {f"c{i}": k * 100 + i for i in range(k, 30, 3)} | {"s0": [str(k)]}
            await net.update_many(written)
            log.record_all(list(written))
            folded = 0
            while contents.behind:
                folded += contents.fold(4)
            assert folded == len(written)
            assert contents.on_demand == 0
            assert contents.digest() == fresh_digest(net) == net.digest()
            assert contents.on_demand == 0
        await net.update_contact("c2", "again")
        log.record_all(["c2"])
        assert contents.digest() == fresh_digest(net)
        assert contents.on_demand == 1  # the digest folded it itself


async def test_a_fold_that_fails_starts_the_next_from_every_content() -> None:
    async with BasslineNetwork("d", flat(5), settings=FAST) as net:
        runtime = net.runtime
        assert runtime is not None
        await net.update_many({f"c{i}": i for i in range(5)})
        log = ChangeLog()
        broken: set[str] = set()

        def stamped(cid: str) -> tuple[object, Stamp]:
            if cid in broken:
                raise OSError("storage went away")
            return runtime.stamped(cid)

        contents = ContentDigest(log, frozenset(), runtime.state, stamped)
        assert contents.digest() == fresh_digest(net)
        await net.update_many({"c1": "x", "c3": "y", "c4": "z"})
        log.record_all(["c1", "c3", "c4"])  # c1 is folded before c3 fails
        broken.add("c3")
        with pytest.raises(OSError, match="storage went away"):
            contents.digest()
        broken.clear()
        assert contents.digest() == fresh_digest(net)


async def test_the_keeper_ends_with_the_node() -> None:
    with anyio.fail_after(10):  # a keeper left running would hold the node's close up
        async with BasslineNetwork("d", flat(3), settings=FAST) as net:
            keeper = keeper_of(net)
            await wait_until(lambda: keeper.running, what="the keeper started")
    assert not keeper.running
    assert keeper.failed is None


async def test_a_failing_keeper_says_so_and_status_still_folds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="bassline.net")
    async with BasslineNetwork("d", flat(3), settings=FAST) as net:
        keeper = keeper_of(net)
        await wait_until(lambda: rested(keeper), what="the keeper caught up")

        def boom(limit: int | None = None) -> int:
            raise RuntimeError("planted")

        keeper.contents.fold = boom  # type: ignore[method-assign]
        await net.update_contact("c0", 1)
        await wait_until(lambda: keeper.failed is not None, what="the keeper failed")
        del keeper.contents.fold  # the class's again
        assert not keeper.running
        assert net.status()["digest"] == fresh_digest(net)
    assert "planted" in caplog.text
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)
