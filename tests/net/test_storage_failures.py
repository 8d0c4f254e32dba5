"""A node whose storage fails while it applies a peer's delta asks for the delta again.

The receiving side of gossip on a failing store: the delta's contents are not stored
(``apply_errors``), the cursor on the sender's log stays where it was, and the next digest
asks the sender to resend from there (``rewind``), until storage takes it.
"""

from __future__ import annotations

import re

import pytest

from bassline.net import BasslineNetwork
from bassline.runtime import BreakerPolicy, RetryPolicy, StorageBackedRuntime
from bassline.storage import open_storage
from bassline.testing.faults import FaultyStorage
from tests.manual_clock import ManualClock

from .conftest import ONE_SESSION, converged, cursors_at_heads, flat, node, wait_until

pytestmark = pytest.mark.anyio

_OUTAGE = (
    r"connection \(transient\): injected outage: write refused while the storage is down "
    r"\(FaultyStorage seed=1, call \d+\)"
)


async def test_a_delta_storage_refused_is_asked_for_again_and_stored_once_it_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = flat(4)
    clock = ManualClock()  # the keeper's breaker stays open until the test lets time pass
    async with open_storage("memory://") as inner:
        faulty = FaultyStorage(inner, seed=1)
        runtime = StorageBackedRuntime(
            spec,
            faulty,
            node_id="keeper",
            retry=RetryPolicy(initial_delay=0.001, max_delay=0.005, budget=0.05),
            breaker=BreakerPolicy(reset_timeout=0.05, clock=clock),
        )
        async with (
            runtime,
            BasslineNetwork("keeper", spec, runtime=runtime, settings=ONE_SESSION) as keeper,
        ):
            async with node("writer", spec, settings=ONE_SESSION) as (writer, sw):
                assert sw.url is not None
                await keeper.connect_to_peer(sw.url.ws, wait=True)
                faulty.down()
                # applied in memory, its write queued (transient) but not stored in time
                await writer.update_contact("c0", "first")
                await wait_until(lambda: keeper.metrics.apply_errors >= 1, what="c0 refused")
                assert keeper.value("c0") == "first" and runtime.health().breaker == "open"
                # refused outright while the breaker is open: not even applied in memory
                await writer.update_contact("c1", "second")
                await wait_until(lambda: keeper.metrics.apply_errors >= 2, what="c1 refused")
                assert keeper.value("c1", None) is None
                assert keeper.cursor("writer")[1] == 0  # nothing of the writer's log confirmed
                faulty.up()
                clock.advance(1)  # past reset_timeout: the next batch is the breaker's trial
                # the keeper's digests carry "rewind": the writer sends both again
                await wait_until(lambda: converged([writer, keeper]), what="convergence")
                await wait_until(lambda: cursors_at_heads([writer, keeper]), what="cursors")
                assert keeper.cursor("writer") == (writer.log.epoch, writer.log.head)
                await runtime.flush()
                stored = {
                    r.contact: (r.value, r.stamp)
                    for r in (await inner.load_contents("flat")).unwrap()
                }
                assert stored == {
                    cid: (writer.value(cid), writer.contact(cid).stamp) for cid in ("c0", "c1")
                }
                assert runtime.health().ok, runtime.health().reasons
                # all of it on the one link: a rewind is part of the protocol, not a reset
                assert not writer.metrics.disconnects and not keeper.metrics.disconnects
    # each refusal logged once, naming the peer and why storage refused it
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("contents ")]
    assert len(logged) == keeper.metrics.apply_errors
    told = r"contents from writer not stored \(will be asked for again\): "
    assert re.fullmatch(
        f"{told}the update was applied in memory but not stored: {_OUTAGE}", logged[0]
    )
    unavailable = rf"storage is unavailable \(circuit breaker open: {_OUTAGE}\)"
    assert re.fullmatch(f"{told}{unavailable}; the write was not applied", logged[1])
