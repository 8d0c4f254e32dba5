"""The justifications a delta carries (gossip protocol v2): the ``whys`` table.

Each delta item may end with an index into the delta's ``whys``, a table of distinct
references (items with the same reference share one entry). A stamp in an entry is
written as in the items, ``offset, node index`` against the delta's ``base`` and
``nodes``, except that the offset may be negative (a reference's stamp can be older
than every item's). The entries:

- ``["w", via]``: a write that first came in ``via`` (``"http"``, ``"cli"``, ...);
- ``["c", k]``: across a wire from the ``k``-th of the contacts wired into the item's
  contact, in sorted order of their ids (peers run the same spec, so the list is the same);
- ``["g", inputs]``: an output of the gadget group the item's contact belongs to; one
  input per input port of that gadget, in sorted order of the port names: ``0`` (the port
  had no content), ``1`` (at the stamp and with the value this delta carries for the
  port's contact), ``[offset, node]`` (at that stamp, with the value the receiver holds
  there), or ``[offset, node, value]`` (merge contacts, whose stamps may differ between
  replicas: the value used);
- any entry may end with ``offset, node``: the stamp the value had when that reference
  brought it, when an echo since gave it a newer one.

Entries are relative to the item's contact, so items with the same kind of reference
share one: every contact with one wire in is ``["c", 0]``, and the outputs of a gadget
chain whose inputs are all in the delta (or at the same explicit stamps) share one
``["g", ...]``. This module reads and writes the table without knowing the spec; the
meaning of ``k`` and of the input positions is resolved against it in
:mod:`bassline.net.carry`. Everything is checked
here for shape and size; a problem is a :class:`WhyProblem`, which the frame's parser
turns into a refusal ``bad-justification``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import attrs

from bassline.clock import Stamp
from bassline.codec import from_json
from bassline.content import ABSENT
from bassline.errors import ContentError

__all__ = [
    "MAX_INPUTS",
    "MAX_VIA",
    "WhyInput",
    "WhyProblem",
    "WhyRef",
    "encode_whys",
    "parse_whys",
    "via_ok",
]

MAX_VIA = 200
"""The longest ``via`` a delta may carry (characters)."""
MAX_INPUTS = 256
"""The most inputs one gadget entry may list."""
MAX_WIRE_INDEX = 1_000_000
_MAX_HLC = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@attrs.frozen
class WhyInput:
    """One gadget input (a port that had content) in a ``whys`` entry."""

    stamp: Stamp | None
    """None: the stamp this delta carries for the port's contact (with its value)."""
    value: Any = ABSENT
    """The value used (plain JSON when sending, content when received), or ABSENT."""
    contact: str = ""
    """Sending only: the port's contact (to find it among the delta's items)."""


@attrs.frozen
class WhyRef:
    """One ``whys`` entry: ``kind`` is ``w`` (write), ``c`` (wire) or ``g`` (gadget)."""

    kind: str
    via: str = ""
    wire: int = 0
    inputs: tuple[WhyInput | None, ...] = ()
    """A gadget's inputs by position (sorted port names); None: the port had no content."""
    kept: Stamp | None = None


def via_ok(via: object) -> bool:
    """Whether ``via`` may travel in a delta (a sender leaves out any other)."""
    return type(via) is str and 0 < len(via) <= MAX_VIA and _CONTROL.search(via) is None


# ---------------------------------------------------------------- writing


def encode_whys(
    refs: Sequence[WhyRef | None],
    rows: list[list[Any]],
    frame: dict[str, Stamp],
    stamp: Callable[[Stamp], list[Any]],
) -> list[Any]:
    """Append each item's ``whys`` index to its row (``refs`` aligned with ``rows``) and
    return the table. ``frame``: the stamp each contact has in this delta; ``stamp``
    writes a stamp as ``[offset, node index]``."""
    distinct = dict(zip(map(id, refs), refs, strict=True))
    if all(ref is not None and ref.kind != "g" for ref in distinct.values()):
        return _encode_shared(refs, rows, distinct, frame, stamp)
    table: dict[str, int] = {}
    entries: list[Any] = []
    seen: dict[int, int] = {}
    """A write's or a wire's entry by the reference object (the codec shares them; the
    entry does not depend on the delta), so each is encoded once."""
    for row, ref in zip(rows, refs, strict=True):
        if ref is None:
            continue
        shared = ref.kind != "g"
        if shared:
            k = seen.get(id(ref))  # refs holds every ref while this runs: ids are unique
            if k is not None:
                row.append(k)
                continue
        entry = _entry(ref, frame, stamp)
        key = repr(entry)  # entries are lists of str, int and plain JSON: repr is exact
        k = table.get(key)
        if k is None:
            k = table[key] = len(entries)
            entries.append(entry)
        if shared:
            seen[id(ref)] = k
        row.append(k)
    return entries


def _encode_shared(
    refs: Sequence[WhyRef | None],
    rows: list[list[Any]],
    distinct: dict[int, WhyRef | None],
    frame: dict[str, Stamp],
    stamp: Callable[[Stamp], list[Any]],
) -> list[Any]:
    """:func:`encode_whys` when every item has a write or wire reference (a few objects
    shared by all the items): each object encoded once, in the order of the rows that
    first name it, and the indexes appended to the rows in C loops."""
    table: dict[str, int] = {}
    entries: list[Any] = []
    index: dict[int, int] = {}
    for key, ref in distinct.items():
        assert ref is not None
        entry = _entry(ref, frame, stamp)
        k = table.setdefault(repr(entry), len(entries))
        if k == len(entries):
            entries.append(entry)
        index[key] = k
    deque(map(list.append, rows, map(index.__getitem__, map(id, refs))), maxlen=0)
    return entries


def _entry(ref: WhyRef, frame: dict[str, Stamp], stamp: Callable[[Stamp], list[Any]]) -> list[Any]:
    if ref.kind == "w":
        entry: list[Any] = ["w", ref.via]
    elif ref.kind == "c":
        entry = ["c", ref.wire]
    else:
        inputs: list[Any] = []
        for put in ref.inputs:
            if put is None:
                inputs.append(0)
            elif put.stamp is None or frame.get(put.contact) == put.stamp:
                inputs.append(1)
            elif put.value is ABSENT:
                inputs.append(stamp(put.stamp))
            else:
                inputs.append([*stamp(put.stamp), put.value])
        entry = ["g", inputs]
    if ref.kept is not None:
        entry += stamp(ref.kept)
    return entry


# ---------------------------------------------------------------- reading


class WhyProblem(ValueError):
    """A ``whys`` table that breaks the protocol (the frame is refused
    ``bad-justification``)."""


def _bad(message: str) -> WhyProblem:
    return WhyProblem(message)


def _stamp(data: list[Any], at: int, base: int, nodes: list[str], where: str) -> Stamp:
    offset, index = data[at], data[at + 1]
    if type(offset) is not int or not 0 <= base + offset <= _MAX_HLC:
        raise _bad(f"{where}: a stamp's clock offset must put it in [0, {_MAX_HLC}]")
    if type(index) is not int or not 0 <= index < len(nodes):
        raise _bad(f"{where}: a stamp's node index must index delta.nodes")
    return Stamp(base + offset, nodes[index])


def _name(value: Any, what: str, where: str) -> str:
    if not via_ok(value):
        raise _bad(f"{where}: {what} must be 1-{MAX_VIA} characters, no control characters")
    return str(value)


def _inputs(data: Any, base: int, nodes: list[str], where: str) -> tuple[WhyInput | None, ...]:
    if type(data) is not list or len(data) > MAX_INPUTS:
        raise _bad(f"{where}: a gadget's inputs must be a list of at most {MAX_INPUTS}")
    out: list[WhyInput | None] = []
    for n, put in enumerate(data):
        here = f"{where}[1][{n}]"
        if put == 0 and type(put) is int:
            out.append(None)
        elif put == 1 and type(put) is int:
            out.append(WhyInput(None))
        elif type(put) is list and len(put) in (2, 3):
            value = ABSENT
            if len(put) == 3:
                try:
                    value = from_json(put[2]) if type(put[2]) in (dict, list) else put[2]
                except ContentError as exc:
                    raise _bad(f"{here}[2]: {exc}") from None
            out.append(WhyInput(_stamp(put, 0, base, nodes, here), value))
        else:
            raise _bad(f"{here} must be 0, 1, [offset, node] or [offset, node, value]")
    return tuple(out)


def _ref(data: Any, base: int, nodes: list[str], where: str) -> WhyRef:
    if type(data) is not list or not data or data[0] not in ("w", "c", "g"):
        raise _bad(f'{where} must be a list starting with "w", "c" or "g"')
    kind = data[0]
    if len(data) not in (2, 4):
        raise _bad(f"{where} must have 2 elements, or 4 with a kept stamp")
    kept = _stamp(data, 2, base, nodes, where) if len(data) == 4 else None
    if kind == "w":
        return WhyRef("w", via=_name(data[1], "a write's via", where), kept=kept)
    if kind == "c":
        k = data[1]
        if type(k) is not int or not 0 <= k <= MAX_WIRE_INDEX:
            raise _bad(f"{where}: a wire's index must be a whole number in [0, {MAX_WIRE_INDEX}]")
        return WhyRef("c", wire=k, kept=kept)
    return WhyRef("g", inputs=_inputs(data[1], base, nodes, where), kept=kept)


def parse_whys(
    raw: Any, indexes: list[int | None], base: int, nodes: list[str]
) -> tuple[WhyRef | None, ...]:
    """The ``whys`` table read and checked; each item's entry (``indexes``: each row's
    fifth element, or None), aligned with the items."""
    if raw is None:
        if any(k is not None for k in indexes):
            raise _bad("delta.items name justifications but the delta has no whys")
        return ()
    if type(raw) is not list or len(raw) > len(indexes):
        raise _bad("delta.whys must be a list with at most one entry per item")
    table = [_ref(entry, base, nodes, f"delta.whys[{n}]") for n, entry in enumerate(raw)]
    if indexes and set(map(type, indexes)) == {int}:
        named = cast(list[int], indexes)
        if min(named) >= 0 and max(named) < len(table):  # every row names an entry
            return tuple(map(table.__getitem__, named))  # looked up in a C loop
    out: list[WhyRef | None] = []
    for n, k in enumerate(indexes):
        if k is None:
            out.append(None)
        elif type(k) is not int or not 0 <= k < len(table):
            raise _bad(f"delta.items[{n}][4] must index delta.whys (0-{len(table) - 1})")
        else:
            out.append(table[k])
    return tuple(out)
