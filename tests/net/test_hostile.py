"""Hostile input against a real node: no crash, no state change, every bad frame counted.

One node (with a cluster secret) runs in a background event loop for the whole module;
hypothesis generates attacks, each on its own WebSocket connection over real sockets.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import anyio
import httpx
import orjson
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bassline.net import BasslineNetwork, GossipSettings, NodeServer
from bassline.net.handshake import handshake
from bassline.net.protocol import PROTOCOL_VERSION, ProtocolViolation, dump, parse_frame
from bassline.net.transport import ConnectionClosed, DialError, dial
from bassline.net.urls import NodeURL

from .conftest import SECRET, flat, wait_until

LIMIT = 16384
PATIENCE = 120
"""Seconds the target gives a handshake, and a link that sends nothing, before it ends
them: far beyond any stall of a loaded machine. At 3 s, a link the attacker opened with
a handshake could time out (uncounted) under load before the target read the frame under
test, which then was never counted; every attack here ends its link itself."""
SETTINGS = GossipSettings(
    max_frame_bytes=LIMIT,
    heartbeat_interval=1,
    heartbeat_timeout=PATIENCE,
    handshake_timeout=PATIENCE,
    discover=False,
    shutdown_grace=0.5,
)
SPEC = flat(5, sets=1)


class Harness:
    """The node under attack, an authenticated attacker, and how to talk to both."""

    def __init__(self, portal: BlockingPortal, target: BasslineNetwork, url: NodeURL) -> None:
        self.portal = portal
        self.target = target
        self.url = url
        self.attacker: BasslineNetwork | None = None

    def counts(self) -> int:
        m = self.target.metrics
        return sum(m.rejected.values()) + sum(m.refused.values())

    def tally(self) -> dict[str, int]:
        """Every refusal, rejection and disconnect the target counted, by reason (what a
        failed count check prints)."""
        m = self.target.metrics
        return {
            f"{kind}:{reason}": n
            for kind, counter in (
                ("rejected", m.rejected),
                ("refused", m.refused),
                ("disconnects", m.disconnects),
            )
            for reason, n in counter.items()
            if n
        }

    def run(self, frames: list[bytes], *, authenticated: bool) -> list[Any]:
        """Send ``frames`` on a fresh link (after a valid handshake if asked); the replies."""
        return self.portal.call(self._attack, frames, authenticated)

    async def _attack(self, frames: list[bytes], authenticated: bool) -> list[Any]:
        replies: list[Any] = []
        async with dial(self.url, max_bytes=1 << 22) as link:
            if authenticated:
                assert self.attacker is not None
                await handshake(self.attacker, link, dialer=True)
            try:
                for frame in frames:
                    await link.send(frame)
                with anyio.fail_after(PATIENCE):
                    while True:
                        replies.append(orjson.loads(await link.receive()))
            except (ConnectionClosed, ProtocolViolation):
                pass
        with anyio.fail_after(PATIENCE):
            while self.target.peers():  # noqa: ASYNC110 - polling with a deadline
                await anyio.sleep(0.01)
        return replies


@asynccontextmanager
async def _serve() -> AsyncIterator[tuple[BasslineNetwork, NodeURL, BasslineNetwork]]:
    async with BasslineNetwork("target", SPEC, secret=SECRET, settings=SETTINGS) as target:
        await target.update_many({"c0": "precious", "s0": ["a", "b"]})
        async with NodeServer(target, "127.0.0.1", 0) as server:
            assert server.url is not None
            async with BasslineNetwork(
                "attacker", SPEC, secret=SECRET, settings=SETTINGS
            ) as attacker:
                yield target, server.url, attacker


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with start_blocking_portal(request.param) as portal:
        with portal.wrap_async_context_manager(_serve()) as (target, url, attacker):
            h = Harness(portal, target, url)
            h.attacker = attacker
            h.before = target.digest()  # type: ignore[attr-defined]
            yield h
            assert target.digest() == h.before  # type: ignore[attr-defined]


def _is_valid(frame: bytes) -> bool:
    try:
        parse_frame(frame, LIMIT)
    except ProtocolViolation:
        return False
    return True


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
wrong_shapes = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(["t", "v", "node", "items", "epoch", "from", "to", "peers", "proof"]),
        json_values,
        max_size=6,
    ),
    st.builds(
        lambda t, extra: {"t": t, **extra},
        st.sampled_from(["hello", "auth", "digest", "delta", "peers", "hb", "bye", "refuse", "x"]),
        st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    ),
).map(lambda v: json.dumps(v).encode())
valid_hello = dump(
    {
        "t": "hello",
        "v": PROTOCOL_VERSION,
        "node": "mallory",
        "bassline": SPEC.hash,
        "nonce": "0" * 32,
        "epoch": "0" * 16,
        "auth": "hmac-sha256",
        "url": None,
        "groups": [],
    }
)
garbage = st.one_of(
    st.binary(min_size=1, max_size=512),
    st.integers(1, len(valid_hello) - 1).map(lambda n: valid_hello[:n]),  # truncated JSON
    st.integers(LIMIT + 1, 4 * LIMIT - 64).map(lambda n: b'{"t":"hb","x":"' + b"x" * n + b'"}'),
    wrong_shapes,
).filter(lambda frame: not _is_valid(frame))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=garbage, after_handshake=st.booleans())
def test_garbage_frames_are_refused_counted_and_change_nothing(
    harness: Harness, frame: bytes, after_handshake: bool
) -> None:
    before, tally = harness.counts(), harness.tally()
    replies = harness.run([frame], authenticated=after_handshake)
    assert harness.counts() == before + 1, (tally, harness.tally(), replies)
    if len(frame) <= LIMIT:  # a huge frame may still be in flight when the link is cut
        assert replies and replies[-1]["t"] == "refuse"
    assert harness.target.digest() == harness.before  # type: ignore[attr-defined]


def _hello(bassline: str, nonce: str, auth: str = "hmac-sha256") -> bytes:
    return dump(
        {
            "t": "hello",
            "v": PROTOCOL_VERSION,
            "node": "mallory",
            "bassline": bassline,
            "nonce": nonce,
            "epoch": "1" * 16,
            "auth": auth,
            "url": None,
            "groups": [],
        }
    )


hexes = st.binary(min_size=32, max_size=32).map(lambda b: b.hex())


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bassline=hexes)
def test_a_hello_with_another_bassline_hash_is_refused(harness: Harness, bassline: str) -> None:
    m = harness.target.metrics
    before = m.refused["bassline-hash"]
    replies = harness.run([_hello(bassline, secrets.token_hex(16))], authenticated=False)
    assert m.refused["bassline-hash"] == before + 1
    assert replies[-1]["code"] == "bassline-hash" and "Bassline mismatch" in replies[-1]["reason"]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(proof=hexes)
def test_a_wrong_secret_proof_is_refused(harness: Harness, proof: str) -> None:
    m = harness.target.metrics
    before = m.refused["auth"]
    frames = [_hello(SPEC.hash, secrets.token_hex(16)), dump({"t": "auth", "proof": proof})]
    replies = harness.run(frames, authenticated=False)
    assert m.refused["auth"] == before + 1
    assert replies[0]["t"] == "hello" and replies[-1]["code"] == "auth"


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nonce=st.binary(min_size=16, max_size=16).map(lambda b: b.hex()))
def test_a_replayed_hello_is_refused(harness: Harness, nonce: str) -> None:
    m = harness.target.metrics
    hello = _hello(SPEC.hash, nonce)
    bad_auth = dump({"t": "auth", "proof": "0" * 64})
    harness.run([hello, bad_auth], authenticated=False)  # the original use of the nonce
    before = m.refused["replay"]
    replies = harness.run([hello], authenticated=False)
    assert m.refused["replay"] == before + 1
    assert replies[-1]["code"] == "replay"


def test_a_hello_after_the_handshake_is_a_violation(harness: Harness) -> None:
    m = harness.target.metrics
    before = m.rejected["unexpected-hello"]
    harness.run([_hello(SPEC.hash, secrets.token_hex(16))], authenticated=True)
    assert m.rejected["unexpected-hello"] == before + 1


def test_a_delta_naming_unknown_contacts_changes_nothing(harness: Harness) -> None:
    m = harness.target.metrics
    before = m.rejected["unknown-contact"]
    stamp_base = 1 << 40
    delta = {
        "t": "delta",
        "epoch": harness.attacker.log.epoch if harness.attacker else "0" * 16,
        "from": 0,
        "to": 2,
        "base": stamp_base,
        "nodes": ["mallory"],
        "items": [["c0", "overwritten", 1, 0], ["no-such-contact", 1, 0, 0]],
    }
    replies = harness.run([dump(delta)], authenticated=True)
    assert m.rejected["unknown-contact"] == before + 1
    assert replies[-1]["code"] == "unknown-contact"
    assert harness.target.value("c0") == "precious"


def test_values_stamped_far_in_the_future_are_dropped_and_counted(harness: Harness) -> None:
    m = harness.target.metrics
    before = m.items_rejected["future-stamp"]
    future = (2**62) // 1 << 0
    delta = {
        "t": "delta",
        "epoch": "2" * 16,
        "from": 0,
        "to": 1,
        "base": future,
        "nodes": ["mallory"],
        "items": [["c0", "from the future", 0, 0]],
    }
    harness.run([dump(delta), dump({"t": "bye", "reason": "done"})], authenticated=True)
    assert m.items_rejected["future-stamp"] == before + 1
    assert harness.target.value("c0") == "precious"


def test_values_stamped_in_the_future_are_logged_once_per_peer(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Each such value is counted; only the first one from a peer is logged. (The reason
    names how far ahead the stamp is: a node that remembered each reason it had logged
    would let a peer grow its memory for ever.)"""
    caplog.set_level(logging.ERROR, logger="bassline.net")
    m = harness.target.metrics
    before = m.items_rejected["future-stamp"]
    peer = f"clockwork-{secrets.token_hex(4)}"
    fresh = BasslineNetwork(peer, SPEC, secret=SECRET, settings=SETTINGS)
    with harness.portal.wrap_async_context_manager(fresh) as clockwork:
        attacker, harness.attacker = harness.attacker, clockwork
        try:
            for k in range(3):
                delta = {
                    "t": "delta",
                    "epoch": secrets.token_hex(8),
                    "from": 0,
                    "to": 1,
                    "base": 2**62 + (k << 30),
                    "nodes": [peer],
                    "items": [["c0", f"later {k}", 0, 0]],
                }
                bye = {"t": "bye", "reason": "done"}
                harness.run([dump(delta), dump(bye)], authenticated=True)
        finally:
            harness.attacker = attacker
    assert m.items_rejected["future-stamp"] == before + 3
    logged = [r.getMessage() for r in caplog.records if "stamped in the future" in r.getMessage()]
    assert len([text for text in logged if repr(peer) in text]) == 1, logged
    assert harness.target.value("c0") == "precious"


def test_values_of_the_wrong_kind_are_dropped_and_counted(harness: Harness) -> None:
    """A peer's value that a merge contact cannot take changes nothing, not even a
    contradiction; the rest of its delta is applied."""
    m = harness.target.metrics
    before = m.items_rejected["wrong-kind"]
    s0 = harness.target.contact("s0")
    delta = {
        "t": "delta",
        "epoch": "5" * 16,
        "from": 0,
        "to": 2,
        "base": 1,
        "nodes": ["mallory"],
        "items": [["s0", 5, 0, 0], ["s0", {"not": "a list"}, 0, 0]],
    }
    harness.run([dump(delta), dump({"t": "bye", "reason": "done"})], authenticated=True)
    assert m.items_rejected["wrong-kind"] == before + 2
    assert harness.target.contact("s0") == s0
    assert harness.target.runtime is not None
    assert harness.target.runtime.network.contradictions == {}


def test_a_frame_beyond_the_limit_is_refused_while_it_arrives(harness: Harness) -> None:
    """Before the handshake the limit is max_handshake_frame_bytes (here LIMIT); the node
    refuses the frame once that much has come, without waiting for the rest."""
    m = harness.target.metrics
    before = m.rejected["oversized"]
    replies = harness.run([b"x" * (5 * LIMIT)], authenticated=False)
    assert m.rejected["oversized"] == before + 1
    assert replies and replies[-1]["code"] == "oversized", replies
    assert f"more than {LIMIT} bytes before the handshake" in replies[-1]["reason"]


def test_the_counts_appear_in_metrics_and_the_node_still_serves(harness: Harness) -> None:
    # provoke each kind here, so the test stands alone (whatever ran before it, or didn't)
    harness.run([_hello("0" * 64, secrets.token_hex(16))], authenticated=False)
    harness.run(
        [_hello(SPEC.hash, secrets.token_hex(16)), dump({"t": "auth", "proof": "00" * 32})],
        authenticated=False,
    )
    unknown = {
        "t": "delta",
        "epoch": "3" * 16,
        "from": 0,
        "to": 1,
        "base": 0,
        "nodes": ["mallory"],
        "items": [["no-such-contact", 1, 0, 0]],
    }
    future = {**unknown, "epoch": "4" * 16, "base": 2**62, "items": [["c0", "later", 0, 0]]}
    harness.run([dump(unknown)], authenticated=True)
    harness.run([dump(future), dump({"t": "bye", "reason": "done"})], authenticated=True)
    text = httpx.get(f"{harness.url.http}/metrics").text
    assert 'bassline_net_frames_rejected_total{reason="unknown-contact"}' in text
    assert 'bassline_net_refused_peers_total{reason="auth"}' in text
    assert 'bassline_net_refused_peers_total{reason="bassline-hash"}' in text
    assert 'bassline_net_items_rejected_total{reason="future-stamp"}' in text
    assert httpx.get(f"{harness.url.http}/healthz").status_code == 200


def test_dialling_a_dead_port_is_a_clear_error() -> None:
    async def go() -> None:
        with pytest.raises(DialError, match="cannot connect"):
            async with dial(NodeURL(False, "127.0.0.1", 9), max_bytes=1024):
                pass

    anyio.run(go)


def test_deeply_nested_values_are_refused_and_the_node_keeps_serving(harness: Harness) -> None:
    counts = harness.counts()
    deep = b"[" * 1000 + b"1" + b"]" * 1000  # orjson reads up to 1,024 levels
    delta = (
        b'{"t":"delta","epoch":"'
        + b"3" * 16
        + b'","from":0,"to":1,"base":1,"nodes":["mallory"],"items":[["c0",'
        + deep
        + b",0,0]]}"
    )
    replies = harness.run([delta], authenticated=True)
    assert replies and replies[-1]["t"] == "refuse", replies
    harness.run([b'{"t":"hb","junk":' + deep + b"}"], authenticated=True)
    assert harness.counts() >= counts + 2
    assert harness.target.value("c0") == "precious"
    # and the next peer is served as usual
    replies = harness.run([dump({"t": "bye", "reason": "done"})], authenticated=True)
    assert "refuse" not in [r["t"] for r in replies]


def _pending_is(target: BasslineNetwork, n: int) -> bool:
    return target.pending_handshakes == n


def test_unfinished_handshakes_are_capped_by_dropping_the_oldest() -> None:
    """Connections that never say hello hold a place only up to a cap; a newer connection
    takes the oldest one's place (that one is refused ``busy``), so squatters can never
    keep a real peer out."""
    cap = 4
    squat = GossipSettings(
        handshake_timeout=30,
        max_pending_handshakes=cap,
        discover=False,
        shutdown_grace=0.5,
    )

    async def go() -> None:
        async with BasslineNetwork("target", SPEC, secret=SECRET, settings=squat) as target:
            async with NodeServer(target, "127.0.0.1", 0) as server:
                assert server.url is not None
                url = server.url
                async with AsyncExitStack() as stack:
                    squatters = []
                    for n in range(1, cap + 1):  # upgraded, then silent
                        squatters.append(
                            await stack.enter_async_context(dial(url, max_bytes=LIMIT))
                        )
                        await wait_until(partial(_pending_is, target, n), 10, "a squatter")
                    await stack.enter_async_context(dial(url, max_bytes=LIMIT))  # one more
                    with anyio.fail_after(10):  # the oldest is dropped now, not at the timeout
                        reply = orjson.loads(await squatters[0].receive())
                    assert reply["t"] == "refuse" and reply["code"] == "busy", reply
                    assert "drops the oldest" in reply["reason"]
                    assert target.metrics.refused["busy"] == 1
                    assert target.pending_handshakes == cap
                    # while the squatters hold every place, a real peer still gets in
                    async with BasslineNetwork(
                        "friend", SPEC, secret=SECRET, settings=squat
                    ) as friend:
                        await friend.connect_to_peer(url.ws, wait=True)
                        # the target registers the link when its own side of the handshake ends
                        await wait_until(
                            lambda: [p.node for p in target.peers()] == ["friend"], 10, "the link"
                        )

    anyio.run(go)


def test_a_silent_peer_that_never_reads_is_dropped_at_the_heartbeat_timeout() -> None:
    """A peer that stops reading fills the send queue; the link must still time out."""
    stalling = GossipSettings(
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
        anti_entropy_interval=0.2,
        peer_exchange_interval=0.3,
        send_queue_frames=2,
        discover=False,
        shutdown_grace=0.5,
    )
    spec = flat(40)

    async def go() -> None:
        async with BasslineNetwork("target", spec, secret=SECRET, settings=stalling) as target:
            async with NodeServer(target, "127.0.0.1", 0) as server:
                assert server.url is not None
                async with BasslineNetwork(
                    "sloth", spec, secret=SECRET, settings=stalling
                ) as sloth:
                    async with dial(server.url, max_bytes=1 << 22) as link:
                        await handshake(sloth, link, dialer=True)
                        digest = {
                            "t": "digest",
                            "epoch": None,
                            "seq": 0,
                            "head_epoch": sloth.log.epoch,
                            "head": 0,
                            "rewind": False,
                        }
                        await link.send(dump(digest))  # start the target's pusher
                        await wait_until(lambda: bool(target.peers()), 10, "the link")
                        # never read, never send: fill the socket buffers and the queue
                        for i in range(40):
                            await target.update_contact(f"c{i}", "x" * 500_000)
                        await wait_until(  # the writer is stuck: the queue fills and stays full
                            lambda: not target.peers() or target.peers()[0].queue_depth >= 2,
                            10,
                            "a full send queue",
                        )
                        await wait_until(lambda: not target.peers(), 15, "the link to drop")
                assert target.metrics.disconnects["heartbeat-timeout"] == 1

    anyio.run(go)


def test_a_peer_advertising_a_bad_url_does_not_poison_discovery() -> None:
    """The hello's url is only a string on the wire; a bad one must not break later dials."""
    settings = GossipSettings(
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
        anti_entropy_interval=0.2,
        discover=True,
        shutdown_grace=0.5,
    )

    async def go() -> None:
        async with BasslineNetwork("target", SPEC, secret=SECRET, settings=settings) as target:
            async with NodeServer(target, "127.0.0.1", 0) as server:
                assert server.url is not None
                async with BasslineNetwork("liar", SPEC, secret=SECRET, settings=settings) as liar:
                    liar.advertise_url = "not a url"
                    async with dial(server.url, max_bytes=LIMIT) as link:
                        await handshake(liar, link, dialer=True)
                        await wait_until(lambda: bool(target.peers()), 10, "the link")
                    await wait_until(lambda: not target.peers(), 10, "the link to end")
                assert "not a url" not in dict(target.known_peers()).values()
                assert target.metrics.items_rejected["bad-peer-url"] == 1
                # discovery and dialling still work: a link the target dialled ends cleanly
                async with BasslineNetwork("friend", SPEC, secret=SECRET, settings=settings) as f:
                    async with NodeServer(f, "127.0.0.1", 0) as friend_server:
                        assert friend_server.url is not None
                        await target.connect_to_peer(friend_server.url.ws, wait=True)
                await wait_until(lambda: not target.peers(), 10, "the friend to leave")
                await target.update_contact("c1", "still serving")

    anyio.run(go)
