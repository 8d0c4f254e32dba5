"""Hypothesis strategies the storage conformance suite draws from (private to the suite).

Content values (unicode, nesting, every built-in lattice value, user dicts with a
``"$type"`` key) and small valid Basslines built through :func:`bassline.spec.parse_spec`
(from their JSON form, as a user's file would give them).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bassline.codec import to_json
from bassline.lattices import GrowMap, GrowSet, Interval, ShrinkSet
from bassline.spec import ROOT_GROUP, Bassline, parse_spec
from bassline.storage import GroupQuery

__all__ = [
    "AUTHORS",
    "HOSTILE_IDS",
    "TAGS",
    "TYPES",
    "basslines",
    "content_values",
    "group_queries",
    "ids",
    "json_values",
    "lattice_values",
]

HOSTILE_IDS = (
    "/",
    "a/b",
    "..",
    ".",
    "../../etc",
    "../../etc/passwd",
    "/abs",
    "a\\b",
    "C:\\x",
    "con",
    "NUL",
    "aux.txt",
    "trailing.",
    "trailing ",
    " leading",
    "%2e%2e",
    "%2F",
    "a:b",
    "*?<>|\"'",
    "$type",
    "~",
    "ünïcødé",
    "日本語のid",
    "emoji-😀",
    "Calc",
    "calc",
    "CALC",
    "ß",
    "SS",
)
"""Ids that are valid but dangerous for naive backends (paths, reserved names, case)."""

AUTHORS = ("ann", "bob", "ünï")
TYPES = ("calc", "sensor", "ui")
TAGS = ("red", "green", "blue", "ümlaut")

_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_ID_CHARS = st.characters(exclude_categories=["Cs", "Cc"])

ids = st.one_of(st.sampled_from(HOSTILE_IDS), st.text(_ID_CHARS, min_size=1, max_size=24))
"""Valid storage and spec ids, hostile ones included."""

_keys = st.one_of(st.text(_TEXT, max_size=12), st.sampled_from(["$type", "value", "", "lo"]))
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(_TEXT, max_size=30),
)

json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
    ),
    max_leaves=12,
)
"""Plain JSON content: scalars, unicode text, nested lists and dicts (``"$type"`` keys too)."""

_finite = st.one_of(
    st.none(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
)


@st.composite
def _intervals(draw: st.DrawFn) -> Interval:
    lo, hi = draw(_finite), draw(_finite)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return Interval(lo, hi)


lattice_values: st.SearchStrategy[Any] = st.one_of(
    st.lists(json_values, max_size=5).map(GrowSet),
    st.lists(json_values, min_size=1, max_size=5).map(ShrinkSet),
    _intervals(),
    st.dictionaries(_keys, json_values, max_size=4).map(GrowMap),
)
"""Values of the built-in lattices: GrowSet, ShrinkSet, Interval, GrowMap."""

content_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(_scalars, lattice_values),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
        st.dictionaries(_keys, children, max_size=3).map(GrowMap),
    ),
    max_leaves=10,
)
"""Any content a contact may hold: JSON and lattice values, nested in each other."""


def _group_attributes() -> st.SearchStrategy[dict[str, Any]]:
    prefix = st.sampled_from(["bassline.", ""])
    return st.fixed_dictionaries(
        {},
        optional={
            "bassline.author": st.sampled_from(AUTHORS),
            "bassline.type": st.sampled_from(TYPES),
            "bassline.tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
            "color": st.sampled_from(["red", "blue"]),
            "size": st.integers(0, 3),
            "extra": json_values,
        },
    ).flatmap(
        lambda d: prefix.map(
            lambda p: {
                (p + k[len("bassline.") :] if k.startswith("bassline.") else k): v
                for k, v in d.items()
            }
        )
    )


_LATTICE_CONTENT: dict[str | None, st.SearchStrategy[Any]] = {
    None: json_values,
    "defined": json_values,
    "grow-set": st.lists(json_values, max_size=4).map(GrowSet),
    "shrink-set": st.lists(json_values, min_size=1, max_size=4).map(ShrinkSet),
    "interval": _intervals(),
    "max": st.integers(-1000, 1000),
    "min": st.floats(allow_nan=False, allow_infinity=False),
    "grow-map": st.dictionaries(_keys, json_values, max_size=3).map(GrowMap),
}


@st.composite
def _contact(draw: st.DrawFn, cid: str, group: str) -> dict[str, Any]:
    lattice = draw(st.sampled_from(list(_LATTICE_CONTENT)))
    item: dict[str, Any] = {"id": cid, "group": group}
    if lattice is not None:
        item["lattice"] = lattice
    if draw(st.booleans()):
        item["name"] = draw(st.text(_TEXT, max_size=10))
    if draw(st.booleans()):
        item["boundary"] = draw(st.sampled_from(["input", "output", "both"]))
    if draw(st.booleans()):
        item["content"] = draw(_LATTICE_CONTENT[lattice])
    if draw(st.booleans()):
        item["attributes"] = draw(st.dictionaries(_keys, json_values, max_size=2))
    return item


_RESERVED = frozenset({ROOT_GROUP, "adder", "adder.a", "adder.b", "adder.sum"})
"""Ids :func:`basslines` uses itself (the root group and the optional adder gadget)."""


@st.composite
def basslines(draw: st.DrawFn, network_id: st.SearchStrategy[str] | None = None) -> Bassline:
    """A small valid Bassline: a group tree, contacts of every lattice, wires, endpoints.

    Ids are drawn from :data:`ids` (hostile ones included); every spec goes through
    :func:`~bassline.spec.parse_spec`, so it is exactly what a user could load.
    """
    spec_id = draw(network_id if network_id is not None else ids)
    names = draw(st.lists(ids.filter(lambda i: i not in _RESERVED), unique=True, max_size=10))
    n_groups = draw(st.integers(0, min(3, len(names))))
    group_ids, contact_ids = names[:n_groups], names[n_groups:]
    groups: list[dict[str, Any]] = []
    for n, gid in enumerate(group_ids):
        parent = draw(st.sampled_from([ROOT_GROUP, *group_ids[:n]]))
        groups.append({"id": gid, "parent": parent, "attributes": draw(_group_attributes())})
    all_groups = [ROOT_GROUP, *group_ids]
    contacts = [draw(_contact(cid, draw(st.sampled_from(all_groups)))) for cid in contact_ids]
    if draw(st.booleans()):
        groups.append({"id": "adder", "gadget": "add", "name": "an adder"})
        contacts += [
            {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
            {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
            {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
        ]
        all_groups.append("adder")
    wires = []
    by_group: dict[str, list[str]] = {}
    for c in contacts:
        by_group.setdefault(c["group"], []).append(c["id"])
    for members in by_group.values():
        if len(members) >= 2 and draw(st.booleans()):
            wires.append(
                {
                    "from": members[0],
                    "to": members[1],
                    "type": draw(st.sampled_from(["bidirectional", "directed"])),
                }
            )
    hosted = draw(st.lists(st.sampled_from(all_groups), unique=True, max_size=2))
    endpoints = {
        gid: {"node": draw(ids), "url": f"ws://127.0.0.1:{9000 + n}/gossip"}
        for n, gid in enumerate(hosted)
    }
    data = {
        "format": "bassline/1",
        "id": spec_id,
        "version": draw(st.sampled_from(["1", "2.0", "ünï"])),
        "metadata": draw(st.dictionaries(_keys, json_values, max_size=3)),
        "groups": groups,
        "contacts": contacts,
        "wires": wires,
        "endpoints": endpoints,
    }
    return parse_spec(to_json(data))


def group_queries() -> st.SearchStrategy[GroupQuery]:
    """Queries over the attribute pool :func:`basslines` draws group attributes from."""
    return st.builds(
        GroupQuery,
        attributes=st.fixed_dictionaries(
            {},
            optional={
                "color": st.sampled_from(["red", "blue"]),
                "size": st.integers(0, 3),
            },
        ),
        author=st.one_of(st.none(), st.sampled_from(AUTHORS)),
        type=st.one_of(st.none(), st.sampled_from(TYPES)),
        tags=st.lists(st.sampled_from(TAGS), unique=True, max_size=2).map(tuple),
    )
