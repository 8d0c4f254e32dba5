"""The link-state table and the parents it gives (``bassline/net/topology.py``, D65).

Property tests on random graphs, every node holding every other's row: following
parents from any node towards an origin strictly decreases the hop distance and ends at
the origin; each node has exactly one parent per origin it can reach; edges only one
end lists (a node that went away) are never used. Then the table's versions, and the
plan of pre-prunes and grafts on each link.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

import orjson
from hypothesis import given
from hypothesis import strategies as st

from bassline.net.protocol import Links, parse_frame
from bassline.net.topology import MAX_NODES, LinkView, Topology, encode_links, plan

Edges = set[frozenset[str]]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[str], Edges, set[tuple[str, str]]]:
    """Nodes, undirected edges, and one-sided listings (``a`` lists ``b``, not back)."""
    count = draw(st.integers(2, 12))
    nodes = [f"n{i}" for i in range(count)]
    pairs = [frozenset(p) for p in itertools.combinations(nodes, 2)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    edges = set(chosen)
    rest = [p for p in pairs if p not in edges]
    one_sided = draw(st.lists(st.sampled_from(rest), unique=True) if rest else st.just([]))
    stale = set()
    for pair in one_sided:
        a, b = sorted(pair)
        stale.add((a, b) if draw(st.booleans()) else (b, a))
    return nodes, edges, stale


def _tables(
    nodes: list[str], edges: Edges, stale: set[tuple[str, str]]
) -> dict[str, tuple[Topology, set[str]]]:
    """Each node's table holding every row (stale listings included), and its links."""
    listed = {n: {m for e in edges if n in e for m in e if m != n} for n in nodes}
    rows = [(n, 1, tuple(sorted(listed[n] | {b for a, b in stale if a == n}))) for n in nodes]
    tables = {}
    for n in nodes:
        topology = Topology(n, clock=lambda: 0)
        topology.set_links(listed[n], 1000)
        topology.merge([r for r in rows if r[0] != n])
        tables[n] = (topology, listed[n])
    return tables


def _hops(edges: Edges, origin: str) -> dict[str, int]:
    seen, queue = {origin: 0}, deque([origin])
    while queue:
        node = queue.popleft()
        for e in edges:
            if node in e:
                (other,) = e - {node}
                if other not in seen:
                    seen[other] = seen[node] + 1
                    queue.append(other)
    return seen


@given(graphs())
def test_following_parents_strictly_nears_the_origin_and_reaches_it(
    graph: tuple[list[str], Edges, set[tuple[str, str]]],
) -> None:
    nodes, edges, stale = graph
    tables = _tables(nodes, edges, stale)
    parents = {n: t.parents(links) for n, (t, links) in tables.items()}
    for origin in nodes:
        hops = _hops(edges, origin)  # over edges both ends list: the stale ones left out
        for start in nodes:
            reachable = start in hops and start != origin
            assert (origin in parents[start]) == reachable  # exactly one parent, or none
            node = start
            while reachable and node != origin:
                parent = parents[node][origin]
                assert frozenset((node, parent)) in edges  # a live, confirmed link
                assert hops[parent] == hops[node] - 1
                node = parent


@given(graphs())
def test_the_parent_is_the_nearest_neighbour_and_the_smallest_id_of_a_tie(
    graph: tuple[list[str], Edges, set[tuple[str, str]]],
) -> None:
    nodes, edges, stale = graph
    for n, (topology, links) in _tables(nodes, edges, stale).items():
        parents = topology.parents(links)
        for origin, parent in parents.items():
            without = {e for e in edges if n not in e}
            hops = {m: _hops(without, origin).get(m) for m in links}
            best = min((h, m) for m, h in hops.items() if h is not None)
            assert (hops[parent], parent) == best


def test_an_edge_only_one_end_lists_is_not_taken() -> None:
    # a's neighbours are b and e; c is three hops behind b; e still lists c (e's row from
    # before c dropped the link), c does not list e: e is no way to c
    me = Topology("a", clock=lambda: 0)
    me.set_links(["b", "e"], 1000)
    rows = [("b", 1, ("a", "x")), ("x", 1, ("b", "y")), ("y", 1, ("c", "x"))]
    me.merge([*rows, ("c", 1, ("y",)), ("e", 1, ("a", "c"))])
    assert me.parents(["b", "e"]) == {"b": "b", "x": "b", "y": "b", "c": "b", "e": "e"}
    # c lists e back: the edge holds, and e is one hop from c
    me.merge([("c", 2, ("e", "y"))])
    assert me.parents(["b", "e"])["c"] == "e"


def test_versions_grow_and_newer_rows_win() -> None:
    ticks = iter([5, 5, 5, 100])
    me = Topology("a", clock=lambda: next(ticks))
    assert me.version == 5
    assert me.set_links(["b"], 1000) and me.version == 6  # past the clock: previous + 1
    assert not me.set_links(["b"], 1000) and me.version == 6  # unchanged: no new version
    assert me.merge([("b", 3, ("a",))]) == ["b"]
    assert me.merge([("b", 3, ("a", "c")), ("b", 2, ())]) == []  # not newer: kept
    assert me.row("b") == ("b", 3, ("a",))
    # a row about this node as new as its own (an earlier incarnation's): its own row
    # goes above it, and is to be sent
    assert me.merge([("a", 50, ("z",))]) == ["a"]
    assert me.row("a") == ("a", 51, ("b",))
    assert me.merge([("a", 51, ("b",))]) == [] and me.version == 51  # its own, come back
    assert me.set_links(["c", "b"], 1000) and me.row("a") == ("a", 100, ("b", "c"))  # clock
    assert not me.set_links(["c", "b", "d"], 2)  # at most the first two, in sorted order


def test_a_full_table_takes_no_new_node_but_newer_rows_of_known_ones() -> None:
    me = Topology("a", clock=lambda: 0)
    me.merge((f"n{i}", 1, ()) for i in range(MAX_NODES))
    assert len(me.rows) == MAX_NODES
    assert me.merge([("new", 1, ())]) == [] and "new" not in me.rows
    assert me.merge([("n1", 2, ("a",))]) == ["n1"]


def test_rows_are_encoded_into_frames_within_the_limit() -> None:
    rows = [(f"node-{i:04d}", 10**18 + i, (f"p{i}", f"q{i}")) for i in range(300)]
    frames = encode_links(rows, 4096)
    assert len(frames) > 1 and all(len(f) <= 4096 for f in frames)
    parsed = [parse_frame(f, 4096) for f in frames]
    assert all(isinstance(p, Links) for p in parsed)
    assert [r for p in parsed if isinstance(p, Links) for r in p.rows] == rows
    huge = ("big", 1, tuple(f"{i:0200d}" for i in range(30)))  # alone above 4 KiB: left out
    assert [orjson.loads(f)["rows"] for f in encode_links([rows[0], huge], 4096)] == [
        [["node-0000", 10**18, ["p0", "q0"]]]
    ]
    assert encode_links([], 4096) == []


def _view(
    pruned: Iterable[str] = (), pre: Iterable[str] = (), grafted: Iterable[str] = ()
) -> LinkView:
    return LinkView(set(pruned), set(pre), set(grafted))


def test_the_plan_prunes_origins_another_neighbour_brings_and_grafts_back_its_own() -> None:
    parents = {"m": "m", "x": "m", "y": "k", "k": "k"}
    links = {"m": _view(), "k": _view()}
    owed = plan("me", parents, links, {"m", "k"})
    assert owed == {"m": ({"y", "k"}, set()), "k": ({"m", "x"}, set())}
    # x's parent is k now, where it was pre-pruned: grafted there, pruned on m
    links = {"m": _view(), "k": _view({"m", "x"}, {"m", "x"})}
    owed = plan("me", {**parents, "x": "k"}, links, {"m", "k"})
    assert owed["k"] == (set(), {"x"}) and owed["m"] == ({"x", "y", "k"}, set())
    # an origin no longer reachable: grafted wherever it was pre-pruned
    assert plan("me", {"m": "m"}, links, {"m", "k"})["k"] == (set(), {"x"})


def test_the_plan_leaves_grafted_origins_unconfirmed_links_and_pruned_parents_alone() -> None:
    parents = {"m": "m", "x": "m", "k": "k"}
    # grafted on k for a change it lacked: never pre-pruned there again
    assert plan("me", parents, {"m": _view(), "k": _view(grafted={"x"})}, {"m", "k"})["k"] == (
        {"m"},
        set(),
    )
    # k's row does not list this node yet: nothing is pruned on its link
    assert plan("me", parents, {"m": _view(), "k": _view()}, {"m"})["k"] == (set(), set())
    # x's parent link was pruned for x by a copy (reactively): x keeps its other links
    links = {"m": _view({"x"}), "k": _view()}
    assert plan("me", parents, links, {"m", "k"})["k"] == ({"m"}, set())
    # pruned on k already (by a copy): not pruned again
    links = {"m": _view(), "k": _view({"x"})}
    assert plan("me", parents, links, {"m", "k"})["k"] == ({"m"}, set())
    # this node is no origin to prune
    assert plan("me", {**parents, "me": "m"}, {"m": _view(), "k": _view()}, {"k"})["k"] == (
        {"m", "x"},
        set(),
    )
