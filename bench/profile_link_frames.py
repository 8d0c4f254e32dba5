"""Event-loop work per gossip frame: three nodes in one process, on loopback.

``a - hub - b``: ``a`` writes UPDATES single updates 6 ms apart (each one delta frame on
``a -> hub`` and one on ``hub -> b``; heartbeats, digests and peer lists are slowed out of
the way), then waits for ``b`` to have the last. Prints, per frame written, the calls of
the event loop's and anyio's hot functions over that phase (cProfile call counts: they do
not depend on the machine's load, as long as each update still makes its own frames), or
with ``--cpu`` the process time per update without the profiler::

    python bench/profile_link_frames.py 300 asyncio
    python bench/profile_link_frames.py 500 trio --cpu
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from pathlib import Path

import anyio
import attrs

sys.path.insert(0, str(Path.cwd()))  # run from a checkout's root: its bassline, its tests

from tests.net.conftest import ONE_SESSION, flat, node, wait_until

HOT = {
    "call_soon",
    "_run_once",
    "sleep",
    "checkpoint",
    "cancel_shielded_checkpoint",
    "get_async_backend",
    "create_event",
    "current_time",
    "wait",
    "set",
}
QUIET = attrs.evolve(
    ONE_SESSION,
    heartbeat_interval=20.0,
    heartbeat_timeout=60.0,
    anti_entropy_interval=30.0,
    peer_exchange_interval=30.0,
)


async def run(updates: int, profile: cProfile.Profile | None) -> tuple[int, float]:
    """(frames written, process seconds) of the update phase."""
    spec = flat(updates + 1)
    async with node("hub", spec, settings=QUIET) as (hub, server):
        assert server.url is not None
        url = server.url.ws
        async with (
            node("a", spec, peers=[url], settings=QUIET) as (a, _),
            node("b", spec, peers=[url], settings=QUIET) as (b, _),
        ):
            await wait_until(lambda: len(hub.peers()) == 2, what="both links")
            await anyio.sleep(0.2)  # the links' first frames
            nets = (a, hub, b)
            before = sum(n.metrics.messages_out.total() for n in nets)
            if profile is not None:
                profile.enable()
            started = time.process_time()
            for i in range(updates):
                await a.update_contact(f"c{i}", f"v{i}")
                await anyio.sleep(0.006)
            last, value = f"c{updates - 1}", f"v{updates - 1}"
            await wait_until(lambda: b.value(last, None) == value, what="the last update")
            cpu = time.process_time() - started
            if profile is not None:
                profile.disable()
            await anyio.sleep(0.1)
            return sum(n.metrics.messages_out.total() for n in nets) - before, cpu


def main() -> None:
    updates, backend = int(sys.argv[1]), sys.argv[2]
    cpu_only = "--cpu" in sys.argv[3:]
    profile = None if cpu_only else cProfile.Profile()
    frames, cpu = anyio.run(run, updates, profile, backend=backend)
    print(f"{backend}: {updates} updates, {frames} frames, {1e6 * cpu / updates:.0f} us/update")
    if profile is None:
        return
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    calls: dict[str, int] = {}
    for (path, _line, name), (_cc, count, *_rest) in stats.items():
        if name in HOT and any(s in path for s in ("asyncio/", "anyio/", "trio/")):
            key = f"{path.split('site-packages/')[-1].split('python3.11/')[-1]}:{name}"
            calls[key] = calls.get(key, 0) + count
    total = sum(v[1] for v in stats.values())
    print(f"  {total / frames:7.0f} function calls per frame")
    for key, count in sorted(calls.items(), key=lambda kv: -kv[1])[:14]:
        print(f"  {count / frames:7.2f} {key}")


if __name__ == "__main__":
    main()
