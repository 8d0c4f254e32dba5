"""A peer's delta applied by the replicator: the newest stamp is checked first, and a delta
holding stamps too far ahead still applies the ones in time."""

from __future__ import annotations

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


class Session:
    """The part of a peer link the replicator reads."""

    def __init__(self) -> None:
        self.peer, self.peer_epoch = "peer", "e" * 16
        self.rewind = False
        self.scan = self.announced = 0


async def test_a_delta_with_a_stamp_too_far_ahead_applies_the_others() -> None:
    async with open_storage("memory://") as storage:
        async with StorageBackedRuntime(flat(3), storage) as runtime:
            metrics = NetMetrics()
            replicator = Replicator("node", GossipSettings(), metrics, ChangeLog())
            replicator.attach(runtime)
            now = runtime.network.clock.tick().hlc
            far = now + (3_600_000 << 16)  # an hour ahead: beyond the allowed drift
            items = (
                ("c0", "a", Stamp(now + 1, "peer")),
                ("c1", "b", Stamp(far, "peer")),
                ("c2", "c", Stamp(now + 2, "peer")),
            )
            session = Session()
            await replicator.apply_delta(session, Delta("f" * 16, 0, 3, items))
            assert runtime.value("c0") == "a" and runtime.value("c2") == "c"
            assert runtime.value("c1", None) is None
            assert metrics.items_rejected["future-stamp"] == 1
            assert session.rewind  # not complete: the peer is asked again later
            assert runtime.network.clock.last < far
