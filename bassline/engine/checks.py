"""Checks on incoming content and stamps, and the stamp rules of derived values."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat
from operator import is_, itemgetter
from typing import TYPE_CHECKING, Any

from bassline.clock import NODE_ID_RULE, Stamp, is_node_id, is_stamp_node
from bassline.codec import encode
from bassline.content import ABSENT, lists_for_tuples
from bassline.errors import ContentError
from bassline.lattices import Interval

if TYPE_CHECKING:
    from bassline.spec import Bassline

__all__ = [
    "all_plainly_encodable",
    "check_engine_options",
    "checked_batch",
    "checked_item",
    "checked_restore",
    "checked_stamp",
    "derived_stamp",
    "gadget_groups",
    "kind_of",
    "plain_applied",
    "plainly_encodable",
    "tie_wins",
]


def plainly_encodable(value: Any) -> bool:
    """A quick yes for scalars and flat lists of scalars (anything else gets the full check)."""
    t = type(value)  # scalars first, without a call: this runs on every update
    if t is str:
        return bool(value.isascii())  # O(1); other text is checked for lone surrogates
    if t is bool or value is None:
        return True
    if t is int:
        return bool(-(2**63) <= value < 2**64)
    if t is float:
        return bool(value - value == 0)
    if t is Interval:  # bounds: None, a finite float or an int in the codec's range
        for x in (value.lo, value.hi):
            if x is None or (type(x) is float and x - x == 0):
                continue
            if type(x) is not int or not -(2**63) <= x < 2**64:
                return False
        return value.lo is None or value.hi is None or value.lo <= value.hi  # empty: no content
    if t is list and len(value) <= 16:
        for x in value:  # the scalar check inlined: this runs on every update
            t = type(x)
            if (t is str and x.isascii()) or t is bool or x is None:
                continue
            if t is int:
                if -(2**63) <= x < 2**64:
                    continue
                return False
            if t is not float or x - x != 0:
                return False
        return True
    return False


def all_plainly_encodable(values: list[Any]) -> bool:
    """Whether :func:`plainly_encodable` says yes to every value (text at C speed)."""
    if set(map(type, values)) == {str}:
        return all(map(str.isascii, values))
    return all(map(plainly_encodable, values))


def plain_applied(
    items: list[Any], index: dict[str, int], lattices: list[Any]
) -> tuple[list[int], tuple[Any, ...], tuple[Stamp, ...], tuple[Any, ...] | None, Stamp] | None:
    """The columns of a batch :meth:`~bassline.engine.Network.apply` takes when every item
    is plainly good, checked a column at a time (C loops): contact indexes, values,
    stamps, and justifications (None: no item has one); then a stamp with the newest
    clock reading (what the clock observes). None when anything needs the
    item-by-item checks (which name the first bad item): an item of another shape, an
    unknown contact, a merge contact, a value that is not plain data, a stamp that is
    not a :class:`~bassline.clock.Stamp` in range with a good node id."""
    if not items or set(map(type, items)) != {tuple}:
        return None
    try:
        columns = list(zip(*items, strict=True))  # ValueError: widths differ
    except ValueError:
        return None
    if len(columns) != 3 and len(columns) != 4:
        return None
    cids, values, stamps = columns[:3]
    try:
        at = list(map(index.__getitem__, cids))
    except (KeyError, TypeError):
        return None
    if not all(map(is_, map(lattices.__getitem__, at), repeat(None))):
        return None  # a merge contact: its lattice checks the value's kind
    if not all_plainly_encodable(values):  # type: ignore[arg-type]
        return None
    if set(map(type, stamps)) != {Stamp}:
        return None
    hlcs = list(map(itemgetter(0), stamps))
    newest = max(hlcs)  # ints compared: not the stamps, tuples (a call per element)
    if set(map(type, hlcs)) != {int} or min(hlcs) < 0 or newest >= 2**63:
        return None
    for node in set(map(itemgetter(1), stamps)):
        if type(node) is not str or not is_stamp_node(node):
            return None
    carried = columns[3] if len(columns) == 4 else None
    if carried is not None and all(map(is_, carried, repeat(None))):
        carried = None  # (not count(None): that compares each with ==, a call for attrs)
    return at, values, stamps, carried, stamps[hlcs.index(newest)]


def checked_batch(net: Any, batch: list[Any], shape: str) -> list[tuple[int, Any, Stamp, Any]]:
    """``(index, value, stamp, carried)`` of each item of a batch the
    :class:`~bassline.engine.Network` ``net`` applies, checked one by one (raising for the
    first bad one; ``shape`` describes an item)."""
    checked: list[tuple[int, Any, Stamp, Any]] = []
    nodes: set[str] = set()
    index, lattices, append = net._index, net._lattice, checked.append
    for item in batch:
        if type(item) is not tuple or not 3 <= len(item) <= 4:
            checked_item(item, 3, 4, shape)
        cid, value = item[0], item[1]
        i = index.get(cid) if type(cid) is str else None
        if i is None:
            i = net._idx(cid)  # raises UnknownContact
        if not plainly_encodable(value):
            net._check_content(i, value)  # the full check, for anything but plain data
            value = lists_for_tuples(value)  # held as the lists they stand for (D69)
        if lattices[i] is not None:
            net._check_kind(i, value)
        carried = item[3] if len(item) > 3 else None
        append((i, value, checked_stamp(cid, item[2], nodes), carried))
    return checked


def checked_restore(
    net: Any, items: Iterable[Any], shape: str
) -> tuple[list[int], list[Any], list[Stamp], list[str | None]]:
    """The columns of a :meth:`~bassline.engine.Network.restore` of ``items`` (contact
    indexes, values coerced to their lattices, stamps, stored justifications), every row
    checked before anything changes: :class:`TypeError` for a row not of ``shape``,
    UnknownContact, or ContentError for content that cannot be stored."""
    # flat columns, not a tuple per row: nothing here for the garbage collector to trace
    indexes: list[int] = []
    values: list[Any] = []
    stamps: list[Stamp] = []
    texts: list[str | None] = []
    index, lattices = net._index, net._lattice
    for item in items:
        if type(item) is not tuple or not 3 <= len(item) <= 4:
            checked_item(item, 3, 4, shape)
        cid, value, stamp = item[0], item[1], item[2]
        try:
            i = index[cid]
        except (KeyError, TypeError):
            i = net._idx(cid)  # raises UnknownContact
        if not plainly_encodable(value):
            net._check_content(i, value)
            value = lists_for_tuples(value)
        lattice = lattices[i]
        if lattice is not None:
            try:
                value = lattice.coerce(value)
            except (ValueError, TypeError) as exc:
                raise ContentError(
                    f"stored value is not a valid {lattice.name}: {exc}", cid
                ) from None
        indexes.append(i)
        values.append(value)
        stamps.append(stamp)
        texts.append(item[3] if len(item) > 3 else None)
    return indexes, values, stamps, texts


def tie_wins(incoming: Any, current: Any) -> bool:
    """Deterministic order of two values written with the same stamp."""
    if current is ABSENT:
        return True
    t = type(incoming)
    if t is type(current) and (t is str or t is int) and incoming == current:
        return False  # the same value (a replica's copy came back): equal encodings
    return encode(incoming) > encode(current)


_KINDS: dict[type[Any], str] = {
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
    list: "list",
    tuple: "list",
    dict: "object",
}


def kind_of(value: Any) -> str:
    """What kind of content ``value`` is, in words ("string", "list", "grow-set", ...)."""
    kind = _KINDS.get(type(value))
    if kind is None:
        tag = getattr(type(value), "tag", None)
        kind = tag if isinstance(tag, str) else type(value).__name__
    return kind


def checked_stamp(contact: str, stamp: Any, nodes: set[str]) -> Stamp:
    """``stamp`` as a Stamp, or ValueError naming the contact if it is not one storage and
    peers would accept (a clock reading in [0, 2**63) and a node id, or ``""``). ``nodes``
    holds the nodes found good so far (each distinct node is checked once per batch)."""
    if (
        isinstance(stamp, tuple)
        and len(stamp) == 2
        and type(stamp[0]) is int
        and 0 <= stamp[0] < 2**63
        and type(stamp[1]) is str
    ):
        node = stamp[1]
        if node in nodes or is_stamp_node(node):
            nodes.add(node)
            return stamp if type(stamp) is Stamp else Stamp(*stamp)
    raise ValueError(
        f"contact {contact!r}: {stamp!r:.120} is not a stamp (a clock reading in [0, 2**63) and "
        "a node id)"
    )


def derived_stamp(premise: Stamp, previous: Stamp) -> Stamp:
    """The stamp of a gadget output: its newest input's, or just past the output's own.

    Carrying the premise's stamp means a derived value never overwrites the write it was
    derived from (a Celsius/Fahrenheit loop settles on the user's value); stepping past the
    previous output means a recomputation always replaces the stale result, everywhere.
    """
    if premise > previous:
        return premise
    return Stamp(previous.hlc + 1, premise.node)


def checked_item(item: Any, least: int, most: int, shape: str) -> None:
    """Refuse an item of a batch verb that is not a tuple or list of ``least`` to ``most``
    elements (``shape`` says which), with a :class:`TypeError` instead of a failed unpacking
    or, for a string, its characters taken as the elements."""
    if isinstance(item, (tuple, list)) and least <= len(item) <= most:
        return
    raise TypeError(f"each item must be {shape}, got {item!r:.100}")


def check_engine_options(node_id: object, step_budget: object) -> None:
    """:class:`ValueError` for a node id that is not a non-empty string of at most 200
    characters without control characters (what gossip carries), or a step budget that is
    not a whole number from 1 (or None)."""
    if not is_node_id(node_id):
        raise ValueError(f"{NODE_ID_RULE}, not {node_id!r:.80}")
    if step_budget is not None and (type(step_budget) is not int or step_budget < 1):
        raise ValueError(f"step_budget must be a whole number >= 1 or None, not {step_budget!r}")


def gadget_groups(spec: Bassline, groups: Iterable[str]) -> frozenset[str]:
    """``groups`` as a set, or :class:`ValueError` naming the ids that are not gadget
    groups of ``spec`` (a string is refused, not taken as its characters)."""
    if isinstance(groups, str):
        raise ValueError(f"groups must be a collection of group ids, not the string {groups!r}")
    wanted = frozenset(groups)
    by_id = spec.group_by_id
    bad = sorted(g for g in wanted if g not in by_id or not by_id[g].gadget)
    if bad:
        raise ValueError(f"not gadget groups of network {spec.id!r}: {', '.join(map(repr, bad))}")
    return wanted
