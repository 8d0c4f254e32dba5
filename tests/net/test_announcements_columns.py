"""A peer's announcements noted a column at a time (``Replicator._announced``).

A delta's ``have`` rows mix changes this node holds at the announced stamps (the peer is
noted as holding them: not sent to it), changes it lacks (wanted: grafted unless they come
over another link) and stale ones (neither). Those held are noted together, the rest one
by one; either way the outcome is the one the protocol describes (docs/protocol.md, *Eager
and lazy push*).
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from bassline.clock import Stamp
from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.protocol import Delta
from bassline.net.replicator import Replicator
from bassline.net.settings import GossipSettings
from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage

from .conftest import flat

pytestmark = pytest.mark.anyio

HOLDER = ("peer", "f" * 16)


class Link:
    """What a session shows the replicator, noting what is wanted."""

    def __init__(self) -> None:
        self.peer, self.peer_epoch, self.peer_store = HOLDER[0], HOLDER[1], None
        self.scan = self.announced = 0
        self.rewind = False
        self.lazy: set[str] = set()
        self.quiet: set[str] = set()
        self.wanted: dict[str, Stamp] = {}

    def want(self, contact: str, stamp: Stamp) -> None:
        self.wanted[contact] = stamp


@pytest.mark.parametrize("held", [(0, 1, 2, 3), (0, 3), ()])
async def test_announcements_held_lacked_and_stale_are_each_noted_as_the_protocol_says(
    held: tuple[int, ...],
) -> None:
    """Contacts c0-c3 hold values at stamps (100 + k, "a"); announced are the contacts in
    ``held`` at their stamps (held here), the others at a newer stamp (lacked here), c4
    (no content here) at any stamp (lacked) and c5 at an older stamp than its own (stale)."""
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(open_storage("memory://"))
        runtime = await stack.enter_async_context(
            StorageBackedRuntime(flat(6), storage, node_id="n")
        )
        replicator = Replicator("n", GossipSettings(), NetMetrics(), ChangeLog())
        replicator.attach(runtime)
        own = {f"c{k}": Stamp(100 + k, "a") for k in (0, 1, 2, 3, 5)}
        await runtime.apply([(cid, cid, stamp) for cid, stamp in own.items()])
        have = [(f"c{k}", own[f"c{k}"] if k in held else Stamp(200 + k, "b")) for k in (0, 1, 2, 3)]
        have += [("c4", Stamp(50, "b")), ("c5", Stamp(1, "b"))]
        link = Link()
        delta = Delta("e" * 16, 0, 0, (), (), tuple(have))
        await replicator.apply_delta(link, delta)  # type: ignore[arg-type]
        lacked = {cid: stamp for cid, stamp in have[:4] if int(cid[1:]) not in held}
        assert link.wanted == {**lacked, "c4": Stamp(50, "b")}
        for k in range(6):
            noted = HOLDER in set(replicator.log.holders(f"c{k}"))
            assert noted == (k in held), f"c{k}"
