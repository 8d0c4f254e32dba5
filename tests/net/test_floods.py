"""Availability under floods of unauthenticated connections, on real sockets.

The attack from issue 13: about 80 connections that upgrade to WebSocket and never say
hello, each replaced every 4.5 s (just inside ``handshake_timeout``), from many source
addresses. With a cap that refused newcomers, the squatters held every place and a
member with the secret was refused ``busy`` for as long as the flood lasted.
"""

from __future__ import annotations

import base64
import os

import anyio
import anyio.abc
import pytest

from bassline.net import BasslineNetwork, GossipSettings, NodeServer

from .conftest import SECRET, flat, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEC = flat(3)
FLOODERS = 80
REFRESH = 4.5
"""Each flooder replaces its connection this often: workload pacing, not synchronisation."""
MEMBER = GossipSettings(
    heartbeat_interval=0.5,
    heartbeat_timeout=1.5,
    anti_entropy_interval=0.2,
    reconnect_min=0.05,
    reconnect_max=0.5,
    discover=False,
    shutdown_grace=0.5,
)


async def _squat(port: int, source: str) -> None:
    """Upgrade to WebSocket from ``source`` and say nothing; reconnect every REFRESH s."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /gossip HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    while True:
        with anyio.move_on_after(REFRESH):
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port, local_host=source)
            except OSError:
                await anyio.sleep(REFRESH)  # pacing: try again next round
                continue
            async with stream:
                try:
                    await stream.send(request)
                    while True:  # hold the connection; read whatever the node says
                        await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    await anyio.sleep(REFRESH)  # dropped by the node: wait out the round


async def test_a_member_joins_and_converges_while_idle_handshakes_flood_the_node() -> None:
    target_settings = GossipSettings(discover=False, shutdown_grace=0.5)  # default caps
    cap = target_settings.max_pending_handshakes
    assert cap < FLOODERS
    async with BasslineNetwork("target", SPEC, secret=SECRET, settings=target_settings) as target:
        async with NodeServer(target, "127.0.0.1", 0) as server:
            assert server.url is not None
            port = server.url.port
            async with anyio.create_task_group() as flood:
                for i in range(FLOODERS):  # one address each: no per-address cap applies
                    flood.start_soon(_squat, port, f"127.0.0.{2 + i}")
                await wait_until(
                    lambda: target.pending_handshakes == cap, 30, "the flood to fill every place"
                )
                async with BasslineNetwork(
                    "member", SPEC, secret=SECRET, settings=MEMBER, peers=[server.url.ws]
                ) as member:
                    await member.update_contact("c0", "joined during the flood")
                    await wait_until(
                        lambda: target.value("c0", None) == "joined during the flood",
                        30,
                        "the member's write to reach the node",
                    )
                    await target.update_contact("c1", "and back")
                    await wait_until(
                        lambda: member.value("c1", None) == "and back", 30, "the node's write"
                    )
                    assert [p.node for p in target.peers()] == ["member"]
                assert target.pending_handshakes <= cap
                assert target.metrics.refused["busy"] > 0  # the flood was pushed out, not let be
                flood.cancel_scope.cancel()


async def test_one_address_cannot_take_more_than_its_share() -> None:
    """Squatters from one address evict only each other: a member from another address
    never competes with them."""
    settings = GossipSettings(discover=False, shutdown_grace=0.5, max_pending_per_address=4)
    async with BasslineNetwork("target", SPEC, secret=SECRET, settings=settings) as target:
        async with NodeServer(target, "127.0.0.1", 0) as server:
            assert server.url is not None
            port = server.url.port
            async with anyio.create_task_group() as flood:
                for _ in range(20):
                    flood.start_soon(_squat, port, "127.0.0.2")
                await wait_until(lambda: target.metrics.refused["busy"] >= 16, 30, "evictions")
                assert target.pending_handshakes == 4
                async with BasslineNetwork(
                    "member", SPEC, secret=SECRET, settings=MEMBER, peers=[server.url.ws]
                ) as member:
                    await wait_until(lambda: bool(member.peers()), 30, "the member's link")
                flood.cancel_scope.cancel()
