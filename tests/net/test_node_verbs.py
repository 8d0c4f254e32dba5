"""A node has the verbs of the engine and the runtime (D30), ``apply`` included."""

from __future__ import annotations

import re

import anyio
import attrs
import pytest

from bassline import Network
from bassline.clock import Stamp
from bassline.codec import encode
from bassline.errors import ContentError, UnknownContact
from bassline.lattices import Interval
from bassline.net import BasslineNetwork, replicator

from .conftest import FAST, flat, line, wait_until

pytestmark = pytest.mark.anyio


async def test_apply_keeps_the_stamps_it_is_given_and_replicates_to_peers() -> None:
    async with line(flat(3), 2) as (n0, n1):
        await wait_until(lambda: len(n0.peers()) == 1, what="the link")
        written = Stamp(n0.contact("c0").stamp.hlc + 1_000, "elsewhere")
        result = await n0.apply([("c0", "from afar", written), ("c1", [1, 2], written)])
        assert result.changed == {"c0": "from afar", "c1": [1, 2]}
        assert n0.contact("c0").stamp == written
        await wait_until(lambda: n1.value("c1", None) == [1, 2], what="c1 on the peer")
        assert (n1.value("c0"), n1.contact("c0").stamp) == ("from afar", written)
        # an older stamp loses to the one held, as a peer's older value would
        older = Stamp(written.hlc - 1, "elsewhere")
        assert not (await n0.apply([("c0", "stale", older)])).changes
        assert n0.value("c0") == "from afar"


async def test_apply_changes_nothing_when_any_item_is_refused() -> None:
    small = attrs.evolve(FAST, max_frame_bytes=8192)
    async with line(flat(2), 1, settings=small) as (net,):
        stamp = Stamp(net.contact("c0").stamp.hlc + 1, "elsewhere")
        with pytest.raises(ContentError, match="gossip limit"):
            await net.apply([("c0", 1, stamp), ("c1", "x" * 10_000, stamp)])
        with pytest.raises(UnknownContact):
            await net.apply([("c0", 1, stamp), ("nope", 2, stamp)])
        assert net.values() == {}


async def test_the_gossip_limit_on_a_write_is_exact() -> None:
    """A content may encode to ``max_frame_bytes - 4096`` bytes, not one more, whatever its
    shape; numbers, booleans and null always fit."""
    small = attrs.evolve(FAST, max_frame_bytes=8192)  # the limit is 4096 bytes
    async with line(flat(2), 1, settings=small) as (net,):
        fits, over = "x" * 4094, "x" * 4095  # 4096 and 4097 bytes with their quotes
        await net.update_contact("c0", fits)
        await net.update_contact("c1", [fits[:-2]])  # ["..."]: 4096 bytes
        assert net.values() == {"c0": fits, "c1": [fits[:-2]]}
        for too_big in (over, [fits[:-1]], {"k": fits[:-5]}):  # 4097 bytes each
            with pytest.raises(ContentError, match=r"the gossip limit is 4096 \(") as refused:
                await net.update_contact("c0", too_big)
            assert refused.value.contact == "c0"
        for scalar in (2**63 - 1, 1.5e300, True, None):
            await net.update_contact("c1", scalar)
        assert net.value("c0") == fits


async def test_apply_takes_the_justification_an_item_came_with() -> None:
    """As the engine's and the runtime's (concepts.md): a 4th element is the carried
    justification, and ``explain`` on the node then names the write it came from."""
    origin = Network(flat(2), node_id="far")
    origin.update_contact("c0", 5, via="http")
    async with line(flat(2), 1) as (net,):
        carried = origin.carried_justification("c0")
        result = await net.apply(
            [("c0", 5, origin.stamp("c0"), carried), ("c1", 6, origin.stamp("c0"))]
        )
        assert result.changed == {"c0": 5, "c1": 6}
        (premise,) = net.explain("c0").premises()
        assert (premise.via, premise.local, premise.stamp.node) == ("http", False, "far")


async def test_update_many_and_apply_refuse_items_of_the_wrong_shape() -> None:
    async with line(flat(2), 1) as (net,):
        with pytest.raises(TypeError, match=r"items must be a mapping \{contact: content\}"):
            await net.update_many([("c0", 1)])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"each item must be \(contact, value, stamp\)"):
            await net.apply([("c0", 1)])  # type: ignore[list-item]
        assert net.values() == {}


async def test_a_write_of_content_no_codec_takes_names_its_contact() -> None:
    """The engine and the runtime name the contact; the node's gossip-size check, which
    encodes first, said only "the interval [3, 1] is empty (lo > hi)" (and over HTTP)."""
    async with line(flat(2), 1) as (net,):
        for bad in (Interval(3, 1), {1}, b"x", {1: 2}):
            with pytest.raises(ContentError, match=r"^contact 'c1': ") as one:
                await net.update_contact("c1", bad)
            with pytest.raises(ContentError, match=r"^contact 'c1': ") as many:
                await net.update_many({"c0": 1, "c1": bad})
            assert one.value.contact == many.value.contact == "c1"
        assert net.values() == {}


async def test_peers_given_as_one_string_are_refused() -> None:
    """A string once became one peer URL per character ("node URL 'w' must start ...")."""
    with pytest.raises(TypeError, match="peers is a list of URLs, not the string 'ws://h:1'"):
        BasslineNetwork("n", flat(1), peers="ws://h:1")


@pytest.mark.parametrize("settings", [{"lazy_push": False}, "fast", 5])
async def test_settings_that_are_not_gossip_settings_are_refused(settings: object) -> None:
    """A dict of settings (or anything else) failed with "'dict' object has no attribute
    'max_pending_handshakes'", naming neither the argument nor what it takes."""
    expected = f"settings must be a GossipSettings, not {settings!r}: GossipSettings(lazy_push=..."
    with pytest.raises(TypeError, match=re.escape(expected)):
        BasslineNetwork("n", flat(1), settings=settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [5, "memory://", None.__class__])
@pytest.mark.parametrize("name", ["runtime", "storage"])
async def test_a_runtime_or_storage_that_is_not_one_is_refused(name: str, given: object) -> None:
    """``runtime=5`` failed at join with "'int' object has no attribute 'spec'", naming
    neither the argument nor what it takes; ``storage=5`` likewise."""
    kind = "Runtime" if name == "runtime" else "NetworkStorage"
    expected = f"{name} must be a {kind}, not {given!r}"
    with pytest.raises(TypeError, match=re.escape(expected)):
        BasslineNetwork("n", flat(1), **{name: given})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("within", "error", "message"),
    [
        (0, ValueError, "within must be positive and finite, got 0"),
        (-1, ValueError, "within must be positive and finite, got -1"),
        (float("nan"), ValueError, "within must be positive and finite, got nan"),
        (float("inf"), ValueError, "within must be positive and finite, got inf"),
        ("5", TypeError, "within must be a number of seconds, got '5'"),
        (True, TypeError, "within must be a number of seconds, got True"),
    ],
)
async def test_connect_to_peer_checks_how_long_it_may_wait(
    within: object, error: type[Exception], message: str
) -> None:
    """``within`` went unchecked: -1 gave up at once, NaN failed in anyio ("deadline must
    not be NaN"), ``'5'`` with "unsupported operand type(s)", ``True`` waited a second
    ("within Trues"), and ``inf`` waited for ever on a peer that never answers."""
    async with line(flat(1), 1) as (net,):
        with anyio.fail_after(10), pytest.raises(error, match=re.escape(message)):
            await net.connect_to_peer("ws://127.0.0.1:9", wait=True, within=within)  # type: ignore[arg-type]
        assert net.peers() == []


async def test_a_closed_node_refuses_writes() -> None:
    """A write after ``async with`` ended once waited forever for a stopped flusher."""
    async with line(flat(2), 1) as (net,):
        await net.update_contact("c0", 1)
    with anyio.fail_after(10):
        for write in (
            net.update_contact("c0", 2),
            net.update_many({"c1": 2}),
            net.apply([("c1", 2, net.contact("c0").stamp)]),
        ):
            with pytest.raises(RuntimeError, match="node 'n0' is closed: it takes no more writes"):
                await write
    assert net.values() == {"c0": 1}


async def test_contents_that_always_fit_are_written_without_encoding_them_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Numbers, booleans, null and strings short enough to fit even with every character
    escaped (6 bytes each) skip the size check's encoding; longer strings do not."""
    encoded: list[object] = []

    def counting(value: object) -> bytes:
        encoded.append(value)
        return encode(value)

    monkeypatch.setattr(replicator, "encode", counting)
    small = attrs.evolve(FAST, max_frame_bytes=4096 + 6 * 683)  # the limit: 6 * 683 bytes
    async with BasslineNetwork("n", flat(1), settings=small) as net:
        fits = "x" * 682  # 6 * 682 bytes at worst, under the limit
        for content in (7, 2.5, True, None, fits):
            await net.update_contact("c0", content)
        assert encoded == []
        borderline = "x" * 683  # 6 * 683 bytes at worst, not under it: encoded to be sure
        await net.update_contact("c0", borderline)
        assert encoded == [borderline]
