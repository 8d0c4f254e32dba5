"""The node's digest is cached between changes: it must always equal a fresh computation."""

from __future__ import annotations

import hashlib

import pytest

from bassline.clock import Stamp
from bassline.codec import encode
from bassline.net import BasslineNetwork
from bassline.spec import BlendMode

from .conftest import FAST, flat

pytestmark = pytest.mark.anyio


def fresh_digest(net: BasslineNetwork) -> str:
    """The digest computed from scratch, as documented (sorted contacts; merge contacts
    contribute their value only)."""
    spec = net.spec
    assert net.runtime is not None
    h = hashlib.sha256()
    for cid, value, stamp in sorted(net.runtime.state(), key=lambda x: x[0]):
        if spec.contact(cid).blend is BlendMode.MERGE:
            h.update(encode([cid, value]))
        else:
            h.update(encode([cid, value, stamp.to_json()]))
        h.update(b"\n")
    return h.hexdigest()


async def test_the_digest_follows_every_change_local_and_applied() -> None:
    async with BasslineNetwork("d", flat(3, sets=1), settings=FAST) as net:
        assert net.digest() == fresh_digest(net)
        await net.update_contact("c0", 1)
        assert net.digest() == fresh_digest(net)
        first = net.digest()
        # the same value again, with a newer stamp: only the stamp differs
        await net.update_contact("c0", 1)
        assert net.digest() == fresh_digest(net) != first
        await net.apply([("c1", "x", Stamp(net.contact("c0").stamp.hlc + 1, "peer"))])
        assert net.digest() == fresh_digest(net)
        await net.update_contact("s0", ["a"])
        await net.update_contact("s0", ["b"])  # a merge contact: joined, value only
        assert net.digest() == fresh_digest(net)
        assert net.digest() == net.digest()  # unchanged between changes


async def test_contents_gained_in_any_order_keep_the_digest_sorted() -> None:
    # contacts gain content out of their sorted order, some in one run, some alone: only
    # the changed lines are encoded again, and new ones take their place in the order
    async with BasslineNetwork("d", flat(40, sets=2), settings=FAST) as net:
        order = [f"c{i}" for i in (7, 31, 2, 19, 0, 25, 11, 38, 5, 14)]
        for k, cid in enumerate(order):
            await net.update_contact(cid, k)
            assert net.digest() == fresh_digest(net)
            assert net.status()["contacts"]["with_content"] == k + 1
        await net.update_many({"c30": "a", "c3": "b", "c7": "again", "s1": ["x"]})
        assert net.digest() == fresh_digest(net)
        assert net.status()["contacts"]["with_content"] == len(order) + 3
