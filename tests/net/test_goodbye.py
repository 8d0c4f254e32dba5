"""How a link ends when a node leaves: a goodbye to each peer, with its reason, counted.

Each peer learns why the link ended (``peer-left``, and the reason the node gave, as long
as the protocol allows) rather than seeing a lost connection; the leaving node counts one
``bye`` per link.
"""

from __future__ import annotations

import logging

import pytest

from bassline.net.protocol import MAX_REASON

from .conftest import ONE_SESSION, flat, node, wait_until

pytestmark = pytest.mark.anyio

SPEC = flat(2)


async def test_a_node_that_leaves_says_goodbye_to_each_peer_with_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bassline.net")
    reason = "maintenance " + "x" * MAX_REASON  # longer than a bye may carry
    async with node("hub", SPEC, settings=ONE_SESSION) as (hub, server):
        assert server.url is not None
        url = server.url.ws
        async with (
            node("a", SPEC, peers=[url], settings=ONE_SESSION) as (a, _),
            node("b", SPEC, peers=[url], settings=ONE_SESSION) as (b, _),
        ):
            await wait_until(lambda: len(hub.peers()) == 2, what="both links")
            await hub.close_inbound(reason)
            assert hub.metrics.messages_out["bye"] == 2  # one per link
            assert hub.metrics.disconnects == {"stopped": 2}  # why, as the hub counts it

            def both_told() -> bool:
                return all(n.metrics.disconnects["peer-left"] == 1 for n in (a, b))

            await wait_until(both_told, what="both peers told why")
            assert a.metrics.disconnects == b.metrics.disconnects == {"peer-left": 1}
            # the reason arrives cut to the protocol's limit, not refused as a bad frame
            assert not a.metrics.rejected and not b.metrics.rejected
            closed = [
                r.getMessage()
                for r in caplog.records
                if r.getMessage().startswith("link to hub closed")
            ]
            told = f"link to hub closed (peer-left: hub said goodbye: {reason[:MAX_REASON]})"
            assert closed == [told, told]
