"""A node's change log: a local sequence number for every change of a contact.

Every time a contact's ``(value, stamp)`` changes on this node — a local write, a
gadget's output, a wire's propagation, or a value applied from a peer — the contact
moves to the end of the log with the next sequence number. A peer that has applied
this log up to ``seq`` needs exactly the current contents of the contacts whose latest
sequence number is above ``seq``. The log holds one entry per contact, so it is bounded
by the size of the network, never by the number of updates.

An entry may name the peer whose value it is (``skip``): that peer already holds it, so
it is not echoed back. The node keys it by the peer's incarnation (node id and log
epoch): a peer that restarts may have lost the value, and is sent it again. Another peer
that sends the same value later holds it too (:meth:`ChangeLog.hold`): where links form
cycles, a change reaches a node over several of them, and is not sent back over any.

An entry may also be noted, by whoever first makes it ready to send, as a write stamped
by an origin or as a change always sent (:meth:`ChangeLog.note_writes`): a link whose
peer pruned that origin quietly leaves it out as the log is read, without reading the
contact (protocol v5, D66), and one whose peer pruned it otherwise parts its deltas
from the notes.
"""

from __future__ import annotations

import secrets
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Hashable, Iterable
from itertools import compress, repeat
from operator import and_, eq, gt, ne, not_
from typing import Any

import anyio

__all__ = ["UNNOTED", "ChangeLog", "Unnoted"]


class Unnoted:
    """The type of :data:`UNNOTED`."""

    def __repr__(self) -> str:
        return "UNNOTED"


UNNOTED = Unnoted()
"""An entry not noted as a write nor as a change always sent (:meth:`ChangeLog.notes_of`)."""


class _Holders(set[Hashable]):
    """Several peers that hold a contact's latest change (a set, told apart from a key).

    Compared with a key (not a set), it is equal when it holds that key: the log's read
    compares each entry's holder with the peer's key in one C loop (``operator.ne``),
    whether one peer or several hold it."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (set, frozenset)):
            return set.__eq__(self, other)
        return other in self

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None


class ChangeLog:
    """Contacts in order of their latest change, with the sequence number of that change."""

    def __init__(self, epoch: str | None = None) -> None:
        self.epoch = epoch or secrets.token_hex(8)
        """Identifies this log's incarnation: sequence numbers restart with a new epoch."""
        self.head = 0
        """The sequence number of the latest change."""
        self._latest: dict[str, int] = {}
        self._held: list[Any] = []
        """Per entry (aligned with ``_seqs`` and ``_ids``): who holds that change (a key,
        several as :class:`_Holders`), or None. Read as slices with the log."""
        self._seqs: list[int] = []
        self._ids: list[str] = []
        self._writes: dict[int, str | None] = {}
        """Per sequence number of an entry noted: a write's origin, or None (see
        note_writes)."""
        self._dead = 0
        """Every entry after this sequence number is live (its contact's latest)."""
        self._changed = anyio.Event()
        self._waiting = 0
        """Tasks inside :meth:`wait_beyond` or :meth:`wait_notified` (see notify)."""

    def __len__(self) -> int:
        return len(self._latest)

    def record(self, contact: str, skip: Hashable | None = None) -> None:
        """Note a change of ``contact``; ``skip`` names a peer that already has the value."""
        self.head += 1
        before = self._latest.get(contact, 0)
        if before > self._dead:
            self._dead = before
        self._latest[contact] = self.head
        self._seqs.append(self.head)
        self._ids.append(contact)
        self._held.append(skip)
        if len(self._seqs) > 2 * len(self._latest) + 1024:
            self._compact()

    def hold(self, contact: str, holder: Hashable) -> None:
        """Note that ``holder`` has ``contact``'s latest change too, so it is not sent it."""
        seq = self._latest.get(contact)
        if seq is None:
            return
        at = bisect_left(self._seqs, seq)  # its latest entry
        held = self._held[at]
        if held is None:
            self._held[at] = holder
        elif isinstance(held, _Holders):
            held.add(holder)
        elif held != holder:
            self._held[at] = _Holders((held, holder))

    def hold_all(self, contacts: list[str], holder: Hashable) -> None:
        """:meth:`hold` each of ``contacts`` (a peer's announcements), a column at a time
        when none was noted yet or each has one other holder."""
        latest = self._latest
        if latest.keys() >= set(contacts):
            # each one's latest entry, found by bisection in C loops
            at = list(map(bisect_left, repeat(self._seqs), map(latest.__getitem__, contacts)))
            held: list[Any] = list(map(self._held.__getitem__, at))
            kinds = set(map(type, held))
            if kinds == {type(None)}:  # nobody noted yet
                list(map(self._held.__setitem__, at, repeat(holder)))
                return
            if type(None) not in kinds and _Holders not in kinds:
                # one other holder each (the peer each came from): now both
                both = map(_Holders, zip(held, repeat(holder)))
                list(map(self._held.__setitem__, at, both))
                return
        for cid in contacts:
            self.hold(cid, holder)

    def holders(self, contact: str) -> Iterable[Hashable]:
        """Who is known to hold ``contact``'s latest change (the peer it came from first,
        then others that sent it too; empty when it was not received from a peer)."""
        seq = self._latest.get(contact)
        if seq is None:
            return ()
        held = self._held[bisect_left(self._seqs, seq)]
        if held is None:
            return ()
        return held if isinstance(held, _Holders) else (held,)

    def record_many(self, contacts: Iterable[str]) -> None:
        """Note changes of several contacts (no skip) and wake waiting pushers once."""
        self.record_all(list(contacts))
        self.notify()

    def record_all(
        self,
        contacts: list[str],
        skip: Hashable | None = None,
        notes: Iterable[str | None] | None = None,
    ) -> int:
        """:meth:`record` each of ``contacts`` in order, all with the same ``skip``, a
        column at a time (C loops: a node records every content a peer sends); with
        ``notes``, each new entry noted in turn as :meth:`note_writes` notes it. Returns
        the first new entry's sequence number (the others follow it)."""
        first = self.head + 1
        self.head += len(contacts)
        seqs = list(range(first, self.head + 1))  # one int object per entry, shared
        latest = self._latest
        before = len(latest)
        latest.update(zip(contacts, seqs, strict=True))
        if len(latest) - before != len(contacts):  # an entry superseded: at most the head
            self._dead = self.head
        if notes is not None:
            self._writes.update(zip(seqs, notes, strict=True))
        self._seqs.extend(seqs)
        self._ids.extend(contacts)
        self._held.extend(repeat(skip, len(contacts)))
        if len(self._seqs) > 2 * len(self._latest) + 1024:
            self._compact()
        return first

    def notify(self) -> None:
        """Wake every task waiting in :meth:`wait_beyond` or :meth:`wait_notified`."""
        if self._waiting:  # no Event is made and set per applied batch when none waits
            self._changed.set()
            self._changed = anyio.Event()

    def _compact(self) -> None:
        live = list(map(eq, map(self._latest.__getitem__, self._ids), self._seqs))
        self._ids = list(compress(self._ids, live))  # in log order still
        self._seqs = list(compress(self._seqs, live))
        self._held = list(compress(self._held, live))
        writes = self._writes  # the notes of live entries only
        self._writes = {seq: writes[seq] for seq in self._seqs if seq in writes}
        self._dead = 0

    def note_writes(self, seqs: Iterable[int], origins: Iterable[str | None]) -> None:
        """Note what the entries at ``seqs`` are: a write stamped by the origin given
        (in turn), a change that a peer which pruned the origin is announced, not sent
        (not a merge contact's, not a derived value, no kept stamp); or, for None, a
        change always sent. :meth:`since_noted` leaves out the writes of origins its peer
        pruned quietly; :meth:`notes_of` reads the notes. A note belongs to its entry: a
        later change of the contact is a new entry, not noted until noted itself."""
        self._writes.update(zip(seqs, origins, strict=True))

    def notes_of(self, contacts: list[str]) -> list[str | Unnoted | None]:
        """What the latest entry of each of ``contacts`` was noted as (:meth:`note_writes`:
        an origin or None), or :data:`UNNOTED`."""
        return list(map(self._writes.get, self.seqs_of(contacts), repeat(UNNOTED)))

    def seq_of(self, contact: str) -> int:
        """The sequence number of a contact's latest change (0 if never changed)."""
        return self._latest.get(contact, 0)

    def seqs_of(self, contacts: list[str]) -> list[int]:
        """:meth:`seq_of` each of ``contacts``, in order (C loops)."""
        return list(map(self._latest.get, contacts, repeat(0)))

    def since(
        self, seq: int, limit: int, peer: Hashable | None = None, also: Hashable | None = None
    ) -> tuple[list[str], int]:
        """Up to ``limit`` contacts whose latest change is after ``seq``, oldest first.

        Returns the contacts and the sequence number up to which the log was scanned:
        everything in ``(seq, scanned]`` that ``peer`` lacks is in the list. Entries that
        ``peer`` already holds are passed over, and so are those marked ``also`` (the
        store the peer shares with this node, which carried them to it).
        """
        ids, scanned, _, _ = self.since_noted(seq, limit, peer, also, ())
        return ids, scanned

    def since_noted(
        self,
        seq: int,
        limit: int,
        peer: Hashable | None,
        also: Hashable | None,
        quiet: Collection[str],
    ) -> tuple[list[str], int, int, list[Any] | None]:
        """:meth:`since`, leaving out too the entries noted as writes stamped by an origin
        in ``quiet`` (:meth:`note_writes`; the peer pruned them quietly); also how many it
        left out of what ``peer`` lacks in ``(seq, scanned]`` and, when ``quiet`` is not
        empty, what each contact taken was noted as (:meth:`notes_of`, read as the log
        was; None otherwise). Entries not noted are taken (whoever makes them ready
        decides)."""
        out: list[str] = []
        notes: list[Any] | None = [] if quiet else None
        left_out = 0
        seqs, ids, latest, holders = self._seqs, self._ids, self._latest, self._held
        k, n = bisect_right(seqs, seq), len(seqs)
        step = max(limit, 64)  # all taken, as is common: exactly the entries needed
        while k < n:  # a chunk at a time, each column in C loops
            chunk_ids, chunk_seqs = ids[k : k + step], seqs[k : k + step]
            chunk_held = holders[k : k + step] if peer is not None else None
            k += step
            if chunk_seqs[0] <= self._dead:  # some may be superseded
                live = list(map(eq, map(latest.get, chunk_ids), chunk_seqs))
                if True not in live:
                    continue  # every entry superseded by a later change of the same contact
                if False in live:
                    chunk_ids = list(compress(chunk_ids, live))
                    chunk_seqs = list(compress(chunk_seqs, live))
                    if chunk_held is not None:
                        chunk_held = list(compress(chunk_held, live))
            if limit < 1:
                return out, seq, left_out, notes  # a live entry, and room for none
            lacks = _lacks(chunk_held, peer, also)
            sends, chunk_notes, dropped = lacks, None, 0
            if notes is not None:  # quiet: an entry the peer lacks, not a quiet write
                chunk_notes = list(map(self._writes.get, chunk_seqs, repeat(UNNOTED)))
                at = map(quiet.__contains__, chunk_notes)
                sends = list(map(gt, lacks, at) if lacks is not None else map(not_, at))
                dropped = (len(chunk_ids) if lacks is None else lacks.count(True)) - sends.count(
                    True
                )
            if sends is None:
                taken = chunk_ids
            else:
                taken = list(compress(chunk_ids, sends))
                if chunk_notes is not None and notes is not None:
                    chunk_notes = list(compress(chunk_notes, sends))
            need = limit - len(out)
            if len(taken) < need:
                out += taken
                if notes is not None and chunk_notes is not None:
                    notes += chunk_notes
                left_out += dropped
                continue
            out += taken[:need]
            if notes is not None and chunk_notes is not None:
                notes += chunk_notes[:need]
            # scanned up to the last one taken; the log's last entry is always live, so
            # when that is the last one taken this is the head
            last = need - 1 if sends is None else list(compress(range(len(sends)), sends))[need - 1]
            if dropped and sends is not None:  # those before the last one taken
                lacked = last if lacks is None else lacks[:last].count(True)
                left_out += lacked - sends[:last].count(True)
            return out, chunk_seqs[last], left_out, notes
        return out, self.head, left_out, notes  # the whole tail was read

    async def wait_beyond(self, seq: int) -> None:
        """Return once the log's head is past ``seq``."""
        while self.head <= seq:
            await self.wait_notified()

    async def wait_notified(self) -> None:
        """Return at the next :meth:`notify` (every change notifies, so does a rewind)."""
        self._waiting += 1
        try:
            await self._changed.wait()
        finally:
            self._waiting -= 1


def _lacks(
    held: list[Any] | None, peer: Hashable | None, also: Hashable | None
) -> list[bool] | None:
    """Per entry (``held``: its holders, as the log keeps them), whether ``peer`` lacks
    its change (it holds it, or it is marked ``also``: passed over); None when it lacks
    them all (no peer named). One C loop a key: a holder is compared with it (several
    holders: equal when one is it, see :class:`_Holders`)."""
    if peer is None or held is None:
        return None
    if also is None:
        return list(map(ne, held, repeat(peer)))
    return list(map(and_, map(ne, held, repeat(peer)), map(ne, held, repeat(also))))
