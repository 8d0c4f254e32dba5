"""The entries of a delta a node sends: each contact's current content as plain JSON,
its justification on the wire, or an announcement (contact and stamp) for an origin the
peer pruned.

Each change is made ready to send once and cached (``cache``: per contact, the value,
stamp, JSON form, log position and justification on the wire); a delta whose every
contact is cached for its current log entry (built for another peer already) is
gathered in C loops. What each change is (a write stamped by an origin, or a change
always sent) is noted in the change log as it is made ready, so that other links part
their deltas from the notes, and those whose peer pruned the origin quietly leave it out
as they read the log (:meth:`ChangeLog.since_noted`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from operator import add, and_, attrgetter, is_, is_not, itemgetter, not_
from typing import Any

from bassline.clock import Stamp
from bassline.codec import to_json
from bassline.content import ABSENT
from bassline.engine.carried import CarriedWrite
from bassline.net.carry import CarryCodec
from bassline.net.changelog import UNNOTED, ChangeLog
from bassline.net.wire_whys import WhyRef
from bassline.runtime import Runtime
from bassline.spec import Bassline, WireType

__all__ = [
    "Cached",
    "Entry",
    "applied_notes",
    "cache_sent",
    "derivable",
    "entries",
    "leave_out",
    "link_entries",
]

_WRITES = frozenset({CarriedWrite, type(None)})
_KEPT, _NODE = attrgetter("stamp"), attrgetter("node")
_CARRIED = itemgetter(3)

Entry = tuple[str, Any, Stamp]
"""A delta item: contact, value as plain JSON, stamp."""
Cached = tuple[Any, Stamp, Any, int, WhyRef | None]
"""A contact's change made ready to send: value, stamp, JSON form, log position, and its
justification on the wire."""


def entries(
    runtime: Runtime,
    codec: CarryCodec,
    cache: dict[str, Cached],
    merge: frozenset[str],
    log: ChangeLog,
    ids: list[str],
    lazy: set[str] | tuple[()],
    noted: bool = False,
) -> tuple[list[Entry], list[WhyRef | None], list[tuple[str, Stamp]], list[bool]]:
    """The delta entries for ``ids``: items (plain JSON values) with their whys, the
    announced changes (origins in ``lazy``), and per entry in order whether it is
    announced. Contacts without content are left out. ``noted``: each of ``ids`` is
    noted in ``log`` already (:meth:`ChangeLog.note_writes`), not noted again."""
    cached = _all_cached(cache, log, ids, lazy)
    if cached is None:
        cached = _plain_writes(runtime, codec, cache, merge, log, ids, lazy, noted)
    if cached is not None:
        return cached
    seq_of = log.seq_of
    items = []
    whys: list[WhyRef | None] = []
    have: list[tuple[str, Stamp]] = []
    order: list[bool] = []
    for cid in ids:
        value, stamp = runtime.stamped(cid)
        if value is ABSENT:
            continue
        if lazy and stamp.node in lazy and cid not in merge:
            carried = runtime.carried_justification(cid)
            if type(carried) is CarriedWrite and carried.stamp is None:
                have.append((cid, stamp))
                order.append(True)
                continue
        seq = seq_of(cid)
        hit = cache.get(cid)
        # the same log entry (a justification that changed was logged as a change)
        if hit is not None and hit[3] == seq and hit[0] is value and hit[1] == stamp:
            plain, why = hit[2], hit[4]
        else:
            plain = to_json(value)
            why = codec.to_wire(cid, runtime.carried_justification(cid))
            cache[cid] = (value, stamp, plain, seq, why)
        items.append((cid, plain, stamp))
        whys.append(why)
        order.append(False)
    return items, whys, have, order


def applied_notes(
    ids: Sequence[str],
    stamps: Sequence[Stamp],
    items: list[tuple[str, Any, Stamp, Any]],
    merge: frozenset[str],
    derived: frozenset[str],
) -> Iterable[str | None] | None:
    """What each change ``ids`` (stamped ``stamps``) is (:meth:`ChangeLog.note_writes`),
    made by a run that took a peer's ``items`` as they were sent, when every item's
    justification is one write without a kept stamp (a peer's usual delta) and no
    contact changed may take a value from a wire or a gadget (``derived``): each a
    write stamped by its origin, or on a merge contact always sent. The contacts hold
    the items' justification then, so this is what reading it back notes. None for
    anything else (noted when first made ready, as before)."""
    first = items[0][3] if items else None
    if type(first) is not CarriedWrite or first.stamp is not None:
        return None
    if not all(map(is_, map(_CARRIED, items), repeat(first))):
        return None
    if derived and not derived.isdisjoint(ids):
        return None
    if merge and not merge.isdisjoint(ids):
        return [None if cid in merge else s.node for cid, s in zip(ids, stamps, strict=True)]
    return map(_NODE, stamps)


def cache_sent(
    codec: CarryCodec | None,
    cache: dict[str, Cached],
    ids: Sequence[str],
    values: Sequence[Any],
    stamps: Sequence[Stamp],
    items: list[tuple[str, Any, Stamp, Any]],
    first: int,
) -> None:
    """Cache the changes a run just logged from ``first`` on, in order, as made ready to
    send (as :func:`entries` caches them): a run that took a peer's items as they were
    sent, every contact now holding its item's value and justification, one write
    without a kept stamp shared by ``items`` (when :func:`applied_notes` notes them). A
    link that forwards them reads neither the contents nor the justifications back."""
    if not ids or codec is None:
        return
    # only ASCII strings, their own plain JSON (what to_json returns for them): others are
    # converted when a link first sends them, not on every node that receives them
    if set(map(type, values)) != {str} or not all(map(str.isascii, values)):
        return
    why = codec.to_wire(ids[0], items[0][3])  # a write's reference names no contact
    n = len(ids)
    ready = zip(values, stamps, values, range(first, first + n), repeat(why, n), strict=True)
    cache.update(zip(ids, ready, strict=True))


def derivable(spec: Bassline) -> frozenset[str]:
    """The contacts of ``spec`` that may take a value from a wire or a gadget: every
    wire's target (and a two-way wire's source), every contact of a gadget group."""
    gadgets = {g.id for g in spec.groups if g.gadget is not None}
    ends = {w.target for w in spec.wires}
    ends.update(w.source for w in spec.wires if w.type is WireType.BIDIRECTIONAL)
    return frozenset(ends.union(c.id for c in spec.contacts if c.group in gadgets))


def leave_out(
    have: list[tuple[str, Stamp]], order: list[bool], quiet: set[str]
) -> tuple[list[tuple[str, Stamp]], list[bool]]:
    """``have`` and ``order`` (as :func:`entries` returns them) without the announcements
    of changes stamped by an origin in ``quiet`` (the peer pruned it quietly)."""
    kept = [stamp.node not in quiet for _, stamp in have]
    if all(kept):
        return have, order
    if not any(kept):  # all of them left out
        return [], [False] * order.count(False)
    marks = iter(kept)  # an announced entry (True in order) is kept when its mark is
    return list(compress(have, kept)), [o for o in order if not o or next(marks)]


def link_entries(
    runtime: Runtime,
    codec: CarryCodec,
    cache: dict[str, Cached],
    merge: frozenset[str],
    log: ChangeLog,
    ids: list[str],
    lazy: set[str] | tuple[()],
    quiet: set[str] | tuple[()],
    notes: list[Any] | None = None,
) -> tuple[list[Entry], list[WhyRef | None], list[tuple[str, Stamp]], list[bool], int]:
    """:func:`entries` for a link whose peer pruned ``lazy`` (``quiet``: of those, the
    ones pruned quietly), and how many changes were left out: those that would be
    announced, of origins in ``quiet``. Parted first where the runtime reads contents a
    column at a time, so that the items alone are made ready (cached for another peer,
    most often) and nothing is spent on what is left out. ``notes``: what each of
    ``ids`` was noted as, when read with them (:meth:`ChangeLog.since_noted`)."""
    split = None
    noted = False
    if lazy:
        if notes is None:
            notes = log.notes_of(ids)
        if UNNOTED in notes:
            split = _split_lazy(runtime, merge, log, ids, lazy, quiet)
        elif True in (marks := list(map(lazy.__contains__, notes))):
            split = _split_noted(runtime, ids, notes, marks, quiet)
        else:  # every change noted, none of an origin the peer pruned: all sent
            lazy, noted = (), True
    if split is None:
        items, whys, have, order = entries(runtime, codec, cache, merge, log, ids, lazy, noted)
        if not (have and quiet):
            return items, whys, have, order, 0
        announced = len(have)
        have, order = leave_out(have, order, quiet)
        return items, whys, have, order, announced - len(have)
    sent, have, order = split
    items, whys, _, _ = entries(runtime, codec, cache, merge, log, sent, (), True)
    return items, whys, have, order, len(ids) - len(order)


def _split_lazy(
    runtime: Runtime,
    merge: frozenset[str],
    log: ChangeLog,
    ids: list[str],
    lazy: set[str] | tuple[()],
    quiet: set[str] | tuple[()],
) -> tuple[list[str], list[tuple[str, Stamp]], list[bool]] | None:
    """``ids`` parted, when some change is stamped by an origin in ``lazy``: the contacts
    to send, the announced changes, and per entry in order whether it is announced; the
    changes of origins in ``quiet`` that would be announced are left out. A change is
    announced when it is a write (no kept stamp) to a contact that is not a merge
    contact, as in :func:`entries`. None when no change is lazy, a contact has no
    content, or the runtime does not read contents a column at a time. What each change
    stamped by an origin in ``lazy`` is gets noted in ``log`` (a write's origin, or None:
    :meth:`ChangeLog.note_writes`)."""
    contents_of = getattr(runtime, "contents_of", None)  # neither is in the
    carried_of = getattr(runtime, "carried_justifications", None)  # Runtime protocol
    if contents_of is None or carried_of is None:
        return None
    values, stamps = contents_of(ids)
    marks = list(map(lazy.__contains__, map(_NODE, stamps)))
    if True not in marks or any(map(is_, values, repeat(ABSENT))):
        return None
    at = list(compress(range(len(ids)), marks))
    codes = [_SEND] * len(ids)  # per entry: sent, announced or left out
    for k, why in zip(at, carried_of(list(compress(ids, marks))), strict=True):
        if type(why) is CarriedWrite and why.stamp is None and ids[k] not in merge:
            codes[k] = _LEFT_OUT if stamps[k].node in quiet else _ANNOUNCED
    noted = [ids[k] for k in at]  # the lazy origins' changes: writes or always sent
    log.note_writes(log.seqs_of(noted), [stamps[k].node if codes[k] else None for k in at])
    sent = list(compress(ids, map(_SEND.__eq__, codes)))
    have = list(compress(zip(ids, stamps, strict=True), map(_ANNOUNCED.__eq__, codes)))
    return sent, have, list(map(_ANNOUNCED.__eq__, filter(_LEFT_OUT.__ne__, codes)))


_SEND, _ANNOUNCED, _LEFT_OUT = 0, 1, 2


def _split_noted(
    runtime: Runtime,
    ids: list[str],
    notes: list[Any],
    marks: list[bool],
    quiet: set[str] | tuple[()],
) -> tuple[list[str], list[tuple[str, Stamp]], list[bool]] | None:
    """:func:`_split_lazy` for changes all noted in the log (``notes``: each one's
    origin when it is a write, else None; ``marks``: whether that origin is one the peer
    pruned), the contents read only for the stamps of the announced changes. None when
    the runtime does not read contents a column at a time."""
    contents_of = getattr(runtime, "contents_of", None)  # not in the Runtime protocol
    if contents_of is None:
        return None
    # per entry: sent (0), announced (1) or left out (2)
    codes = list(map(add, marks, map(and_, marks, map(quiet.__contains__, notes))))
    sent = list(compress(ids, map(_SEND.__eq__, codes)))
    announced = list(compress(ids, map(_ANNOUNCED.__eq__, codes)))
    have = list(zip(announced, contents_of(announced)[1], strict=True)) if announced else []
    return sent, have, list(map(_ANNOUNCED.__eq__, filter(_LEFT_OUT.__ne__, codes)))


def _all_cached(
    cache: dict[str, Cached],
    log: ChangeLog,
    ids: list[str],
    lazy: set[str] | tuple[()],
) -> tuple[list[Entry], list[WhyRef | None], list[tuple[str, Stamp]], list[bool]] | None:
    """:func:`entries` when every contact's cache entry is for its current log entry and
    none is announced, gathered in C loops; None otherwise. The runtime is not read: a
    contact's content changes only with a new log entry (every change is logged as it
    is made, the content digest counts on it too), so an entry made ready for the
    contact's current log entry holds its current content."""
    hits: list[Any] = list(map(cache.get, ids))
    if None in hits or list(map(itemgetter(3), hits)) != log.seqs_of(ids):
        return None
    stamps = list(map(itemgetter(1), hits))
    if lazy and not lazy.isdisjoint(map(_NODE, stamps)):
        return None
    items = list(zip(ids, map(itemgetter(2), hits), stamps, strict=True))
    return items, list(map(itemgetter(4), hits)), [], [False] * len(ids)


def _plain_writes(
    runtime: Runtime,
    codec: CarryCodec,
    cache: dict[str, Cached],
    merge: frozenset[str],
    log: ChangeLog,
    ids: list[str],
    lazy: set[str] | tuple[()],
    noted: bool,
) -> tuple[list[Entry], list[WhyRef | None], list[tuple[str, Stamp]], list[bool]] | None:
    """:func:`entries` when every contact holds content justified by a write without a
    kept stamp, or by nothing (a node's own writes, its peers' values), made ready in C
    loops and cached, what each change is noted in ``log`` unless ``noted`` (a write's
    origin, or None: :meth:`ChangeLog.note_writes`); None otherwise."""
    contents_of = getattr(runtime, "contents_of", None)  # neither is in the
    carried_of = getattr(runtime, "carried_justifications", None)  # Runtime protocol
    if contents_of is None or carried_of is None:
        return None
    values, stamps = contents_of(ids)
    if any(map(is_, values, repeat(ABSENT))):
        return None
    carried: list[Any] = carried_of(ids)
    one = carried[0] if carried else None
    shared = all(map(is_, carried, repeat(one)))  # one write's (a batch's), or none
    if shared:
        if one is not None and (type(one) is not CarriedWrite or one.stamp is not None):
            return None
    elif not set(map(type, carried)) <= _WRITES or any(
        map(is_not, map(_KEPT, filter(None, carried)), repeat(None))
    ):
        return None
    have: list[tuple[str, Stamp]] = []
    order: list[bool] = []
    seqs = log.seqs_of(ids)
    # a write, announced to a peer that pruned its origin (unless on a merge contact)
    writes = [one is not None] * len(ids) if shared else list(map(bool, carried))
    if merge:
        writes = list(map(and_, writes, map(not_, map(merge.__contains__, ids))))
    if not noted and False in writes:  # always sent
        log.note_writes(compress(seqs, map(not_, writes)), repeat(None, writes.count(False)))
    if not noted and True in writes:
        log.note_writes(compress(seqs, writes), map(_NODE, compress(stamps, writes)))
    if lazy and not lazy.isdisjoint(map(_NODE, stamps)):
        order = list(map(and_, map(lazy.__contains__, map(_NODE, stamps)), writes))
        if True in order:
            have = list(compress(zip(ids, stamps, strict=True), order))
            sent = list(map(not_, order))
            ids, values = list(compress(ids, sent)), list(compress(values, sent))
            stamps, carried = list(compress(stamps, sent)), list(compress(carried, sent))
            seqs = list(compress(seqs, sent))
    if set(map(type, values)) == {str} and all(map(str.isascii, values)):
        plain: list[Any] = values  # its own plain JSON (what to_json returns for it)
    else:
        plain = list(map(to_json, values))
    # one wire reference per distinct justification (a write's does not name its contact)
    if shared:
        whys = [codec.to_wire(ids[0], one) if ids else None] * len(ids)
    else:
        distinct = dict(zip(map(id, carried), zip(ids, carried, strict=True), strict=True))
        wire = {key: codec.to_wire(cid, why) for key, (cid, why) in distinct.items()}
        whys = list(map(wire.__getitem__, map(id, carried)))
    ready = zip(values, stamps, plain, seqs, whys, strict=True)
    cache.update(zip(ids, ready, strict=True))
    return list(zip(ids, plain, stamps, strict=True)), whys, have, order or [False] * len(ids)
