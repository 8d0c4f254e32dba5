"""A hello or auth frame after the handshake (a replay) ends the link with its own refusal.

A fake peer on a real link passes the handshake, then sends the frame again: the node
refuses it with a code and reason of its own (``refuse`` frame, ``rejected`` counter) and
closes the link.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import anyio
import orjson
import pytest

from bassline.clock import HybridLogicalClock
from bassline.net import BasslineNetwork
from bassline.net.handshake import handshake
from bassline.net.protocol import dump, encode_delta
from bassline.net.transport import ConnectionClosed, dial

from .conftest import ONE_SESSION, flat, node, wait_until

pytestmark = pytest.mark.anyio

SPEC = flat(1)


async def _refusal_after(frame: dict[str, Any]) -> tuple[dict[str, Any], BasslineNetwork]:
    async with node("target", SPEC, settings=ONE_SESSION) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", SPEC, settings=ONE_SESSION) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                hello = await handshake(mallory, link, dialer=True)
                assert hello.node == "target"
                await link.send(dump(frame))
                with anyio.fail_after(60):
                    while True:
                        try:
                            got = orjson.loads(await link.receive())
                        except ConnectionClosed:
                            raise AssertionError("closed without a refusal") from None
                        if got["t"] == "refuse":
                            break
            await wait_until(lambda: not target.peers(), what="the link closed")
            return got, target


async def test_a_replayed_hello_is_refused_as_such() -> None:
    replay = {
        "t": "hello",
        "v": 1,
        "node": "mallory",
        "bassline": SPEC.hash,
        "nonce": "0" * 32,
        "epoch": "0" * 16,
        "auth": "hmac-sha256",
        "url": None,
        "groups": [],
    }
    refusal, target = await _refusal_after(replay)
    assert refusal == {
        "t": "refuse",
        "code": "unexpected-hello",
        "reason": "hello after the handshake (a replayed hello?)",
    }
    assert target.metrics.rejected == {"unexpected-hello": 1}


async def test_a_replayed_auth_is_refused_as_such() -> None:
    refusal, target = await _refusal_after({"t": "auth", "proof": "0" * 64})
    assert refusal == {
        "t": "refuse",
        "code": "unexpected-auth",
        "reason": "auth after the handshake",
    }
    assert target.metrics.rejected == {"unexpected-auth": 1}


async def test_a_refusal_from_the_peer_is_counted_and_logged_with_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bassline.net")
    async with node("target", SPEC, settings=ONE_SESSION) as (target, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", SPEC, settings=ONE_SESSION) as mallory:
            async with dial(server.url, max_bytes=1 << 22) as link:
                await handshake(mallory, link, dialer=True)
                refusal = {"t": "refuse", "code": "not-welcome", "reason": "go away"}
                await link.send(dump(refusal))
                with anyio.fail_after(60):  # read to the end: the close is answered
                    with contextlib.suppress(ConnectionClosed):
                        while True:
                            await link.receive()
                await wait_until(lambda: not target.peers(), what="the link closed")
        assert target.metrics.refused_by_peer == {"not-welcome": 1}
        logged = [r.getMessage() for r in caplog.records if "mallory" in r.getMessage()]
        assert "peer mallory refused this node: go away" in logged
        assert "link to mallory closed (refused-by-peer: go away)" in logged


async def test_a_delta_naming_a_contact_this_network_lacks_is_refused() -> None:
    stamp = HybridLogicalClock("mallory").tick()
    delta = encode_delta("0" * 16, 0, 1, [("nope", 1, stamp)])
    refusal, target = await _refusal_after(delta)
    assert refusal == {
        "t": "refuse",
        "code": "unknown-contact",
        "reason": "delta names contact 'nope', which this Bassline does not have",
    }
    assert target.metrics.rejected == {"unknown-contact": 1}


async def test_bad_frames_and_refusals_from_two_peers_are_each_counted_logged_and_end_their_link(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bassline.net")
    async with node("target", SPEC, settings=ONE_SESSION) as (target, server):
        assert server.url is not None
        ended = 0
        for frame in (
            {"t": "auth", "proof": "0" * 64},
            {"t": "refuse", "code": "x", "reason": "no"},
        ):
            for name in ("mallory", "trudy"):
                async with BasslineNetwork(name, SPEC, settings=ONE_SESSION) as peer:
                    async with dial(server.url, max_bytes=1 << 22) as link:
                        await handshake(peer, link, dialer=True)
                        await link.send(dump(frame))
                        with anyio.fail_after(60):  # read to the end: the close is answered
                            with contextlib.suppress(ConnectionClosed):
                                while True:
                                    await link.receive()
                ended += 1
                await wait_until(
                    lambda n=ended: sum(target.metrics.disconnects.values()) == n,
                    what="the link counted as ended",
                )
    assert target.metrics.rejected == {"unexpected-auth": 2}
    assert target.metrics.refused_by_peer == {"x": 2}
    assert target.metrics.disconnects == {"protocol-violation": 2, "refused-by-peer": 2}
    assert target.metrics.messages_out["refuse"] == 2  # to each peer that sent a bad frame
    logged = [r.getMessage() for r in caplog.records]
    for name in ("mallory", "trudy"):
        assert f"peer {name} sent a bad frame (unexpected-auth): auth after the handshake" in logged
        assert f"link to {name} closed (protocol-violation: auth after the handshake)" in logged
        assert f"link to {name} closed (refused-by-peer: no)" in logged


async def test_a_long_unknown_contact_id_is_cut_to_80_characters_in_the_refusal() -> None:
    stamp = HybridLogicalClock("mallory").tick()
    delta = encode_delta("0" * 16, 0, 1, [("n" * 200, 1, stamp)])
    refusal, _ = await _refusal_after(delta)
    assert (
        refusal["reason"] == f"delta names contact {'n' * 80!r}, which this Bassline does not have"
    )
