"""Link state: which node links to which, and which neighbour each origin's values
should come over (protocol v4, the ``links`` frame; decisions.md D65).

Every node keeps a table ``node id -> (version, peers' node ids)``: its own row lists its
live links, the others come from peers' ``links`` frames (flooded: a newer row is taken
and passed on). An edge counts only when both ends list each other (*confirmed*): a
node that went away leaves its last row behind, but its neighbours stop listing it.

:meth:`Topology.parents` answers, for every known origin reachable over confirmed
edges, the neighbour this node should take that origin's values from: the neighbour
``M`` with the smallest (hop distance from ``M`` to the origin, ``M``'s id), this node
left out of the search. :func:`plan` turns that into the prunes and grafts each link
owes. Pure: no I/O, no clock but the one given.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Set

import attrs
import orjson

__all__ = ["MAX_NODES", "LinkView", "Row", "Topology", "encode_links", "plan"]

MAX_NODES = 10_000
"""Most nodes a table holds (and a ``links`` frame names); rows of further nodes are
ignored (their origins are never pre-pruned: values flow, the reactive prunes rule)."""

Row = tuple[str, int, tuple[str, ...]]
"""One row as on the wire: (node, version, its peers)."""


class Topology:
    """The link-state table of node ``me``."""

    def __init__(self, me: str, clock: Callable[[], int] = time.time_ns) -> None:
        self.me = me
        self._clock = clock
        self.rows: dict[str, tuple[int, frozenset[str]]] = {me: (clock(), frozenset())}
        """node id -> (version, the node ids it lists as its live links)."""

    @property
    def version(self) -> int:
        """The version of this node's own row."""
        return self.rows[self.me][0]

    def _bump(self, peers: frozenset[str], above: int) -> None:
        # strictly increasing, across restarts too (a restart reads a later clock)
        self.rows[self.me] = (max(above + 1, self._clock()), peers)

    def set_links(self, peers: Iterable[str], limit: int) -> bool:
        """Make this node's row list ``peers`` (at most ``limit``, the first in sorted
        order); True when it changed (a new version)."""
        listed = frozenset(sorted(peers)[:limit])
        version, held = self.rows[self.me]
        if listed == held:
            return False
        self._bump(listed, version)
        return True

    def merge(self, rows: Iterable[Row]) -> list[str]:
        """Take the rows newer than those held; the ids of the rows that changed.

        A row about this node newer than its own (the last incarnation's, its clock set
        back) is not taken: this node's row gets a version above it, and is among the
        changed ones (to be sent everywhere)."""
        changed = []
        for node, version, peers in rows:
            held = self.rows.get(node)
            if node == self.me:
                assert held is not None
                if version > held[0]:  # not as new: its own row, come back round
                    self._bump(held[1], version)
                    changed.append(node)
                continue
            if held is None and len(self.rows) >= MAX_NODES:
                continue
            if held is None or version > held[0]:
                self.rows[node] = (version, frozenset(peers))
                changed.append(node)
        return changed

    def lists(self, node: str, peer: str) -> bool:
        """Whether ``node``'s row lists ``peer``."""
        row = self.rows.get(node)
        return row is not None and peer in row[1]

    def row(self, node: str) -> Row:
        """A row as sent (peers sorted)."""
        version, peers = self.rows[node]
        return (node, version, tuple(sorted(peers)))

    def _confirmed(self, node: str) -> Iterable[str]:
        row = self.rows.get(node)
        if row is None:
            return ()
        rows = self.rows
        return (p for p in row[1] if p in rows and node in rows[p][1])

    def distances(self, start: str) -> dict[str, int]:
        """Hops from ``start`` to every node reachable over confirmed edges, this node
        left out."""
        seen = {start: 0}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            hops = seen[node] + 1
            for nxt in self._confirmed(node):
                if nxt not in seen and nxt != self.me:
                    seen[nxt] = hops
                    queue.append(nxt)
        return seen

    def parents(self, neighbours: Iterable[str]) -> dict[str, str]:
        """For every origin reachable from a neighbour (this node left out), the
        neighbour ``M`` with the smallest (distance from ``M``, ``M``): one search per
        neighbour. A neighbour is its own origin's parent (distance 0)."""
        best: dict[str, tuple[int, str]] = {}
        for m in sorted(set(neighbours) - {self.me}):
            for origin, hops in self.distances(m).items():
                held = best.get(origin)
                if held is None or (hops, m) < held:
                    best[origin] = (hops, m)
        return {origin: m for origin, (_, m) in best.items()}


def encode_links(rows: Iterable[Row], max_bytes: int) -> list[bytes]:
    """``links`` frames of ``rows``, each within ``max_bytes`` and :data:`MAX_NODES`
    rows; a row too big for any frame is left out (its node's edges then look
    unconfirmed to the peer: fewer pre-prunes, nothing lost)."""
    frames: list[bytes] = []
    batch: list[bytes] = []
    size = room = max_bytes - len(b'{"rows":[],"t":"links"}')
    for node, version, peers in rows:
        encoded = orjson.dumps([node, version, list(peers)])
        if len(encoded) > room:
            continue
        if len(encoded) + 1 > size or len(batch) >= MAX_NODES:
            frames.append(b'{"rows":[' + b",".join(batch) + b'],"t":"links"}')
            batch, size = [], room
        batch.append(encoded)
        size -= len(encoded) + 1
    if batch:
        frames.append(b'{"rows":[' + b",".join(batch) + b'],"t":"links"}')
    return frames


@attrs.define
class LinkView:
    """What :func:`plan` reads of one live link (the session's sets, not copies)."""

    pruned: set[str]
    """Origins this node asked the peer to prune (pre-pruned or reactively)."""
    prepruned: set[str]
    """Of those, the ones pruned because the peer is not their parent."""
    grafted: set[str]
    """Origins this node grafted on the link because it lacked their changes: never
    pre-pruned there again (the views disagreed; the reactive prunes rule)."""


def plan(
    me: str, parents: Mapping[str, str], links: Mapping[str, LinkView], confirmed: Set[str]
) -> dict[str, tuple[set[str], set[str]]]:
    """Per peer, the origins to pre-prune and to graft now: (prunes, grafts).

    Grafts first: an origin pre-pruned on a link whose peer is now its parent, or that
    is no longer reachable at all, is grafted (its values flow on that link again).
    Then prunes, on the links to ``confirmed`` peers only (their rows list this node:
    peers that keep the table and have a view, not a peer not heard from yet): the
    known origins whose parent is another neighbour —
    not the peer itself, not this node, not pruned there already, never grafted there,
    and only while the parent's own link is not pruned for it (every origin keeps one
    eager link on this node's side)."""
    grafts = {
        peer: {x for x in view.prepruned if parents.get(x, peer) == peer}
        for peer, view in links.items()
    }
    owed: dict[str, tuple[set[str], set[str]]] = {}
    for peer, view in links.items():
        prunes = set()
        for origin, parent in parents.items() if peer in confirmed else ():
            if parent == peer or origin == me or origin in view.grafted:
                continue
            if origin in view.pruned:
                continue
            eager = links.get(parent)
            if eager is None or (origin in eager.pruned and origin not in grafts[parent]):
                continue
            prunes.add(origin)
        owed[peer] = (prunes, grafts[peer])
    return owed
