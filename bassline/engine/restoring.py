"""Restoring stored contents into a network a column at a time (recovery from storage).

:meth:`~bassline.engine.Network.restore` and
:meth:`~bassline.engine.Network.restore_stored` (what a runtime restores from the records
storage loaded) set many contacts' contents, stamps and justifications at once. Rows
that are plainly good (known contacts, plain JSON content the codec encodes, merge
contacts' values their lattice takes) are checked and set with C loops (``map``, ``set``,
``compress``) rather than a Python step per row; whenever a column check says anything
but yes, every row goes the row-by-row way
(:func:`~bassline.engine.checks.checked_restore`), which names the first bad row exactly
as before. The checks are the same either way; only their form differs (D60, D66).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from itertools import chain, compress, repeat
from math import isfinite
from operator import and_, attrgetter, is_, is_not, ne, not_, setitem
from typing import TYPE_CHECKING, Any

import orjson

from bassline.clock import Stamp
from bassline.content import ABSENT
from bassline.engine.checks import checked_restore, plainly_encodable
from bassline.engine.justify import RESTORED, Write
from bassline.errors import ContentError

if TYPE_CHECKING:
    from bassline.engine.propagation import Propagator

__all__ = ["Restored", "all_plain_content", "restore_columns", "restore_rows", "restore_stored"]

_RESTORE_ITEM = "(contact, value, stamp) or (contact, value, stamp, stored justification)"
_SCALARS = frozenset({str, int, float, bool, type(None)})
_PLAIN = _SCALARS | {list, dict}
_WRITE_TEXT = '{"kind":"write"'
"""How the stored form of a write begins (others may too: each is decoded to be sure)."""
_LEVELS = 16
"""Nesting the column check follows; deeper content is checked value by value."""
_is_float = float.__instancecheck__
_is_list = list.__instancecheck__
_is_dict = dict.__instancecheck__
_GROUP = attrgetter("group")


def all_plain_content(values: Sequence[Any]) -> bool:
    """Whether every value is plain JSON content the codec encodes: strings of valid
    text, booleans, None, integers within 64 bits, finite floats, and lists and
    string-keyed dicts of them, at most 16 levels deep. The exact types are checked a
    nesting level at a time (C loops); one ``orjson.dumps`` of them all then refuses
    integers beyond 64 bits, lone surrogates and keys that are not strings, as the
    codec does (the way :func:`bassline.codec.encode_plain` checks). False says only
    that some value needs the full check."""
    level: Sequence[Any] = values
    floats: list[float] = []
    for _ in range(_LEVELS):
        types = set(map(type, level))
        if not types <= _PLAIN:
            return False
        if float in types:
            floats.extend(filter(_is_float, level))
        if list not in types and dict not in types:
            break
        below: list[Any] = []
        if list in types:
            below.extend(chain.from_iterable(level if len(types) == 1 else filter(_is_list, level)))
        if dict in types:
            dicts = list(filter(_is_dict, level))
            if not set(map(type, chain.from_iterable(dicts))) <= {str}:
                return False  # (a subclass of str is no key the codec takes)
            below.extend(chain.from_iterable(map(dict.values, dicts)))
        level = below
    else:
        return False
    try:
        orjson.dumps(values)
    except TypeError:  # orjson.JSONEncodeError
        return False
    return all(map(isfinite, floats))


def _plain_rows(net: Propagator, at: list[int], values: Sequence[Any]) -> list[Any] | None:
    """The values (merge contacts' coerced to their lattices) when every row is plainly
    good; None to go row by row."""
    if not any(net._kind):  # no merge contact (ACCEPT_LAST is 0)
        return list(values) if all_plain_content(values) else None
    lattices = list(map(net._lattice.__getitem__, at))
    # merge contacts: each value checked and coerced to its lattice, as row by row
    if not all_plain_content(list(compress(values, map(is_, lattices, repeat(None))))):
        return None
    out = list(values)
    for k in compress(range(len(out)), map(is_not, lattices, repeat(None))):
        value, lattice = out[k], lattices[k]
        assert lattice is not None
        try:
            if not plainly_encodable(value):
                net._check_content(at[k], value)
            out[k] = lattice.coerce(value)
        except (ContentError, ValueError, TypeError):
            return None
    return out


def _scatter(target: list[Any], at: list[int], column: Sequence[Any], whole: bool) -> None:
    """``target[i] = v`` for each ``i, v`` of ``at`` and ``column``, in order (a C loop;
    one slice when ``at`` is ``whole``: every index in order)."""
    if whole:
        target[:] = column
    else:
        deque(map(setitem, repeat(target), at, column), maxlen=0)


def restore_rows(net: Propagator, items: Iterable[Any]) -> None:
    """:meth:`~bassline.engine.Network.restore` (see there): rows that are all tuples of
    one width go a column at a time; any other shape row by row."""
    rows = items if type(items) is list else list(items)
    if rows and set(map(type, rows)) == {tuple} and set(map(len, rows)) in ({3}, {4}):
        columns = list(zip(*rows, strict=True))
        texts = columns[3] if len(columns) == 4 else [None] * len(rows)
        restore_columns(net, columns[0], columns[1], columns[2], texts)
    else:  # row by row, which names the first bad row
        at, values, stamps, whys = checked_restore(net, rows, _RESTORE_ITEM)
        restore_columns(net, list(map(net._ids.__getitem__, at)), values, stamps, whys)


def restore_columns(
    net: Propagator,
    contacts: Sequence[str],
    values: Sequence[Any],
    stamps: Sequence[Stamp],
    justifications: Sequence[str | None],
    at: list[int] | None = None,
) -> list[int]:
    """Restore rows given as columns of one length (ValueError otherwise), all or
    nothing, with the checks and errors of :meth:`~bassline.engine.Network.restore`;
    returns the contacts' indexes (``at``: known already)."""
    if not len(contacts) == len(values) == len(stamps) == len(justifications):
        raise ValueError(
            "restore_columns needs columns of one length, not "
            f"{len(contacts)}, {len(values)}, {len(stamps)} and {len(justifications)}"
        )
    plain: list[Any] | None = None
    try:
        if at is None:
            at = list(map(net._index.__getitem__, contacts))
        plain = _plain_rows(net, at, values)
    except (KeyError, TypeError):
        pass
    if at is None or plain is None:  # row by row: raises for the first bad row
        at, plain, stamps, justifications = checked_restore(
            net, zip(contacts, values, stamps, justifications, strict=True), _RESTORE_ITEM
        )
    if not at:
        return at
    # the newest stamp is the only one the clock must see (and the one that could be
    # implausibly far ahead)
    net.clock.observe(max(stamps))
    whys = _whys(net, at, stamps, justifications)
    n = len(net._values)
    whole = len(at) == n and at == list(range(n))
    _scatter(net._values, at, plain, whole)
    _scatter(net._stamps, at, stamps, whole)
    _scatter(net._why, at, whys, whole)
    return at


class Restored:
    """What :meth:`~bassline.engine.Network.restore_stored` restored: :attr:`ignored`
    and, once the network has settled, :meth:`differing`."""

    def __init__(
        self,
        net: Propagator,
        ignored: list[str],
        at: list[int],
        stamps: Sequence[Stamp],
        groups: Sequence[str],
        *,
        whole: bool,
    ) -> None:
        self.ignored = ignored
        """The rows' contacts that the network lacks (left out), sorted."""
        self._net, self._at, self._stamps, self._groups = net, at, stamps, groups
        self._whole = whole
        """``at`` is every contact's index, in order."""

    def differing(self) -> list[str]:
        """The contacts storage does not hold as they are now, in spec order: holding
        content whose stamp is not their row's, with no row, or with a row stored under
        another group than the spec's (a contact moved by a replaced spec)."""
        net, at = self._net, self._at
        spec_groups = list(map(_GROUP, net.spec.contacts))  # type: ignore[attr-defined]
        if self._whole and self._groups == spec_groups:
            # a row for every contact, each under its group: every contact holds content
            return list(compress(net._ids, map(ne, self._stamps, net._stamps)))
        stored: list[Stamp | None] = [None] * len(net._values)
        _scatter(stored, at, self._stamps, False)
        moved = list(map(ne, self._groups, map(spec_groups.__getitem__, at)))
        for k in compress(range(len(moved)), moved):
            stored[at[k]] = None
        held = map(is_not, net._values, repeat(ABSENT))
        return list(compress(net._ids, map(and_, held, map(ne, stored, net._stamps))))


def restore_stored(
    net: Propagator,
    contacts: Sequence[str],
    values: Sequence[Any],
    stamps: Sequence[Stamp],
    justifications: Sequence[str | None],
    groups: Sequence[str],
) -> Restored:
    """:meth:`~bassline.engine.Network.restore_stored` (see there)."""
    ignored: list[str] = []
    index = net._index
    try:
        # storage loads contents sorted by contact id, as the spec keeps its contacts:
        # with a row for every contact, the two lists are equal (no lookup needed)
        whole = contacts == net._ids
        at = list(range(len(contacts))) if whole else list(map(index.__getitem__, contacts))
    except KeyError:  # rows of contacts the spec lacks: left out
        keep = list(map(index.__contains__, contacts))
        ignored = sorted(compress(contacts, map(not_, keep)))
        contacts, values, stamps, justifications, groups = (
            list(compress(column, keep))
            for column in (contacts, values, stamps, justifications, groups)
        )
        at = list(map(index.__getitem__, contacts))
    at = restore_columns(net, contacts, values, stamps, justifications, at)
    return Restored(net, ignored, at, stamps, groups, whole=whole)


def _whys(
    net: Propagator, at: list[int], stamps: Sequence[Stamp], texts: Sequence[str | None]
) -> list[Any]:
    """The engine reference of each row's stored justification: each distinct text
    decoded once; rows whose text is not a write (which fits any contact) are resolved
    one by one for their contact and stamp."""
    forms = net._stored  # type: ignore[attr-defined]
    table: dict[Any, Write] = {None: RESTORED}
    try:
        distinct = set(texts)
    except TypeError:  # something unhashable: not text, restored without a justification
        distinct = set()
    for text in distinct:
        # (other kinds are decoded row by row below, for their contact: not twice)
        if type(text) is str and text.startswith(_WRITE_TEXT):
            why = forms.restore(text, None)  # a write's reference is the same for any lattice
            if type(why) is Write:
                table[text] = why
    whys: list[Any] = list(map(table.get, texts)) if distinct else [None] * len(texts)
    if None in whys:
        why_of, lattices = forms.restorer(), net._lattice
        for k in compress(range(len(whys)), map(is_, whys, repeat(None))):
            i = at[k]
            text = texts[k]
            whys[k] = RESTORED if text is None else why_of(text, lattices[i], i, stamps[k])
    return whys
