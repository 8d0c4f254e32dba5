"""The node's digest is cached between changes: it must always equal a fresh computation."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from bassline.clock import Stamp
from bassline.codec import encode, to_json
from bassline.content import canonical_form
from bassline.lattices import GrowSet, Interval
from bassline.net import BasslineNetwork, content_digest, delta_entries, replicator
from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics
from bassline.spec import BlendMode, parse_spec

from .conftest import FAST, ONE_SESSION, converged, flat, node, wait_until

pytestmark = pytest.mark.anyio


def fresh_digest(net: BasslineNetwork) -> str:
    """The digest computed from scratch, as documented: the sum modulo 2**256 of each
    content's line hash (merge contacts contribute their value only, integral floats as
    integers)."""
    spec = net.spec
    assert net.runtime is not None
    total = 0
    for cid, value, stamp in net.runtime.state():
        if spec.contact(cid).blend is BlendMode.MERGE:
            line = encode([cid, canonical_form(value)])
        else:
            line = encode([cid, value, stamp.to_json()])
        total += int.from_bytes(hashlib.blake2b(line, digest_size=32).digest(), "big")
    return f"{total % (1 << 256):064x}"


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


async def test_contents_gained_in_any_order_give_the_digest_of_all_of_them() -> None:
    # contacts gain content out of their sorted order, some in one run, some alone: only
    # the changed lines are encoded again, and the sum takes in new ones in any order
    async with BasslineNetwork("d", flat(40, sets=2), settings=FAST) as net:
        order = [f"c{i}" for i in (7, 31, 2, 19, 0, 25, 11, 38, 5, 14)]
        for k, cid in enumerate(order):
            await net.update_contact(cid, k)
            assert net.digest() == fresh_digest(net)
            assert net.status()["contacts"]["with_content"] == k + 1
        await net.update_many({"c30": "a", "c3": "b", "c7": "again", "s1": ["x"]})
        assert net.digest() == fresh_digest(net)
        assert net.status()["contacts"]["with_content"] == len(order) + 3


async def test_each_content_is_encoded_once_per_change_for_the_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the digest's docstring promises: after a change only the changed content is
    encoded again, and with no change nothing is."""
    encoded: list[str] = []
    line = content_digest.digest_line

    def counting(contact: str, value: object, stamp: Stamp | None) -> bytes:
        encoded.append(contact)
        return line(contact, value, stamp)

    columns = content_digest._columns

    def counting_columns(changed: list[str], *rest: Any) -> list[int] | None:
        hashed = columns(changed, *rest)
        if hashed is not None:  # encoded a column at a time
            encoded.extend(changed)
        return hashed

    monkeypatch.setattr(content_digest, "digest_line", counting)
    monkeypatch.setattr(content_digest, "_columns", counting_columns)
    async with BasslineNetwork("d", flat(3, sets=1), settings=FAST) as net:
        await net.update_many({"c0": 1, "c1": 2, "s0": ["a"]})
        net.digest()
        assert net.runtime is not None
        assert len(encoded) == len(list(net.runtime.state()))  # one line per content
        encoded.clear()
        assert net.digest() == fresh_digest(net)
        await net.update_contact("c1", 3)
        assert net.digest() == fresh_digest(net)
        assert encoded == ["c1"]


@pytest.mark.parametrize(
    "value",
    ["text", '\u00e9\n"q"', 7, -(2**63), 2**63 - 1, True, None, 1.5, ["a", 1], {"k": [1]}],
)
def test_a_digest_line_is_the_canonical_json_of_contact_value_and_stamp(value: object) -> None:
    stamp = Stamp(2**62, "n\u00e9")
    line = content_digest.digest_line("c0", value, stamp)
    assert line == encode(["c0", value, stamp.to_json()])
    assert content_digest.digest_line("c0", value, None) == encode(["c0", value])


def test_a_replicator_that_has_not_joined_says_so() -> None:
    settings = FAST
    r = replicator.Replicator("lonely", settings, NetMetrics(), ChangeLog())
    assert r.store is None  # it follows no store's feed
    with pytest.raises(RuntimeError, match=r"^node 'lonely' has not joined a network yet$"):
        r.digest()


async def test_a_change_sent_to_two_peers_is_converted_to_json_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converted: list[object] = []

    def counting(value: Any) -> Any:
        converted.append(value)
        return to_json(value)

    monkeypatch.setattr(delta_entries, "to_json", counting)
    spec = flat(2)
    async with node("a", spec, settings=ONE_SESSION) as (a, server):
        assert server.url is not None
        peers = [server.url.ws]
        async with (
            node("b", spec, peers=peers, settings=ONE_SESSION) as (b, _),
            node("c", spec, peers=peers, settings=ONE_SESSION) as (c, _),
        ):
            await wait_until(lambda: len(a.peers()) == 2, what="both links")
            converted.clear()
            await a.update_contact("c0", ["shared"])
            await wait_until(lambda: converged([a, b, c]), what="both peers have it")
            assert len(converted) == 1  # once for both deltas


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (1, 1.0),
        (Interval(-0.0, 0.0), Interval(0, 0)),
        (Interval(1, 2.5), Interval(1.0, 2.5)),
        (GrowSet([1, "a"]), GrowSet(["a", 1.0])),
    ],
)
def test_equal_lattice_values_spelled_differently_have_one_merge_line(
    one: object, other: object
) -> None:
    assert content_digest.digest_line("m", one, None) == content_digest.digest_line(
        "m", other, None
    )


async def test_nodes_holding_equal_lattice_values_spelled_differently_have_equal_digests() -> None:
    """A join keeps a node's own spelling of an equal value: written as 1 on one node and
    1.0 on the other before they link, each keeps its own, and their digests differed for
    ever (found as two nodes that never "converged" on [-0.0, 0.0] and [0, 0])."""
    spec = parse_spec(
        {
            "id": "spelled",
            "contacts": [{"id": "m", "lattice": "max"}, {"id": "i", "lattice": "interval"}],
        }
    )
    async with node("a", spec) as (a, sa), node("b", spec) as (b, _):
        await a.update_many({"m": 1, "i": Interval(-0.0, 0.0)})
        await b.update_many({"m": 1.0, "i": Interval(0, 0)})
        assert sa.url is not None
        await b.connect_to_peer(sa.url.ws, wait=True)
        await wait_until(
            lambda: a.metrics.items_in >= 2 and b.metrics.items_in >= 2, what="both exchanged"
        )
        assert type(a.value("m")) is int and type(b.value("m")) is float  # each its own
        await wait_until(lambda: converged([a, b]), what="equal digests")


@pytest.mark.parametrize(
    "values",
    [
        {"c0": "text", "c1": 7, "c2": True},
        {"c0": 'é\n"q"', "c1": None, "c2": -(2**63)},
        {"c0": "a", "c1": 1, "s0": ["x"]},  # a merge contact
        {"c0": 1.5, "c1": "a", "c2": 1},
        {"c0": ["a", 1], "c1": "a", "c2": {"k": [1]}},
    ],
)
async def test_the_digest_kept_over_changes_of_every_kind_equals_a_fresh_one(
    values: dict[str, Any],
) -> None:
    """The digest kept up to date over changes of every kind of value equals the one
    computed from scratch, and so does a later change of one of them."""
    async with BasslineNetwork("d", flat(4, sets=1), settings=FAST) as net:
        await net.update_contact("c3", "before")
        net.digest()  # the next digest reads only what changed since
        await net.update_many(values)
        assert net.digest() == fresh_digest(net)
        await net.update_contact("c1", "after")
        assert net.digest() == fresh_digest(net)
