"""Helpers for gossip tests: nodes on real loopback sockets, specs, waiting with deadlines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import attrs

from bassline.net import BasslineNetwork, GossipSettings, NodeServer
from bassline.spec import Bassline, parse_spec

FAST = GossipSettings(
    heartbeat_interval=0.2,
    heartbeat_timeout=0.8,
    anti_entropy_interval=0.2,
    reconnect_min=0.02,
    reconnect_max=0.3,
    handshake_timeout=3.0,
    shutdown_grace=0.5,
    discover=False,
)
ONE_SESSION = attrs.evolve(FAST, heartbeat_timeout=60.0)
"""FAST, but no link is dropped for silence during a test. For tests whose exact counts
assume one session per link: on a loaded machine a starved node can miss FAST's 0.8 s,
and a redialled link resends its log."""
SECRET = b"test-cluster-secret-0123456789"


def calculator() -> Bassline:
    """input-a + input-b -> result, through an ``add`` gadget group ``adder``."""
    return parse_spec(
        {
            "id": "calculator",
            "groups": [{"id": "adder", "gadget": "add"}],
            "contacts": [
                {"id": "input-a"},
                {"id": "input-b"},
                {"id": "result"},
                {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
                {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
                {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
            ],
            "wires": [
                {"from": "input-a", "to": "adder.a", "type": "directed"},
                {"from": "input-b", "to": "adder.b", "type": "directed"},
                {"from": "adder.sum", "to": "result", "type": "directed"},
            ],
        }
    )


def flat(n: int, *, sets: int = 0, name: str = "flat") -> Bassline:
    """``n`` accept-last contacts ``c0..`` and ``sets`` grow-set contacts ``s0..``."""
    contacts: list[dict[str, Any]] = [{"id": f"c{i}"} for i in range(n)]
    contacts += [{"id": f"s{i}", "lattice": "grow-set"} for i in range(sets)]
    return parse_spec({"id": name, "contacts": contacts})


@asynccontextmanager
async def node(
    node_id: str,
    spec: Bassline,
    groups: Iterable[str] | None = None,
    *,
    peers: Sequence[str] = (),
    secret: bytes | None = None,
    settings: GossipSettings = FAST,
    **kwargs: Any,
) -> AsyncIterator[tuple[BasslineNetwork, NodeServer]]:
    """A joined node served on 127.0.0.1 with an ephemeral port."""
    async with BasslineNetwork(
        node_id, spec, groups, peers=peers, secret=secret, settings=settings, **kwargs
    ) as net:
        async with NodeServer(net, "127.0.0.1", 0) as server:
            yield net, server


@asynccontextmanager
async def line(spec: Bassline, count: int, **kwargs: Any) -> AsyncIterator[list[BasslineNetwork]]:
    """``count`` nodes in a line, each dialling only its left neighbour."""
    async with AsyncExitStack() as stack:
        nets: list[BasslineNetwork] = []
        url: str | None = None
        for i in range(count):
            net, server = await stack.enter_async_context(
                node(f"n{i}", spec, peers=[url] if url else [], **kwargs)
            )
            assert server.url is not None
            url = server.url.ws
            nets.append(net)
        yield nets


async def wait_until(
    predicate: Callable[[], bool], within: float = 15.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it holds; fail after ``within`` seconds (a deadline, not a sync)."""
    with anyio.move_on_after(within):
        while not predicate():  # noqa: ASYNC110 - polling with a deadline, as the rules allow
            await anyio.sleep(0.01)
        return
    raise AssertionError(f"timed out after {within}s waiting for {what}")


def converged(nets: Sequence[BasslineNetwork]) -> bool:
    """Whether every node has the same contents."""
    first = nets[0].digest()
    return all(n.digest() == first for n in nets[1:])


async def write_both_ways(a: BasslineNetwork, b: BasslineNetwork) -> None:
    """Once ``a`` and ``b`` are linked, write one contact on each and wait until they agree."""
    await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
    await a.update_contact("c0", "from a")
    await b.update_contact("c1", "from b")
    await wait_until(lambda: converged([a, b]), what="convergence")


def cursors_at_heads(nets: Sequence[BasslineNetwork]) -> bool:
    """Whether no node reports any change behind or lagging on any of its links."""
    return all(p.behind == 0 and p.lagging == 0 for n in nets for p in n.peers())
