"""Instructions per engine step or update, and per stored record, counted by valgrind.

Run: python bench/bench_instructions.py [--python PY] [--only NAME ...]

Runs each workload twice under ``valgrind --tool=callgrind`` (small and large, with
``PYTHONHASHSEED=0`` so dict layouts repeat) and prints the difference divided by the
extra work. The engine workloads are bench_engine.py's, on networks small enough for
valgrind: (a) one update at the head of a 20,000-contact chain, (b) one update at the
corner of a 100x100 grid, (d) one update at the head of a 10,000-contact chain in one
group (each 1 against 3 updates on the same network, so building it cancels out: per
step), and (c) updates on random contacts of 1,000 disjoint 10-chains (1,000 against
6,000: per update). ``memory-write`` is per record of a memory ``storage.write`` in
1,000-record batches (bench_storage.py's records). ``runtime-buffered`` is a buffered
runtime update on memory (bench_runtime.py's buffered run; ``-nofollow`` without following
the change feed). ``runtime-many-distinct`` is a durable ``update_many`` of 100 distinct
contacts on memory (bench_network.py's baseline), per update. ``engine-unwired`` and ``runtime-unwired`` are the two halves of
bench_runtime.py's ``--breakdown``: a bare engine update of an unwired contact and a
buffered runtime update of one (nothing flushed), whose difference is the runtime's own
work per update; with both, the ratio is printed. ``runtime-durable-fs`` and
``runtime-durable-pg`` are durable single-writer updates (bench_durable_latency.py's
runtime side), per update; ``raw-durable-pg`` is that benchmark's raw side (a psycopg
one-row upsert + ``COMMIT``), and with both the ratio is printed. ``restart-fill``, ``restart-start`` and ``restart-load`` store
contents through a runtime on memory storage (bench_restart.py's fill), then nothing, a
runtime's start over them, or ``load_contents`` alone; with all three, the start's and
the load's instructions per content and their ratio are printed. ``replica-hub-receive`` and
``replica-hub-send`` are a hub node of four links receiving its peers' deltas, and also
building its own (see ``_hub``); with both, the building per content is printed. Counts are the same on a busy machine
as on a quiet one (to about 0.1%), so two versions can be compared while other work runs:
``--python`` names the other checkout's interpreter (this bench file is run with it).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))


def engine_c(updates: int) -> None:
    """``updates`` updates of workload (c)."""
    from bench_engine import chain_spec, update_verb

    from bassline import Network
    from bassline.spec import parse_spec

    data: dict[str, list[dict[str, str]]] = {"contacts": [], "wires": []}
    for c in range(1000):
        part = chain_spec(10, prefix=f"k{c}-")
        data["contacts"] += part["contacts"]
        data["wires"] += part["wires"]
    net = Network(parse_spec(data))
    rng = random.Random(7)
    targets = [f"k{rng.randrange(1000)}-{rng.randrange(10)}" for _ in range(updates)]
    update = update_verb(net)
    for i, t in enumerate(targets):
        update(t, i)


def _repeat_updates(spec_data: dict[str, Any], start: str, updates: int) -> None:
    """``updates`` updates of ``start`` on one network built from ``spec_data``."""
    from bench_engine import update_verb

    from bassline import Network
    from bassline.spec import parse_spec

    update = update_verb(Network(parse_spec(spec_data)))
    for value in range(1, updates + 1):
        update(start, value)


def engine_a(updates: int) -> None:
    """Workload (a) on a 20,000-contact chain: ``updates`` updates at its head."""
    from bench_engine import chain_spec

    _repeat_updates(chain_spec(20_000), "c0", updates)


def engine_b(updates: int) -> None:
    """Workload (b) on a 100x100 grid: ``updates`` updates at a corner."""
    from bench_engine import grid_spec

    _repeat_updates(grid_spec(100), "g0-0", updates)


def engine_d(updates: int) -> None:
    """Workload (d): a 10,000-contact chain in one group, ``updates`` updates at its head."""
    from bench_engine import chain_spec

    data = chain_spec(10_000, group="g")
    data["groups"] = [{"id": "g"}]
    _repeat_updates(data, "c0", updates)


def _runtime_buffered(updates: int, follow: bool) -> None:
    """``updates`` buffered runtime updates of distinct contacts of a 12,000-contact
    network on memory storage (bench_runtime.py's buffered run), then a flush; ``follow``
    False opens the runtime with ``follow=False`` (code before the change feed has no such
    option, and nothing to follow)."""
    import inspect

    from bench_runtime import spec_of

    from bassline.runtime import StorageBackedRuntime
    from bassline.storage import open_storage

    spec = spec_of(12_000, "rt")
    takes_follow = "follow" in inspect.signature(StorageBackedRuntime).parameters
    options = {} if follow or not takes_follow else {"follow": False}

    async def run() -> None:
        async with open_storage("memory://") as storage:
            async with StorageBackedRuntime(
                spec, storage, durability="buffered", **options
            ) as runtime:
                for i in range(updates):
                    await runtime.update_contact(f"c{i}", [i, "payload"])
                await runtime.flush()

    anyio.run(run)


def runtime_buffered(updates: int) -> None:
    """Buffered runtime updates on memory storage, following its change feed (the default)."""
    _runtime_buffered(updates, True)


def runtime_buffered_nofollow(updates: int) -> None:
    """The same with ``follow=False``."""
    _runtime_buffered(updates, False)


def memory_write(batches: int) -> None:
    """``batches`` writes of 1,000 records to memory storage (the records of 60 batches
    are made whatever ``batches`` is, so making them cancels out)."""
    from bench_storage import SPEC, make_batches

    from bassline.storage import NetworkRecord, open_storage

    async def run() -> None:
        async with open_storage("memory://") as storage:
            (await storage.write([NetworkRecord(SPEC)])).unwrap()
            for batch in make_batches(60_000, 1000)[:batches]:
                (await storage.write(batch)).unwrap()

    anyio.run(run)


def runtime_many_distinct(batches: int) -> None:
    """``batches`` durable ``update_many`` batches of 100 distinct contacts of a
    10,000-contact network on memory storage, each value ~100 bytes of JSON text: the
    baseline of bench_network.py's ``procs-10-distinct`` (one node, no peers)."""
    from bench_network import flat_spec, workload

    from bassline.runtime import StorageBackedRuntime
    from bassline.storage import open_storage

    spec = flat_spec(10_000)
    work = workload(spec, 10_000, 100, distinct=True)[:batches]

    async def run() -> None:
        async with open_storage("memory://") as storage:
            async with StorageBackedRuntime(spec, storage, node_id="solo") as runtime:
                for batch in work:
                    await runtime.update_many(batch)

    anyio.run(run)


UNWIRED = 6_000
"""Contacts of the unwired spec of the runtime breakdown (whatever the number of updates,
so building it cancels)."""


def engine_unwired(updates: int) -> None:
    """``updates`` bare ``Network.update_contact`` on distinct unwired contacts (the engine
    run of bench_runtime.py's ``--breakdown``)."""
    from bassline import Network
    from bassline.spec import parse_spec

    net = Network(parse_spec({"id": "u", "contacts": [{"id": f"c{i}"} for i in range(UNWIRED)]}))
    update = net.update_contact
    for i in range(updates):
        update(f"c{i}", [i, "payload"])


class _Stop(Exception):
    """Leaves the runtime without its closing flush."""


def runtime_unwired(updates: int) -> None:
    """``updates`` buffered ``update_contact`` through a runtime on memory storage, on the
    same unwired contacts, with a batch larger than the run and no flush (the runtime is left
    by an exception, which skips the closing flush): the engine run plus the runtime's own
    work per update."""
    from bassline.runtime import StorageBackedRuntime
    from bassline.spec import parse_spec
    from bassline.storage import open_storage

    spec = parse_spec({"id": "u", "contacts": [{"id": f"c{i}"} for i in range(UNWIRED)]})

    async def run() -> None:
        async with open_storage("memory://") as storage:
            try:
                async with StorageBackedRuntime(
                    spec,
                    storage,
                    durability="buffered",
                    queue_bound=10 * UNWIRED,
                    batch_size=10 * UNWIRED,
                    flush_interval=3600,
                ) as runtime:
                    write = runtime.update_contact
                    for i in range(updates):
                        await write(f"c{i}", [i, "payload"])
                    raise _Stop
            except _Stop:
                pass

    anyio.run(run)


def engine_apply(items: int) -> None:
    """``items`` remote contents applied by ``Network.apply`` in batches of 100 to distinct
    unwired contacts, each with the write reference a peer's delta shares among its items
    (the engine's part of receiving a delta)."""
    from bassline import Network
    from bassline.clock import Stamp
    from bassline.engine.carried import CarriedWrite
    from bassline.spec import parse_spec

    net = Network(parse_spec({"id": "u", "contacts": [{"id": f"c{i}"} for i in range(UNWIRED)]}))
    write = CarriedWrite("http")
    for start in range(0, items, 100):
        net.apply(
            [
                (f"c{i}", "x" * 88 + f"{i:012d}", Stamp(10**15 + i, "peer"), write)
                for i in range(start, start + 100)
            ]
        )


REPLICA = 4_000
"""Contacts of the replica workloads' spec (whatever the number of items, so building it
cancels)."""


def _replica(items: int, kind: str) -> None:
    """A node's gossip work on ``items`` distinct contents of 100 bytes written on a peer
    (``update_many`` via ``http``, 100 at a time): ``send``, the peer building its delta
    frames (``Replicator.build_delta``, 100 items a frame, values and ``["w", "http"]``
    whys); ``send-second``, the same frames built again for a second peer (made ready
    to send for the first: what a node does for each further link); ``send-lazy``, the
    frames built again for a second peer that pruned the writer (every change announced); ``send-quiet``, the same for a peer that pruned it quietly (every change left out); ``receive``, those frames also decoded (``parse_frame``) and applied
    (``Replicator.apply_delta``) by a durable runtime on memory storage, contents it does
    not hold; ``redundant``, the same frames received and applied again from a second
    peer (contents it holds: dropped before the engine). Each counts the steps before it
    too; their differences are the receiving node's work. Both nodes are built first, then
    the collector is set as ``bassline start`` sets it (``settle_heap``: startup objects
    frozen, the youngest generation 10,000 objects)."""
    from bassline.cli.heap import settle_heap
    from bassline.net.changelog import ChangeLog
    from bassline.net.gossip_metrics import NetMetrics
    from bassline.net.protocol import Delta, parse_frame
    from bassline.net.replicator import Replicator
    from bassline.net.settings import GossipSettings
    from bassline.runtime import StorageBackedRuntime
    from bassline.spec import parse_spec
    from bassline.storage import open_storage

    spec = parse_spec({"id": "r", "contacts": [{"id": f"c{i}"} for i in range(REPLICA)]})
    settings = GossipSettings(max_delta_items=100)

    class Link:
        def __init__(self, peer: str, peer_epoch: str) -> None:
            self.peer, self.peer_epoch, self.peer_store = peer, peer_epoch, None
            self.scan = self.announced = 0
            self.rewind = False
            self.lazy: set[str] = set()
            self.quiet: set[str] = set()
            self.wanted: dict[str, Any] = {}

        def want(self, contact: str, stamp: Any) -> None:
            self.wanted[contact] = stamp  # as a session notes it (the grafter not run)

    async def node(name: str, storage_name: str) -> tuple[StorageBackedRuntime, Replicator]:
        storage = await stack.enter_async_context(open_storage(f"memory://{storage_name}"))
        runtime = await stack.enter_async_context(
            StorageBackedRuntime(spec, storage, node_id=name, durability="durable")
        )
        replicator = Replicator(name, settings, NetMetrics(), ChangeLog())
        replicator.attach(runtime)
        return runtime, replicator

    from contextlib import AsyncExitStack

    stack = AsyncExitStack()

    async def run() -> None:
        async with stack:
            sender, out = await node("peer", "peer")
            _, into = await node("node", "node")
            settle_heap()  # the collector as a node runs it (bassline start does this)
            for start in range(0, items, 100):
                batch = {f"c{i}": "x" * 88 + f"{i:012d}" for i in range(start, start + 100)}
                await sender.update_many(batch, via="http")
            frames: list[bytes] = []
            built: dict[str, list[bytes]] = {}
            lazy = kind in ("send-lazy", "send-quiet") or kind.startswith("announced")
            for name in ("node", "second")[: 1 if kind in ("send", "receive", "redundant") else 2]:
                link = Link(name, "e" * 16)
                if lazy and name == "second":
                    link.lazy = {"peer"}  # it pruned the writer: every change announced
                    if kind == "send-quiet":
                        link.quiet = {"peer"}  # quietly: every change left out
                frames = built[name] = []
                while link.scan < out.log.head:
                    frame, _, link.scan = out.build_delta(link)
                    if frame is not None:
                        link.announced = link.scan
                        frames.append(frame)
            if kind.startswith("send"):
                return
            if kind == "announced-lacking":  # only the announcements: every change wanted
                links = [("other", built["second"])]
            elif kind == "announced-held":  # the values, then their announcements
                links = [("peer", built["node"]), ("other", built["second"])]
            else:
                links = [("peer", frames), ("other", frames)][: 1 if kind == "receive" else 2]
            for peer, sent in links:
                session = Link(peer, "f" * 16)
                for frame in sent:
                    delta = parse_frame(frame, settings.max_frame_bytes)
                    assert isinstance(delta, Delta)
                    await into.apply_delta(session, delta)  # type: ignore[arg-type]

    anyio.run(run)


HUB_PEERS = ("p1", "p2", "p3", "p4")
HUB_ORIGINS = ("hub", "o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8")


def _hub(items: int, send: bool) -> None:
    """A hub node of a ten-node run: its peers' deltas applied and, with ``send``, its
    own deltas built for its four links (``Replicator.build_delta``, the run's settings:
    up to 2,000 items a frame). ``items`` contents of 100 bytes in batches of 100, the
    batches' origins in turn the hub itself (``update_many`` via ``http``) and eight
    others, each of those come over one of the links (``p1``-``p4``, two each, sent on
    to the next link and pruned quietly by the other two, as the link-state table
    prunes a tree); after every fourth batch each link builds until it is caught up,
    the first a different link each time (a quiet link reads a change first half of
    the time). ``replica-hub-send`` minus ``replica-hub-receive``: the hub's sending work
    per content it holds."""
    from contextlib import AsyncExitStack

    from bassline.cli.heap import settle_heap
    from bassline.net.changelog import ChangeLog
    from bassline.net.gossip_metrics import NetMetrics
    from bassline.net.protocol import Delta, parse_frame
    from bassline.net.replicator import Replicator
    from bassline.net.settings import GossipSettings
    from bassline.runtime import StorageBackedRuntime
    from bassline.spec import parse_spec
    from bassline.storage import open_storage

    spec = parse_spec({"id": "r", "contacts": [{"id": f"c{i}"} for i in range(REPLICA)]})
    settings = GossipSettings(max_delta_items=2000)

    class Link:
        def __init__(self, peer: str, peer_epoch: str) -> None:
            self.peer, self.peer_epoch, self.peer_store = peer, peer_epoch, None
            self.scan = self.announced = 0
            self.rewind = False
            self.lazy: set[str] = set()
            self.quiet: set[str] = set()

        def want(self, contact: str, stamp: Any) -> None:
            raise AssertionError(contact)

    stack = AsyncExitStack()

    async def node(name: str) -> tuple[StorageBackedRuntime, Replicator]:
        storage = await stack.enter_async_context(open_storage(f"memory://{name}"))
        runtime = await stack.enter_async_context(
            StorageBackedRuntime(spec, storage, node_id=name, durability="durable")
        )
        replicator = Replicator(name, settings, NetMetrics(), ChangeLog())
        replicator.attach(runtime)
        return runtime, replicator

    async def run() -> None:
        async with stack:
            hub, out = await node("hub")
            senders = {origin: await node(origin) for origin in HUB_ORIGINS[1:]}
            settle_heap()
            via = {o: HUB_PEERS[k % 4] for k, o in enumerate(HUB_ORIGINS[1:])}
            on = {o: HUB_PEERS[(k + 1) % 4] for k, o in enumerate(HUB_ORIGINS[1:])}
            links = [Link(p, "f" * 16) for p in HUB_PEERS]  # the peers that send
            for link in links:
                link.lazy = {o for o in via if link.peer not in (via[o], on[o])}
                link.quiet = set(link.lazy)
            sessions = {p: Link(p, "f" * 16) for p in HUB_PEERS}
            for b, start in enumerate(range(0, items, 100)):
                batch = {f"c{i}": "x" * 88 + f"{i:012d}" for i in range(start, start + 100)}
                origin = HUB_ORIGINS[b % len(HUB_ORIGINS)]
                if origin == "hub":
                    await hub.update_many(batch, via="http")
                else:
                    runtime, sender = senders[origin]
                    await runtime.update_many(batch, via="http")
                    source = Link("hub", "h" * 16)
                    source.scan = sender.log.head - 100
                    frame, _, _ = sender.build_delta(source)
                    assert frame is not None
                    delta = parse_frame(frame, settings.max_frame_bytes)
                    assert isinstance(delta, Delta)
                    await out.apply_delta(sessions[via[origin]], delta)  # type: ignore[arg-type]
                if send and (b % 4 == 3 or start + 100 >= items):
                    for link in links[b % 4 :] + links[: b % 4]:
                        while link.scan < out.log.head:
                            _, _, link.scan = out.build_delta(link)  # type: ignore[arg-type]

    anyio.run(run)


def replica_hub_receive(items: int) -> None:
    """See :func:`_hub`."""
    _hub(items, False)


def replica_hub_send(items: int) -> None:
    """See :func:`_hub`."""
    _hub(items, True)


def replica_send(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "send")


def replica_send_second(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "send-second")


def replica_send_lazy(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "send-lazy")


def replica_send_quiet(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "send-quiet")


def replica_announced_held(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "announced-held")


def replica_announced_lacking(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "announced-lacking")


def replica_receive(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "receive")


def replica_redundant(items: int) -> None:
    """See :func:`_replica`."""
    _replica(items, "redundant")


def _durable(updates: int, url: str, **options: Any) -> None:
    """``updates`` durable ``update_contact`` of distinct contacts by one writer through a
    runtime on storage ``url`` (bench_durable_latency.py's runtime side), after 20 first
    ones (the first write of a network makes its tables)."""
    from bench_durable_latency import spec_of

    from bassline.runtime import StorageBackedRuntime
    from bassline.storage import open_storage

    async def run() -> None:
        async with open_storage(url, **options) as storage:
            async with StorageBackedRuntime(
                spec_of(updates + 20, "d"), storage, durability="durable"
            ) as runtime:
                for i in range(updates + 20):
                    await runtime.update_contact(f"c{i}", [i, "payload"])
            (await storage.delete_network("d")).unwrap()

    anyio.run(run)


def runtime_durable_fs(updates: int) -> None:
    """Durable single-writer updates on fs, each appended on the event loop thread (as
    while syncs are fast: ``inline_sync_ms=1000`` keeps a slow sync under valgrind from
    sending writes through a worker thread, which would make the count vary)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _durable(updates, f"file://{tmp}?inline_sync_ms=1000")


def runtime_durable_pg(updates: int) -> None:
    """Durable single-writer updates on PostgreSQL (``BASSLINE_TEST_POSTGRES_URL``, in a
    fresh schema dropped afterwards)."""
    import uuid

    import psycopg

    base = os.environ.get("BASSLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")
    schema = f"instr_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        _durable(updates, f"{base}{'&' if '?' in base else '?'}schema={schema}", migrate=True)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def raw_durable_pg(updates: int) -> None:
    """bench_durable_latency.py's raw side: a psycopg one-row upsert + ``COMMIT`` per
    update (``BASSLINE_TEST_POSTGRES_URL``, in a fresh schema dropped afterwards), after
    20 first ones."""
    from bench_durable_latency import pg_raw, postgres_side

    async def run() -> None:
        async with postgres_side() as (schema, factory):
            async with factory():  # makes the tables
                pass
            async with pg_raw(schema, "raw") as (write, _):
                for i in range(updates + 20):
                    write(i)

    anyio.run(run)


def _restart(contents: int, then: str) -> None:
    """Store ``contents`` contents through a runtime on memory storage (bench_restart.py's
    fill), then open a fresh runtime over them (``then`` "start"), call ``load_contents``
    alone ("load"), or nothing ("fill")."""
    from bench_restart import fill, spec_of

    from bassline.runtime import StorageBackedRuntime
    from bassline.storage import open_storage

    spec = spec_of(contents)
    anyio.run(fill, "memory://restart", spec)

    async def run() -> None:
        async with open_storage("memory://restart") as storage:
            if then == "start":
                async with StorageBackedRuntime(spec, storage, durability="buffered"):
                    pass
            elif then == "load":
                (await storage.load_contents(spec.id)).unwrap()

    anyio.run(run)


def restart_start(contents: int) -> None:
    """See :func:`_restart`: the fill and a start."""
    _restart(contents, "start")


def restart_load(contents: int) -> None:
    """See :func:`_restart`: the fill and ``load_contents`` alone."""
    _restart(contents, "load")


def restart_fill(contents: int) -> None:
    """See :func:`_restart`: the fill alone."""
    _restart(contents, "fill")


WORKLOADS: dict[str, tuple[Callable[[int], None], int, int, int, str]] = {
    # name: (run, small size, large size, work per unit of size, unit)
    "engine-a": (engine_a, 1, 3, 20_000, "step"),
    "engine-b": (engine_b, 1, 3, 10_000, "step"),
    "engine-c": (engine_c, 1_000, 6_000, 1, "update"),
    "engine-d": (engine_d, 1, 3, 10_000, "step"),
    "memory-write": (memory_write, 10, 60, 1_000, "record"),
    "runtime-buffered": (runtime_buffered, 2_000, 12_000, 1, "update"),
    "runtime-buffered-nofollow": (runtime_buffered_nofollow, 2_000, 12_000, 1, "update"),
    "runtime-many-distinct": (runtime_many_distinct, 20, 100, 100, "update"),
    "engine-unwired": (engine_unwired, 1_000, 6_000, 1, "update"),
    "runtime-unwired": (runtime_unwired, 1_000, 6_000, 1, "update"),
    "engine-apply": (engine_apply, 1_000, 6_000, 1, "item"),
    "replica-send": (replica_send, 1_000, 4_000, 1, "item"),
    "replica-send-second": (replica_send_second, 1_000, 4_000, 1, "item"),
    "replica-send-lazy": (replica_send_lazy, 1_000, 4_000, 1, "item"),
    "replica-receive": (replica_receive, 1_000, 4_000, 1, "item"),
    "replica-send-quiet": (replica_send_quiet, 1_000, 4_000, 1, "item"),
    "replica-announced-held": (replica_announced_held, 1_000, 4_000, 1, "item"),
    "replica-announced-lacking": (replica_announced_lacking, 1_000, 4_000, 1, "item"),
    "replica-redundant": (replica_redundant, 1_000, 4_000, 1, "item"),
    "replica-hub-receive": (replica_hub_receive, 1_800, 3_600, 1, "item"),
    "replica-hub-send": (replica_hub_send, 1_800, 3_600, 1, "item"),
    "runtime-durable-fs": (runtime_durable_fs, 200, 1_200, 1, "update"),
    "runtime-durable-pg": (runtime_durable_pg, 100, 600, 1, "update"),
    "raw-durable-pg": (raw_durable_pg, 100, 600, 1, "update"),
    "restart-fill": (restart_fill, 5_000, 25_000, 1, "content"),
    "restart-start": (restart_start, 5_000, 25_000, 1, "content"),
    "restart-load": (restart_load, 5_000, 25_000, 1, "content"),
}


def count(python: str, workload: str, size: int) -> int:
    """Instructions of one run of ``workload`` at ``size`` under callgrind."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            python,
            __file__,
            "--run",
            workload,
            str(size),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    """Count and print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), help="these workloads")
    parser.add_argument("--run", nargs=2, metavar=("WORKLOAD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        workload, size = args.run
        WORKLOADS[workload][0](int(size))
        return
    per_unit: dict[str, float] = {}
    for workload in args.only or WORKLOADS:
        _, small, large, per_size, unit = WORKLOADS[workload]
        extra = (large - small) * per_size
        per = (count(args.python, workload, large) - count(args.python, workload, small)) / extra
        per_unit[workload] = per
        print(f"{workload:<25} {per:>10,.1f} instructions per {unit}  ({args.python})", flush=True)
    if {"restart-fill", "restart-start", "restart-load"} <= per_unit.keys():
        fill = per_unit["restart-fill"]
        start, load = per_unit["restart-start"] - fill, per_unit["restart-load"] - fill
        print(
            f"restart: a start {start:,.0f} instructions per content, load_contents alone "
            f"{load:,.0f}: load_contents / start {load / start:.2f} (issue 18 target >= 0.5)"
        )
    if "runtime-durable-pg" in per_unit and "raw-durable-pg" in per_unit:
        runtime, raw = per_unit["runtime-durable-pg"], per_unit["raw-durable-pg"]
        print(f"durable PostgreSQL update: runtime / raw upsert + commit {runtime / raw:.2f}x")
    if "replica-hub-receive" in per_unit and "replica-hub-send" in per_unit:
        hub = per_unit["replica-hub-send"] - per_unit["replica-hub-receive"]
        print(f"hub: building the deltas of four links {hub:,.0f} instructions per content")
    if "engine-unwired" in per_unit and "runtime-unwired" in per_unit:
        engine = per_unit["engine-unwired"]
        own = per_unit["runtime-unwired"] - engine
        print(
            f"runtime's own work per buffered update: {own:,.0f} instructions, "
            f"{own / engine:.2f}x the engine run (issue 18 target <= 1.5)"
        )


if __name__ == "__main__":
    main()
