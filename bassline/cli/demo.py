"""``bassline demo``: three gossiping nodes in one process, on loopback, with memory storage.

The demo network computes ``result = (a + b) * c - d`` with one gadget per node (the
spec's ``endpoints`` say which): ``node-1`` adds, ``node-2`` multiplies, ``node-3``
subtracts. The nodes are linked in a chain (node-1 - node-2 - node-3), so a change
written on one end has to be relayed, computed on the way and sent back before every
node agrees.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from importlib import resources
from types import TracebackType
from typing import Any, Self

import anyio
import attrs
import orjson

from bassline.cli.render import show
from bassline.codec import from_json, parse_json, to_json
from bassline.content import ABSENT
from bassline.errors import ContentError
from bassline.net import BasslineNetwork, GossipSettings, NodeServer
from bassline.spec import Bassline, parse_spec

__all__ = [
    "DEFAULT_STEPS",
    "NODES",
    "SHOWN",
    "START",
    "DemoCluster",
    "DemoTimeout",
    "Step",
    "StepReport",
    "demo_spec",
    "parse_steps",
]

NODES = ("node-1", "node-2", "node-3")
"""The demo's nodes, in chain order."""
SHOWN = ("a", "b", "c", "d", "sum", "product", "result")
"""The contacts the demo shows."""


@attrs.frozen
class Step:
    """One write in the demo: ``node`` sets ``contact`` to ``value``."""

    node: str
    contact: str
    value: Any

    def describe(self) -> str:
        """``node-3 sets a = 10``."""
        return f"{self.node} sets {self.contact} = {show(self.value)}"


DEFAULT_STEPS = (Step("node-3", "a", 10), Step("node-1", "c", 1))
"""What the demo does unless told otherwise."""
START = {"a": 2, "b": 3, "c": 4, "d": 1}
"""The starting values, written on node-1 once the nodes are linked."""

Values = dict[str, dict[str, Any]]


@attrs.frozen
class StepReport:
    """How one step went: when the write reached each node, and when all agreed."""

    step: Step | None
    converged: bool
    converged_ms: float
    arrived_ms: dict[str, float]
    values: Values

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "step": None if self.step is None else attrs.asdict(self.step, value_serializer=_json),
            "converged": self.converged,
            "converged_ms": round(self.converged_ms, 3),
            "arrived_ms": {n: round(ms, 3) for n, ms in self.arrived_ms.items()},
            "values": {
                n: {c: to_json(v) for c, v in row.items()} for n, row in self.values.items()
            },
        }


def _json(_inst: object, _field: object, value: Any) -> Any:
    """A step's value in the codec's JSON form (a lattice value tagged)."""
    return to_json(value)


def demo_spec() -> Bassline:
    """The split calculator the demo runs (shipped with the package)."""
    text = (resources.files("bassline.cli") / "templates" / "demo-calculator.json").read_text()
    return parse_spec(orjson.loads(text), "demo-calculator.json")


class DemoTimeout(Exception):
    """The nodes did not agree in time."""

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"the nodes did not agree within {timeout:g} s (their digests differ); try a "
            "longer --timeout on a busy machine"
        )


class DemoCluster:
    """Three nodes serving on 127.0.0.1 (ephemeral ports), linked in a chain.

    ``async with DemoCluster() as cluster`` starts and links them (peer discovery off, so
    the chain stays a chain); :meth:`start` writes the starting values and :meth:`apply`
    one step, each waiting until every node agrees.
    """

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.spec = demo_spec()
        self.timeout = timeout
        self.nodes: dict[str, BasslineNetwork] = {}
        self.urls: dict[str, str] = {}
        self._stack = AsyncExitStack()
        self._changed = anyio.Event()

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        try:
            for name in NODES:
                net = await self._stack.enter_async_context(
                    BasslineNetwork(name, self.spec, settings=GossipSettings(discover=False))
                )
                server = await self._stack.enter_async_context(NodeServer(net, "127.0.0.1", 0))
                assert server.url is not None
                self.nodes[name] = net
                self.urls[name] = server.url.ws
                net.add_listener(lambda _result: self._changed.set())
            for left, right in itertools.pairwise(NODES):
                await self.nodes[right].connect_to_peer(self.urls[left], wait=True)
        except BaseException:
            await self._stack.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)

    def values(self) -> Values:
        """What each node holds for the shown contacts (None when it has nothing)."""
        out: Values = {}
        for name, net in self.nodes.items():
            row = {}
            for cid in SHOWN:
                value = net.value(cid)
                row[cid] = None if value is ABSENT else value
            out[name] = row
        return out

    def converged(self) -> bool:
        """Whether every node holds exactly the same contents (equal digests)."""
        return len({net.digest() for net in self.nodes.values()}) == 1

    async def settle(
        self,
        step: Step | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> StepReport:
        """Wait until the nodes agree (after ``step``, if given), at most ``timeout`` seconds."""
        start = time.perf_counter()
        arrived: dict[str, float] = {}
        converged = False
        with anyio.move_on_after(self.timeout):
            while True:
                self._changed = anyio.Event()
                now = (time.perf_counter() - start) * 1000
                for name, net in self.nodes.items():
                    if step is None or net.value(step.contact) == step.value:
                        arrived.setdefault(name, now)
                on_change()
                if self.converged() and len(arrived) == len(self.nodes):
                    converged = True
                    break
                await self._changed.wait()
        elapsed = (time.perf_counter() - start) * 1000
        return StepReport(step, converged, elapsed, arrived, self.values())

    async def start(self, on_change: Callable[[], None] = lambda: None) -> StepReport:
        """Write the starting values on node-1 and wait until every node agrees."""
        self._changed = anyio.Event()
        await self.nodes[NODES[0]].update_many(START)
        return await self.settle(None, on_change)

    async def apply(self, step: Step, on_change: Callable[[], None] = lambda: None) -> StepReport:
        """Write ``step`` on its node and wait until every node agrees."""
        self._changed = anyio.Event()
        await self.nodes[step.node].update_contact(step.contact, step.value)
        return await self.settle(step, on_change)


def parse_steps(items: Sequence[str]) -> list[Step]:
    """``NODE:CONTACT=JSON`` items as steps; ValueError saying what is wrong."""
    steps = []
    for item in items:
        node, colon, rest = item.partition(":")
        contact, eq, text = rest.partition("=")
        if not colon or not eq or node not in NODES or contact not in SHOWN[:4]:
            raise ValueError(
                f"--step {item!r}: expected NODE:CONTACT=JSON with NODE one of "
                f"{', '.join(NODES)} and CONTACT one of {', '.join(SHOWN[:4])}, e.g. node-3:a=10"
            )
        try:  # the codec's form, as `bassline run --set` and `bassline set` take it
            value = from_json(parse_json(text))
            to_json(value)  # refuses what no write takes (an empty interval, D54) up front
        except orjson.JSONDecodeError:
            raise ValueError(f"--step {item!r}: {text!r} is not valid JSON") from None
        except ContentError as exc:
            raise ValueError(f"--step {item!r}: {exc}") from None
        steps.append(Step(node, contact, value))
    return steps
