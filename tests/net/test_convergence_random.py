"""Randomized convergence: adversarial schedules on real loopback sockets.

Each example is one seeded random schedule over 3-5 in-process nodes (memory://NAME
storage, so a restarted node recovers its contents) joined in a random connected
topology, most links through a :class:`TcpProxy`. The spec has accept-last contacts
(two of them joined by a bidirectional wire), merge contacts of six lattices and three
gadgets chained across groups (``adder`` -> ``scaler``, and ``joiner``); every node runs
a random subset of the groups, and every group runs on one or two nodes. Frame and
queue limits are random too (deltas of 1-3 items, send queues of 1-2 frames), so deltas
split and pushers wait. The schedule mixes writes on random nodes, concurrent writes to
one contact on several nodes, bursts of writes in flight at once, ``update_many``,
values with older stamps applied through ``runtime.apply`` (including the very stamp of
an earlier write with another value: a tie the canonical JSON breaks), link cuts,
freezes and heals, pauses, node restarts (clean, or a crash that loses changes not yet
stored), and a peer that joins late.

At the end every link is healed and every node up; the test polls (with a deadline)
until every node has the same ``digest()``, then checks that the outcome is right:

- each accept-last contact (and every contact wired to it) holds the write with the
  greatest ``(stamp, canonical JSON)`` among all writes made to it, anywhere;
- each merge contact holds the lattice join of every write made to it, anywhere;
- every wire's target holds its source's value, and every gadget output equals the
  gadget applied to its final inputs.

What the generator avoids, because the docs (network.md, "Limits") say it does not
converge or is not last-writer-wins by construction:

- **contradictions**: interval writes all contain 0, shrink-set writes all contain
  ``"k"``, grow-map keys hold grow-sets or a value fixed by the key, so every join exists;
- **clocks far apart**: all nodes share one wall clock, and older-stamped values are
  only ever stamped in the past (a stamp ahead of the clock would be refused);
- **outcomes that depend on timing**: nothing writes a gadget's output directly, and the
  only wires into merge contacts come from merge contacts of the same lattice, so the
  expected contents are a function of the writes.

In half of the examples (by seed) the spec also wires merge contacts into merge contacts
(``mx`` -> ``mx2``, ``gs`` <-> ``gs2``) and a merge contact into an accept-last one
(``mx2`` -> ``top``): a wired merge contact holds the join of its own writes and of
everything fed into it, and ``top`` must follow ``mx2`` as it grows from information of
any age.

The seed (and the schedule) is in every failure message. CI runs a handful of seeds;
run many more locally with::

    BASSLINE_CONVERGENCE_EXAMPLES=200 BASSLINE_CONVERGENCE_SEED=1000 \\
        .venv/bin/pytest tests/net/test_convergence_random.py -x -q

(``BASSLINE_CONVERGENCE_SEED`` is the first seed, each seed is one test, even seeds run on
asyncio and odd ones on trio; ``BASSLINE_CONVERGENCE_STEPS``, default 40, is the length of
each schedule.) A failure prints the seed, the schedule and what is wrong on which node;
the same seed replays the same schedule, though socket timing differs from run to run.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

import anyio
import attrs
import pytest
from anyio.abc import TaskGroup, TaskStatus

from bassline.clock import INITIAL_STAMP, LOGICAL_BITS, Stamp
from bassline.codec import encode
from bassline.content import ABSENT, values_equal
from bassline.gadgets import get_gadget
from bassline.lattices import UNCHANGED, Changed, Contradiction, GrowSet, get_lattice
from bassline.net import BasslineNetwork, NodeServer
from bassline.spec import Bassline, BlendMode, parse_spec
from bassline.storage import open_storage

from .conftest import FAST, wait_until
from .proxy import TcpProxy

EXAMPLES = int(os.environ.get("BASSLINE_CONVERGENCE_EXAMPLES", "8"))
FIRST_SEED = int(os.environ.get("BASSLINE_CONVERGENCE_SEED", "0"))
STEPS = int(os.environ.get("BASSLINE_CONVERGENCE_STEPS", "40"))
SETTLE_WITHIN = 30.0


def spec(merge_wires: bool = False) -> Bassline:
    """The network every node runs (see the module docstring)."""
    contacts: list[dict[str, Any]] = [
        {"id": "a0", "content": "init"},
        {"id": "a1", "content": "i"},
        {"id": "a2"},
        {"id": "x", "content": 1},
        {"id": "y", "content": "y"},
        {"id": "z", "content": 2},
        {"id": "total"},
        {"id": "product"},
        {"id": "joined"},
        {"id": "gs", "lattice": "grow-set"},
        {"id": "mx", "lattice": "max", "content": 0},
        {"id": "mn", "lattice": "min"},
        {"id": "iv", "lattice": "interval"},
        {"id": "ss", "lattice": "shrink-set"},
        {"id": "gm", "lattice": "grow-map"},
    ]
    groups = [
        {"id": "adder", "gadget": "add"},
        {"id": "scaler", "gadget": "multiply"},
        {"id": "joiner", "gadget": "concat"},
    ]
    ports = {
        "adder": [("a", "input"), ("b", "input"), ("sum", "output")],
        "scaler": [("a", "input"), ("b", "input"), ("product", "output")],
        "joiner": [("a", "input"), ("b", "input"), ("result", "output")],
    }
    for group, names in ports.items():
        contacts += [
            {"id": f"{group}.{n}", "group": group, "name": n, "boundary": b} for n, b in names
        ]
    wires = [
        {"from": "a1", "to": "a2"},  # bidirectional
        *({"from": s, "to": t, "type": "directed"} for s, t in WIRES),
    ]
    if merge_wires:
        contacts += [
            {"id": "mx2", "lattice": "max"},
            {"id": "gs2", "lattice": "grow-set"},
            {"id": "top"},
        ]
        wires += [
            {"from": "mx", "to": "mx2", "type": "directed"},
            {"from": "gs", "to": "gs2"},  # bidirectional
            {"from": "mx2", "to": "top", "type": "directed"},
        ]
    return parse_spec({"id": "convergence", "groups": groups, "contacts": contacts, "wires": wires})


WIRES = [
    ("x", "adder.a"),
    ("mx", "adder.b"),
    ("adder.sum", "total"),
    ("total", "scaler.a"),
    ("z", "scaler.b"),
    ("scaler.product", "product"),
    ("y", "joiner.a"),
    ("a1", "joiner.b"),
    ("joiner.result", "joined"),
]
GADGETS = {  # group: (gadget, {port: contact}, output contact)
    "adder": ("add", {"a": "adder.a", "b": "adder.b"}, "adder.sum"),
    "scaler": ("multiply", {"a": "scaler.a", "b": "scaler.b"}, "scaler.product"),
    "joiner": ("concat", {"a": "joiner.a", "b": "joiner.b"}, "joiner.result"),
}
CLASSES = {"a0": "a0", "a1": "a1", "a2": "a1", "x": "x", "y": "y", "z": "z"}
"""Accept-last contacts written by the schedule, by the class of contacts wired together."""
MERGE = ["gs", "mx", "mn", "iv", "ss", "gm"]
WRITABLE = [*CLASSES, *MERGE]
MERGE_WIRED = ["mx2", "gs2"]
"""Merge contacts that exist with ``merge_wires``, written by the schedule too."""
FED = {"mx2": ["mx"], "gs": ["gs2"], "gs2": ["gs"]}
"""With ``merge_wires``: the merge contacts whose values a merge contact receives by wire."""
MERGE_WIRES = [("mx", "mx2"), ("gs", "gs2"), ("gs2", "gs"), ("mx2", "top")]


def random_value(rng: random.Random, cid: str) -> Any:
    """A value for ``cid`` that never contradicts anything written to it before."""
    if cid in ("x", "z"):
        return rng.randint(-50, 50)
    if cid == "y":
        return rng.choice(["p", "q", "r", "", "ü"]) + str(rng.randint(0, 99))
    if cid in ("a0", "a1", "a2"):
        return rng.choice(
            [
                rng.randint(0, 9),
                f"v{rng.randint(0, 9)}",
                [rng.randint(0, 3)],
                None,
                {"k": rng.randint(0, 3)},
                rng.random() < 0.5,
            ]
        )
    if cid in ("gs", "gs2"):
        return [rng.randint(0, 12) for _ in range(rng.randint(1, 3))]
    if cid in ("mx", "mx2"):
        return rng.randint(-20, 40)
    if cid == "mn":
        return rng.randint(-40, 20)
    if cid == "iv":  # always contains 0: intervals written here never contradict
        lo = rng.choice([None, *range(-10, 1)])
        hi = rng.choice([None, *range(0, 11)])
        return [lo, hi]
    if cid == "ss":  # always contains "k": intersections are never empty
        return ["k", *rng.sample(["a", "b", "c", "d", "e"], rng.randint(0, 4))]
    if cid == "gm":
        keys = rng.sample(["p", "q", "r", "s"], rng.randint(1, 2))
        return {k: GrowSet([rng.randint(0, 5)]) if k in ("p", "q") else f"fixed-{k}" for k in keys}
    raise AssertionError(cid)


class _Crash(Exception):
    """Raised inside a node to close it as a crash would (nothing more is stored)."""


class Cluster:
    """Nodes, servers, proxies and links of one example; everything in one task."""

    def __init__(self, seed: int, rng: random.Random) -> None:
        self.seed = seed
        self.rng = rng
        # drawn apart from the schedule's generator, so that a seed's schedule stays the same
        self.merge_wires = random.Random(f"merge-wires-{seed}").random() < 0.5
        self.spec = spec(self.merge_wires)
        self.writable = [*WRITABLE, *MERGE_WIRED] if self.merge_wires else WRITABLE
        self.wires = [*WIRES, *MERGE_WIRES] if self.merge_wires else WIRES
        self.count = rng.randint(3, 5)
        self.names = [f"n{i}" for i in range(self.count)]
        self.storage = [f"conv-{seed}-{i}-{uuid.uuid4().hex[:8]}" for i in range(self.count)]
        groups = list(GADGETS)
        self.groups: list[list[str]] = [[] for _ in range(self.count)]
        for g in groups:  # each group on one or two nodes
            for i in rng.sample(range(self.count), rng.choice([1, 1, 2])):
                self.groups[i].append(g)
        # a random spanning tree plus a few extra links; (dialler, listener, proxied)
        order = list(range(self.count))
        rng.shuffle(order)
        pairs = {tuple(sorted((order[k], rng.choice(order[:k])))) for k in range(1, self.count)}
        for _ in range(rng.randint(0, self.count - 1)):
            pairs.add(tuple(sorted(rng.sample(range(self.count), 2))))
        self.links: list[tuple[int, int, bool]] = []
        for a, b in sorted(pairs):
            dialler, listener = (a, b) if rng.random() < 0.5 else (b, a)
            self.links.append((dialler, listener, rng.random() < 0.75))
        self.late = rng.choice([None, None, self.count - 1])
        # small frames and queues split deltas and hold pushers back (cursors, flow control)
        self.settings = attrs.evolve(
            FAST,
            max_delta_items=rng.choice([1, 2, 3, 2000, 2000]),
            send_queue_frames=rng.choice([1, 2, 16, 16]),
            push_delay=rng.choice([0.0, 0.002, 0.02]),
        )
        self.nets: list[BasslineNetwork | None] = [None] * self.count
        self.servers: list[NodeServer | None] = [None] * self.count
        self.stops = [anyio.Event() for _ in range(self.count)]
        self.stopped = [anyio.Event() for _ in range(self.count)]
        self.crashing = [False] * self.count
        self.tg: TaskGroup | None = None
        self.proxies: dict[int, TcpProxy] = {}
        self.cut: set[int] = set()
        self.frozen: set[int] = set()
        self.log: list[str] = []
        self.writes: dict[str, list[tuple[Stamp, Any]]] = {cid: [] for cid in self.writable}
        for c in self.spec.contacts:
            if c.has_content and c.id in self.writes:
                self.writes[c.id].append((INITIAL_STAMP, c.content))

    def describe(self) -> str:
        return (
            f"seed={self.seed}: {self.count} nodes, groups {self.groups}, links "
            f"{[(a, b, 'proxy' if p else 'direct') for a, b, p in self.links]}, late {self.late}, "
            f"max_delta_items {self.settings.max_delta_items}, send_queue_frames "
            f"{self.settings.send_queue_frames}, push_delay {self.settings.push_delay}, "
            f"merge wires {self.merge_wires}"
        )

    def up(self) -> list[int]:
        return [i for i in range(self.count) if self.nets[i] is not None]

    def url_of_link(self, k: int) -> str | None:
        _, listener, proxied = self.links[k]
        if proxied:
            return self.proxies[k].url
        server = self.servers[listener]
        return None if server is None or server.url is None else server.url.ws

    async def start(self, i: int) -> None:
        """Start node ``i`` in a task of its own (nodes stop in any order)."""
        assert self.tg is not None
        await self.tg.start(self._serve, i)
        server = self.servers[i]
        assert server is not None and server.url is not None
        for k, (d, listener, proxied) in enumerate(self.links):
            if listener != i:
                continue
            if proxied:
                self.proxies[k].target_port = server.url.port
            elif (dialler := self.nets[d]) is not None:
                await dialler.connect_to_peer(server.url.ws)

    async def _serve(self, i: int, *, task_status: TaskStatus[None]) -> None:
        peers = [
            url
            for k, (d, _, _) in enumerate(self.links)
            if d == i and (url := self.url_of_link(k)) is not None
        ]
        stop = self.stops[i] = anyio.Event()
        try:
            async with (
                open_storage(f"memory://{self.storage[i]}") as storage,
                BasslineNetwork(
                    self.names[i],
                    self.spec,
                    self.groups[i],
                    storage=storage,
                    peers=peers,
                    settings=self.settings,
                ) as net,
            ):
                async with NodeServer(net, "127.0.0.1", 0) as server:
                    self.nets[i], self.servers[i] = net, server
                    task_status.started()
                    await stop.wait()
                if self.crashing[i]:
                    raise _Crash  # the runtime closes without storing what is still queued
        except* _Crash:  # wrapped in the group by the node's task group
            pass
        self.nets[i] = self.servers[i] = None
        self.stopped[i].set()

    async def stop(self, i: int, *, crash: bool = False) -> None:
        """Stop node ``i``: cleanly, or with ``crash`` its runtime closes on an error, so
        changes not yet stored are lost (acknowledged writes are stored already)."""
        server = self.servers[i]
        assert server is not None and server.url is not None
        old = server.url.ws
        self.stopped[i] = anyio.Event()
        self.crashing[i] = crash
        self.stops[i].set()
        await self.stopped[i].wait()
        for d, listener, proxied in self.links:
            if listener == i and not proxied and (dialler := self.nets[d]) is not None:
                dialler.disconnect_peer(old)  # it is dialled at its new URL once restarted

    # ---------------------------------------------------------------- steps

    async def write(self, i: int, cid: str, value: Any) -> None:
        net = self.nets[i]
        assert net is not None
        result = await net.update_contact(cid, value)
        self.note(cid, value, result.touched)

    def note(self, cid: str, value: Any, touched: tuple[Any, Any, Any]) -> None:
        ids, _, stamps = touched
        if cid in CLASSES:
            self.writes[cid].append((stamps[list(ids).index(cid)], value))
        else:
            self.writes[cid].append((INITIAL_STAMP, value))  # merge: the stamp is irrelevant

    async def step(self, n: int) -> None:
        rng = self.rng
        up = self.up()
        if self.late is not None and self.nets[self.late] is None and n == STEPS // 3:
            self.log.append(f"{n}: n{self.late} joins late")
            await self.start(self.late)
            return
        kind = rng.choices(
            [
                *("write", "concurrent", "many", "burst", "older"),
                *("cut", "heal", "freeze", "restart", "pause"),
            ],
            [30, 10, 5, 3, 14, 8, 8, 3, 5, 12],
        )[0]
        if kind == "write":
            i, cid = rng.choice(up), rng.choice(self.writable)
            value = random_value(rng, cid)
            self.log.append(f"{n}: n{i} writes {cid}={value!r}")
            await self.write(i, cid, value)
        elif kind == "concurrent" and len(up) >= 2:
            cid = rng.choice(self.writable)
            writers = rng.sample(up, rng.randint(2, len(up)))
            values = [random_value(rng, cid) for _ in writers]
            self.log.append(f"{n}: concurrently {cid}={values!r} on {writers}")
            async with anyio.create_task_group() as tg:
                for i, value in zip(writers, values, strict=True):
                    tg.start_soon(self.write, i, cid, value)
        elif kind == "many":
            i = rng.choice(up)
            # at most one contact per wired class: each write's own stamp must be known
            picked = rng.sample([c for c in self.writable if c != "a2"], 3)
            items = {cid: random_value(rng, cid) for cid in picked}
            self.log.append(f"{n}: n{i} update_many {items!r}")
            net = self.nets[i]
            assert net is not None
            result = await net.update_many(items)
            for cid, value in items.items():
                self.note(cid, value, result.touched)
        elif kind == "burst":  # many writes in flight at once, on several nodes
            burst = [(rng.choice(up), rng.choice(self.writable)) for _ in range(rng.randint(5, 25))]
            values = [random_value(rng, cid) for _, cid in burst]
            self.log.append(
                f"{n}: burst {[(i, c, v) for (i, c), v in zip(burst, values, strict=True)]}"
            )
            async with anyio.create_task_group() as tg:
                for (i, cid), value in zip(burst, values, strict=True):
                    tg.start_soon(self.write, i, cid, value)
        elif kind == "older":
            await self.older(n, rng.choice(up))
        elif kind == "cut":
            candidates = [k for k, link in enumerate(self.links) if link[2] and k not in self.cut]
            if candidates:
                k = rng.choice(candidates)
                self.log.append(f"{n}: cut link {self.links[k]}")
                self.cut.add(k)
                self.proxies[k].cut()
        elif kind == "heal":
            broken = sorted(self.cut | self.frozen)
            if broken:
                k = rng.choice(broken)
                self.log.append(f"{n}: heal link {self.links[k]}")
                self.heal(k)
        elif kind == "freeze":
            candidates = [
                k for k, link in enumerate(self.links) if link[2] and k not in self.frozen
            ]
            if candidates:
                k = rng.choice(candidates)
                self.log.append(f"{n}: freeze link {self.links[k]}")
                self.frozen.add(k)
                self.proxies[k].freeze()
        elif kind == "restart":
            down = [i for i in range(self.count) if self.nets[i] is None and i != self.late]
            if down and rng.random() < 0.6:
                i = rng.choice(down)
                self.log.append(f"{n}: n{i} starts again")
                await self.start(i)
            elif len(up) >= 2:
                i = rng.choice(up)
                back = rng.random() < 0.5
                crash = rng.random() < 0.5
                how = ("crashes" if crash else "stops") + (" and restarts" if back else "")
                self.log.append(f"{n}: n{i} {how}")
                await self.stop(i, crash=crash)
                if back:
                    await self.start(i)
        elif kind == "pause":
            ms = rng.choice([0, 1, 5, 20, 60, 150, 0, 1, 5, 20, 60, 150, 1000])
            self.log.append(f"{n}: pause {ms} ms")
            # a step of the workload (letting traffic flow between writes), not a wait
            # for anything: no assertion depends on how long it lasts
            await anyio.sleep(ms / 1000)

    async def older(self, n: int, i: int) -> None:
        """Apply a value stamped in the past, as a peer would deliver it."""
        rng = self.rng
        cid = rng.choice(self.writable)
        value = random_value(rng, cid)
        stamped = [s for ws in self.writes.values() for s, _ in ws if s > INITIAL_STAMP]
        how = rng.choice(["same", "older", "recent"]) if stamped else "recent"
        if how == "same":  # the exact stamp of an earlier write: a tie if it was to cid
            same_contact = [s for s, _ in self.writes[cid] if s > INITIAL_STAMP]
            stamp = rng.choice(same_contact or stamped)
        elif how == "older":
            base = rng.choice(stamped)
            stamp = Stamp(max(2, base.hlc - rng.randint(1, 3000)), rng.choice(self.names))
        else:  # up to two seconds ago, by a node that may not exist
            ago = rng.randint(0, 2000) << LOGICAL_BITS
            now = time.time_ns() // 1_000_000 << LOGICAL_BITS
            stamp = Stamp(now - ago, rng.choice([*self.names, "ghost"]))
        self.log.append(f"{n}: n{i} applies {cid}={value!r} stamped {how} {tuple(stamp)}")
        net = self.nets[i]
        assert net is not None and net.runtime is not None
        await net.runtime.apply([(cid, value, stamp)])
        self.writes[cid].append((stamp if cid in CLASSES else INITIAL_STAMP, value))

    def heal(self, k: int) -> None:
        self.cut.discard(k)
        self.frozen.discard(k)
        self.proxies[k].restore()
        self.proxies[k].thaw()

    # ---------------------------------------------------------------- the outcome

    def expected(self) -> dict[str, Any]:
        """What every node must hold, from the writes alone."""
        want: dict[str, Any] = {}
        by_class: dict[str, list[tuple[Stamp, Any]]] = {}
        for cid, writes in self.writes.items():
            if cid in CLASSES:
                by_class.setdefault(CLASSES[cid], []).extend(writes)
        for cid, klass in CLASSES.items():
            writes = by_class[klass]
            if writes:
                want[cid] = max(writes, key=lambda w: (w[0], encode(w[1])))
        for cid in [*MERGE, *MERGE_WIRED] if self.merge_wires else MERGE:
            lattice = get_lattice(self.spec.contact(cid).lattice or "defined")
            joined: Any = ABSENT
            fed = FED.get(cid, []) if self.merge_wires else []
            for _, value in [w for c in (cid, *fed) for w in self.writes[c]]:
                v = lattice.coerce(value)
                if joined is ABSENT:
                    joined = v
                    continue
                outcome = lattice.join(joined, v)
                assert not isinstance(outcome, Contradiction), f"generator bug: {outcome}"
                if isinstance(outcome, Changed):
                    joined = outcome.value
            if joined is not ABSENT:
                want[cid] = joined
        return want

    def problems(self, net: BasslineNetwork) -> list[str]:
        """Everything about ``net``'s final contents that is wrong."""
        found = []
        for cid, want in self.expected().items():
            state = net.contact(cid)
            if cid in CLASSES:
                stamp, value = want
                if state.stamp != stamp or not values_equal(state.value, value):
                    found.append(
                        f"{cid}: holds {state.value!r} @ {tuple(state.stamp)}, the latest write "
                        f"is {value!r} @ {tuple(stamp)}"
                    )
            elif not values_equal(state.value, want):
                found.append(f"{cid}: holds {state.value!r}, the join of its writes is {want!r}")
        for source, target in self.wires:
            src, dst = net.value(source), net.value(target)
            lattice = self.spec.contact(target).lattice
            if lattice is not None and src is not ABSENT and dst is not ABSENT:
                # a merge target holds its source (joined with its own writes)
                if get_lattice(lattice).join(dst, src) is not UNCHANGED:
                    found.append(f"wire {source} -> {target}: {dst!r} does not hold {src!r}")
            elif not values_equal(src, dst):
                found.append(f"wire {source} -> {target}: {src!r} at the source, {dst!r} after")
        for group, (gadget_id, ports, output) in GADGETS.items():
            inputs = {p: net.value(c) for p, c in ports.items() if net.value(c) is not ABSENT}
            gadget = get_gadget(gadget_id)
            want_out = (
                gadget.run(inputs).get(gadget.outputs[0], ABSENT)
                if gadget.is_active(inputs)
                else ABSENT
            )
            got = net.value(output)
            if not values_equal(got, want_out):
                found.append(
                    f"gadget {group}: {inputs!r} gives {want_out!r}, {output} holds {got!r}"
                )
        return found


def _seeds() -> list[Any]:
    return [
        pytest.param(s, "asyncio" if s % 2 == 0 else "trio", id=f"seed={s}")
        for s in range(FIRST_SEED, FIRST_SEED + EXAMPLES)
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(("seed", "anyio_backend"), _seeds())
async def test_a_random_schedule_converges_to_the_right_contents(
    seed: int, anyio_backend: str
) -> None:
    rng = random.Random(seed)
    cluster = Cluster(seed, rng)
    from bassline_storage_memory import drop_store

    try:
        async with AsyncExitStack() as outer:
            for k, link in enumerate(cluster.links):
                if link[2]:
                    cluster.proxies[k] = await outer.enter_async_context(TcpProxy(0))
            cluster.tg = await outer.enter_async_context(anyio.create_task_group())
            try:
                for i in range(cluster.count):
                    if i != cluster.late:
                        await cluster.start(i)
                for n in range(STEPS):
                    await cluster.step(n)
                # the end: writes stop, every link heals, every node is up
                for k in sorted(cluster.cut | cluster.frozen):
                    cluster.heal(k)
                for i in range(cluster.count):
                    if cluster.nets[i] is None:
                        await cluster.start(i)
                nets = [n for n in cluster.nets if n is not None]

                def agreed() -> bool:
                    first = nets[0].digest()
                    return all(n.digest() == first for n in nets[1:])

                try:
                    await wait_until(agreed, within=SETTLE_WITHIN, what="equal digests")
                except AssertionError:
                    raise AssertionError(
                        _report(cluster, "no convergence", _differences(cluster, nets))
                    ) from None
                if os.environ.get("BASSLINE_CONVERGENCE_VERBOSE"):
                    print(_report(cluster, "converged", cluster.expected()))
                wrong = {n.node_id: p for n in nets if (p := cluster.problems(n))}
                assert not wrong, _report(cluster, "converged to the wrong contents", wrong)
            finally:
                for i in reversed(range(cluster.count)):
                    if cluster.nets[i] is not None:
                        await cluster.stop(i)
    finally:
        for name in cluster.storage:
            drop_store(name)


def _differences(cluster: Cluster, nets: list[BasslineNetwork]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in cluster.spec.contacts:
        held = [(n.node_id, n.value(c.id), tuple(n.contact(c.id).stamp)) for n in nets]
        merge = c.blend is BlendMode.MERGE
        first = held[0]
        if any(not values_equal(h[1], first[1]) or (not merge and h[2] != first[2]) for h in held):
            out[c.id] = held
    out["peers"] = {n.node_id: [(p.node, p.behind, p.lagging) for p in n.peers()] for n in nets}
    return out


def _report(cluster: Cluster, what: str, detail: Any) -> str:
    lines = [f"{what} for {cluster.describe()}", "schedule:", *cluster.log, "detail:"]
    if isinstance(detail, dict):
        lines += [f"  {k}: {v}" for k, v in detail.items()]
    else:
        lines.append(str(detail))
    lines.append(
        f"reproduce: BASSLINE_CONVERGENCE_SEED={cluster.seed} BASSLINE_CONVERGENCE_EXAMPLES=1 "
        ".venv/bin/pytest tests/net/test_convergence_random.py"
    )
    return "\n".join(lines)
