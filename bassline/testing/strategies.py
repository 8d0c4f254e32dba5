"""Hypothesis strategies for Bassline: contents, lattice values, valid specs, update sequences.

Use them to test your own networks, lattices and backends::

    from hypothesis import given
    from bassline.testing import strategies as bst

    @given(bst.specs())
    def test_my_tool_accepts_every_valid_spec(spec): ...
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bassline.codec import to_json
from bassline.gadgets import get_gadget
from bassline.lattices import GrowMap, GrowSet, Interval, ShrinkSet
from bassline.spec import Bassline, parse_spec

__all__ = [
    "LATTICE_NAMES",
    "contents",
    "ids",
    "json_scalars",
    "json_values",
    "lattice_network",
    "lattice_values",
    "specs",
]

LATTICE_NAMES = ("grow-set", "shrink-set", "interval", "max", "min", "grow-map")
"""The built-in lattices that have their own value domain (``defined`` takes any value)."""

_KNOWN = ", ".join(sorted((*LATTICE_NAMES, "defined")))
"""The lattices :func:`lattice_values` and :func:`lattice_network` take, for messages."""

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def json_scalars() -> st.SearchStrategy[Any]:
    """None, booleans, 64-bit integers, finite floats and unicode strings."""
    return st.none() | st.booleans() | _INT64 | _FLOATS | st.text(max_size=20)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value the codec accepts, nested; dict keys include the reserved ``$type``."""
    keys = st.text(max_size=8) | st.just("$type")
    return st.recursive(
        json_scalars(),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=max_leaves,
    )


def _set_elements(min_size: int = 0) -> st.SearchStrategy[list[Any]]:
    element = st.integers(-20, 20) | st.sampled_from(["a", "b", "c", "é", "$type"]) | st.booleans()
    return st.lists(element, min_size=min_size, max_size=6)


def _numbers() -> st.SearchStrategy[int | float]:
    return st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def _intervals(draw: st.DrawFn) -> Interval:
    if draw(st.booleans()):
        # narrow, somewhere in [-100, 100]: two of them mostly miss each other, so the
        # laws meet contradictions, not only narrowing
        lo = draw(st.sampled_from(range(-100, 101, 5)))
        return Interval(lo, lo + draw(st.sampled_from([0, 1, 2.5, 10, 20])))
    a = draw(st.none() | _numbers())
    b = draw(st.none() | _numbers())
    if a is not None and b is not None and a > b:
        a, b = b, a
    return Interval(a, b)


def lattice_values(lattice: str) -> st.SearchStrategy[Any]:
    """Elements of a built-in lattice, in the form its ``coerce`` returns."""
    if lattice == "grow-set":
        return _set_elements().map(GrowSet)
    if lattice == "shrink-set":
        return _set_elements(min_size=1).map(ShrinkSet)
    if lattice == "interval":
        return _intervals()
    if lattice in ("max", "min"):
        return _numbers()
    if lattice == "grow-map":
        inner = st.sampled_from(range(-5, 6)) | st.text(max_size=3) | _set_elements().map(GrowSet)
        # mostly a few common keys, so that two maps often share one (and may disagree on it)
        common = st.sampled_from(["a", "b"])
        keys = st.one_of(common, common, common, st.text(max_size=4))
        maps = st.dictionaries(keys, inner, min_size=1, max_size=4)
        return st.one_of(maps, maps, maps, st.just({})).map(GrowMap)
    if lattice == "defined":
        return json_values(max_leaves=5)
    raise ValueError(f"no strategy for lattice {lattice!r}; known: {_KNOWN}")


def contents() -> st.SearchStrategy[Any]:
    """Any content: plain JSON or a lattice value."""
    return json_values() | st.sampled_from(LATTICE_NAMES).flatmap(lattice_values)


def ids(prefix: str = "") -> st.SearchStrategy[str]:
    """Readable unique-ish ids (letters, digits, '-', '.')."""
    return st.from_regex(r"[a-z][a-z0-9.\-]{0,8}", fullmatch=True).map(lambda s: prefix + s)


_GADGETS = ("add", "multiply", "concat", "max", "not", "gate")


@st.composite
def specs(draw: st.DrawFn, max_groups: int = 4, max_contacts: int = 12) -> Bassline:
    """Valid random specs: a group tree, contacts of every blend mode, gadgets, legal wires."""
    n_groups = draw(st.integers(0, max_groups))
    groups: list[dict[str, Any]] = []
    group_ids = ["root"]
    for i in range(n_groups):
        gid = f"g{i}"
        parent = draw(st.sampled_from(group_ids))
        groups.append({"id": gid, "parent": parent, "attributes": {"bassline.tags": ["t"]}})
        group_ids.append(gid)
    contacts: list[dict[str, Any]] = []
    n = draw(st.integers(1, max_contacts))
    for i in range(n):
        group = draw(st.sampled_from(group_ids))
        mode = draw(st.sampled_from(["accept-last", "defined", *LATTICE_NAMES]))
        c: dict[str, Any] = {"id": f"c{i}", "group": group}
        if group != "root":
            c["boundary"] = draw(st.sampled_from(["input", "output", "both"]))
        if mode != "accept-last":
            c["lattice"] = mode
        if draw(st.booleans()):
            value = draw(
                json_values(max_leaves=4) if mode == "accept-last" else lattice_values(mode)
            )
            c["content"] = to_json(value)  # spec data is JSON: tagged and escaped
        contacts.append(c)
    n_gadgets = draw(st.integers(0, 2))
    for k in range(n_gadgets):
        gid = f"gadget{k}"
        gadget = get_gadget(draw(st.sampled_from(_GADGETS)))
        groups.append({"id": gid, "parent": "root", "gadget": gadget.id})
        for port in gadget.inputs:
            contacts.append(
                {"id": f"{gid}.{port}", "group": gid, "name": port, "boundary": "input"}
            )
        for port in gadget.outputs:
            contacts.append(
                {"id": f"{gid}.{port}", "group": gid, "name": port, "boundary": "output"}
            )
    parents = {g["id"]: g["parent"] for g in groups}
    parents["root"] = None
    by_id = {c["id"]: c for c in contacts}

    def legal(a: dict[str, Any], b: dict[str, Any]) -> bool:
        ga, gb = a["group"], b["group"]
        if ga == gb:
            return True
        if parents.get(gb) == ga:
            return "boundary" in b
        if parents.get(ga) == gb:
            return "boundary" in a
        return parents.get(ga) == parents.get(gb) and "boundary" in a and "boundary" in b

    # Gadget ports are wired apart, without feedback: a gadget loop such as concat's result
    # fed back to its inputs grows its value on every step until the budget runs out.
    ports = {c["id"] for c in contacts if c["group"].startswith("gadget")}
    plain = [cid for cid in by_id if cid not in ports]
    pairs = [(a, b) for a in plain for b in plain if a < b and legal(by_id[a], by_id[b])]
    wires = []
    if pairs:
        chosen = draw(st.lists(st.sampled_from(pairs), max_size=10, unique=True))
        for a, b in chosen:
            wtype = draw(st.sampled_from(["bidirectional", "directed"]))
            wires.append({"from": a, "to": b, "type": wtype})
    wired = {w["from"] for w in wires} | {w["to"] for w in wires}
    sinks: set[str] = set()  # receive gadget outputs; wired to nothing else
    for c in contacts:
        if c["id"] not in ports or c["boundary"] != "output" or not draw(st.booleans()):
            continue
        free = [t for t in plain if t not in wired and legal(c, by_id[t])]
        if free:
            sink = draw(st.sampled_from(free))
            sinks.add(sink)
            wires.append({"from": c["id"], "to": sink, "type": "directed"})
    for c in contacts:
        if c["id"] not in ports or c["boundary"] != "input" or not draw(st.booleans()):
            continue
        sources = [f for f in plain if f not in sinks and legal(by_id[f], c)]
        if sources:
            wires.append(
                {"from": draw(st.sampled_from(sources)), "to": c["id"], "type": "directed"}
            )
    return parse_spec(
        {
            "format": "bassline/1",
            "id": draw(ids()),
            "version": "1",
            "metadata": {"author": "hypothesis"},
            "groups": groups,
            "contacts": contacts,
            "wires": wires,
        }
    )


@st.composite
def _holding(draw: st.DrawFn, lattice: str, witness: Any) -> Any:
    """An element of ``lattice`` that agrees with ``witness`` (joins of such never contradict)."""
    if lattice == "interval":
        lo = draw(st.none() | _numbers().map(lambda d: witness - abs(d)))
        hi = draw(st.none() | _numbers().map(lambda d: witness + abs(d)))
        return Interval(lo, hi)
    if lattice == "shrink-set":
        return ShrinkSet([witness, *draw(_set_elements())])
    if lattice == "grow-map":  # a part of the reference map; set values join by union
        return GrowMap(
            {
                key: draw(_set_elements().map(GrowSet)) if isinstance(value, GrowSet) else value
                for key, value in witness.items()
                if draw(st.booleans())
            }
        )
    if lattice == "defined":  # one value: any other contradicts it
        return witness
    return draw(lattice_values(lattice))  # grow-set, max, min: never contradict


def _witness(lattice: str) -> st.SearchStrategy[Any]:
    if lattice == "interval":
        return _numbers()
    if lattice == "shrink-set":
        return _set_elements(min_size=1).map(lambda xs: xs[0])
    if lattice == "grow-map":
        return lattice_values("grow-map")
    if lattice == "defined":
        return json_values(max_leaves=3)
    return st.none()


def lattice_network(
    lattice: str | None = None, max_contacts: int = 8, max_updates: int = 8
) -> st.SearchStrategy[tuple[Bassline, list[tuple[str, Any]]]]:
    """A network of merge contacts of one lattice with random wires, and updates to apply.

    Every contact joins with the same lattice, so any order of the updates must reach
    the same fixpoint (the property the engine's tests check). There are at least two
    contacts (when ``max_contacts`` allows), at least one wire and at least two updates
    (when ``max_updates`` allows), so the order has something to change. Most updates
    agree with one another: a contradiction ends the comparison of fixpoints, so only
    about one example in ten has one when the lattice is drawn (more for one lattice that
    can contradict, given by name: docs/testing.md). ``defined`` (not drawn) works too.
    A lattice of another name is a ValueError here, not a SpecError at the first draw.
    """
    if lattice is not None and (type(lattice) is not str or lattice not in _KNOWN.split(", ")):
        raise ValueError(f"no strategy for lattice {lattice!r}; known: {_KNOWN} (or None)")
    return _lattice_network(lattice, max_contacts, max_updates)


@st.composite
def _lattice_network(
    draw: st.DrawFn, lattice: str | None, max_contacts: int, max_updates: int
) -> tuple[Bassline, list[tuple[str, Any]]]:
    lat = lattice or draw(st.sampled_from(LATTICE_NAMES))
    n = draw(st.integers(min(2, max_contacts), max_contacts))
    contacts = [{"id": f"c{i}", "lattice": lat} for i in range(n)]
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    chosen = (
        draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=2 * n, unique=True))
        if pairs
        else []
    )
    wires = [
        {
            "id": f"w{k}",
            "from": f"c{a}",
            "to": f"c{b}",
            "type": draw(st.sampled_from(["bidirectional", "directed"])),
        }
        for k, (a, b) in enumerate(chosen)
    ]
    spec = parse_spec({"id": "lattice-net", "contacts": contacts, "wires": wires})
    witness = draw(_witness(lat))
    # one update in six is any element at all (and may contradict the others)
    value = st.sampled_from(range(6)).flatmap(
        lambda k: lattice_values(lat) if k == 0 else _holding(lat, witness)
    )
    updates = draw(
        st.lists(
            st.tuples(st.sampled_from([c["id"] for c in contacts]), value),
            min_size=min(2, max_updates),
            max_size=max_updates,
        )
    )
    return spec, updates
