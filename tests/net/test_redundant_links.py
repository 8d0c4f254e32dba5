"""Where links form cycles, a change reaches a node over several of them.

A node never sends a change back to the peer it came from; a peer that sends the same
content over a second link holds it too, and is not sent it either. Fake peers on real
links (they pass the handshake, then send hand-made frames) make the order certain: the
node starts sending to a peer only after that peer's first digest.

The byte counters add up across links: every link's writer adds to one counter while
others wait on their sockets, so what the hub says it sent is what its peers received.
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest

from bassline.clock import HybridLogicalClock
from bassline.net import BasslineNetwork
from bassline.net.handshake import handshake
from bassline.net.protocol import dump, encode_delta
from bassline.net.transport import Transport, dial

from .conftest import ONE_SESSION, flat, node, wait_until

pytestmark = pytest.mark.anyio

SPEC = flat(4)


async def _deltas_until_passed(link: Transport, head: int) -> list[dict[str, Any]]:
    """The deltas the node sends until one reaches its log's ``head``."""
    seen: list[dict[str, Any]] = []
    with anyio.fail_after(30):
        while True:
            frame = orjson.loads(await link.receive())
            if frame.get("t") == "delta":
                seen.append(frame)
                if frame["to"] >= head:
                    return seen


async def test_content_a_second_peer_sent_is_not_sent_back_to_it() -> None:
    clock = HybridLogicalClock("writer")
    stamp = clock.tick()
    async with node("hub", SPEC, settings=ONE_SESSION) as (hub, server):
        assert server.url is not None
        async with (
            BasslineNetwork("m1", SPEC, settings=ONE_SESSION) as m1,
            BasslineNetwork("m2", SPEC, settings=ONE_SESSION) as m2,
            dial(server.url, max_bytes=1 << 22) as link1,
            dial(server.url, max_bytes=1 << 22) as link2,
        ):
            await handshake(m1, link1, dialer=True)
            await handshake(m2, link2, dialer=True)
            item = [("c0", "same", stamp)]
            await link1.send(dump(encode_delta(m1.log.epoch, 0, 1, item)))
            await wait_until(lambda: hub.value("c0") == "same", what="c0 applied")
            # m2 sends the very same content: the hub holds it already
            await link2.send(dump(encode_delta(m2.log.epoch, 0, 1, item)))
            await wait_until(lambda: hub.metrics.items_redundant == 1, what="the copy seen")
            # a change of the hub's own after it, so a delta must come
            await hub.update_contact("c1", "own")
            head = hub.log.head
            digest = {"t": "digest", "epoch": hub.log.epoch, "seq": 0}
            digest |= {"head_epoch": m2.log.epoch, "head": 1, "rewind": False}
            await link2.send(dump(digest))
            sent = [row[0] for d in await _deltas_until_passed(link2, head) for row in d["items"]]
            assert sent == ["c1"]  # c0 came from m2 too: never sent back to it
            assert hub.metrics.items_redundant == 1


async def test_bytes_sent_on_every_link_are_all_counted() -> None:
    async with (
        node("hub", SPEC, settings=ONE_SESSION) as (hub, server),
    ):
        assert server.url is not None
        url = server.url.ws
        async with (
            node("a", SPEC, peers=[url], settings=ONE_SESSION) as (a, _),
            node("b", SPEC, peers=[url], settings=ONE_SESSION) as (b, _),
            node("c", SPEC, peers=[url], settings=ONE_SESSION) as (c, _),
        ):
            leaves = (a, b, c)
            await wait_until(lambda: len(hub.peers()) == 3, what="three links")
            for k in range(200):  # many frames, each written to three links at once
                await hub.update_contact(f"c{k % 4}", f"v{k}")
            await wait_until(lambda: all(n.digest() == hub.digest() for n in leaves))
            # the leaves link only to the hub: what they received is what it sent, once no
            # frame is on its way (polled: heartbeats and digests keep coming)
            await wait_until(
                lambda: hub.metrics.bytes_out - sum(n.metrics.bytes_in for n in leaves) == 0,
                what="bytes out == bytes in",
            )
            assert hub.metrics.bytes_out == sum(n.metrics.bytes_in for n in leaves)
