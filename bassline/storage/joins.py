"""Storing a write to a merge contact as the join of what is stored and what arrives.

A merge contact ends with the join of every value written to it, whoever wrote it. When
several writers share a store, storage keeping only the record with the newest stamp
would drop a value whose writer had not seen the newer one yet; a backend with
:class:`~bassline.storage.abilities.JoinsMerges` joins instead, in the write's own
transaction. This module is what such a backend's transaction calls, so that every
backend joins alike (``docs/storage.md``, "Merge contacts"):

- :func:`join_record`: what to store for one written record, given the stored one;
- :func:`merge_records`: a batch's records of merge contacts;
- :func:`join_batch`: a checked batch with each merge record replaced by its join (or
  left out when it adds nothing), and what to report (:func:`join_contents`: the same
  over the contents alone, for a backend with a batch of its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bassline.content import values_equal
from bassline.lattices import Changed, Contradiction, Lattice, get_lattice
from bassline.spec import Bassline, BlendMode
from bassline.storage.errors import ErrorCode, StorageError
from bassline.storage.records import ContentRecord
from bassline.storage.validation import NormalisedBatch, encode_content, invalid

__all__ = [
    "JoinConflict",
    "JoinedBatch",
    "Joins",
    "fold_duplicates",
    "join_batch",
    "join_contents",
    "join_record",
    "merge_records",
    "spec_joins",
]

Joins = Mapping[tuple[str, str], Lattice]
"""The lattice of each merge contact, by (network, contact): what a runtime hands to
:meth:`~bassline.storage.abilities.JoinsMerges.write_joining`."""


def spec_joins(spec: Bassline) -> dict[tuple[str, str], Lattice]:
    """The :data:`Joins` of ``spec``'s merge contacts (each one's lattice, ``defined`` when
    it names none, as the engine looks it up); empty when it has none."""
    merge = BlendMode.MERGE
    return {
        (spec.id, c.id): get_lattice(c.lattice or "defined")
        for c in spec.contacts
        if c.blend is merge
    }


class JoinConflict(Exception):
    """The ``cause`` of a join's CONFLICT: which merge contact's write the stored value
    contradicts (a writer may give up that contact's writes and write the rest)."""

    def __init__(self, network: str, contact: str, reason: str) -> None:
        super().__init__(f"merge contact {contact!r} of network {network!r}: {reason}")
        self.network = network
        self.contact = contact
        self.reason = reason


def _conflict(record: ContentRecord, reason: str) -> StorageError:
    return StorageError(
        ErrorCode.CONFLICT,
        f"merge contact {record.contact!r} of network {record.network!r}: the value written "
        f"contradicts the one stored ({reason}); the stored value stays and this write of "
        "the contact is refused",
        transient=False,
        cause=JoinConflict(record.network, record.contact, reason),
    )


def _coerced(lattice: Lattice, value: Any) -> tuple[bool, Any]:
    """(True, the lattice's value) or (False, why it is none)."""
    try:
        return True, lattice.coerce(value)
    except (ValueError, TypeError) as exc:
        return False, exc


def join_record(
    stored: ContentRecord | None, incoming: ContentRecord, lattice: Lattice
) -> ContentRecord | StorageError | None:
    """What storage keeps for ``incoming`` written to a merge contact holding ``stored``.

    - nothing stored: ``incoming`` itself;
    - the join adds nothing to ``stored`` (whatever the stamps): None, store nothing;
    - else the join, stamped with the newer of the two stamps, with ``incoming``'s
      justification when the join is ``incoming``'s value and none (unknown) when both
      contributed; ``incoming`` itself when that is what it is;
    - a join the lattice refuses (a contradiction): CONFLICT, and the caller stores
      nothing of the batch;
    - ``incoming`` not of the lattice: INVALID. A stored value that is not (the contact
      was accept-last before) is replaced as an accept-last one would be: by a write
      with a newer or equal stamp (else None).
    """
    ok, new = _coerced(lattice, incoming.value)
    if not ok:
        return invalid(
            f"content of merge contact {incoming.contact!r} in network {incoming.network!r} "
            f"is not a {lattice.name} value: {new}"
        )
    if stored is None:
        return incoming
    ok, old = _coerced(lattice, stored.value)
    if not ok:
        return incoming if incoming.stamp >= stored.stamp else None
    outcome = lattice.join(old, new)
    if isinstance(outcome, Contradiction):
        return _conflict(incoming, outcome.reason)
    if not isinstance(outcome, Changed):
        return None
    stamp = max(stored.stamp, incoming.stamp)
    if values_equal(outcome.value, new):
        if stamp == incoming.stamp:
            return incoming
        return attrs.evolve(incoming, stamp=stamp)
    return attrs.evolve(incoming, value=outcome.value, stamp=stamp, justification=None)


def merge_records(contents: Iterable[ContentRecord], joins: Joins) -> list[ContentRecord]:
    """The records of ``contents`` written to merge contacts (those ``joins`` names)."""
    return [r for r in contents if (r.network, r.contact) in joins]


def fold_duplicates(records: list[Any], joins: Joins) -> list[Any] | StorageError:
    """``records`` with the records of one merge contact written several times in one
    batch joined into one (at the first one's place), so that validation's collapsing
    (the newest stamp wins) keeps the join; the list itself when there is nothing to fold."""
    seen: dict[tuple[str, str], int] = {}
    out: list[Any] = []
    folded = False
    for record in records:
        if (
            type(record) is not ContentRecord
            or (key := (record.network, record.contact)) not in joins
        ):
            out.append(record)
            continue
        at = seen.get(key)
        if at is None:
            seen[key] = len(out)
            out.append(record)
            continue
        folded = True
        joined = join_record(out[at], record, joins[key])
        if isinstance(joined, StorageError):
            return joined
        if joined is not None:
            out[at] = joined
    return out if folded else records


@attrs.frozen
class JoinedBatch:
    """A checked batch with its merge records joined with what was stored."""

    batch: NormalisedBatch
    """What to write: the batch, each merge record replaced by its join, those whose
    join adds nothing left out (no ``columns``: a backend takes its general path)."""
    grown: tuple[ContentRecord, ...]
    """The records stored that are not what was written (the stored value added to it,
    or its stamp was older): a writer learns the join from these."""
    unchanged: int
    """Merge records left out: storage held everything they add (counted stale)."""


def join_contents(
    contents: Iterable[ContentRecord],
    encoded: Iterable[bytes],
    stored: Mapping[tuple[str, str], ContentRecord],
    joins: Joins,
) -> tuple[list[ContentRecord], list[bytes], JoinedBatch] | StorageError:
    """:func:`join_batch` over a batch's contents and their encodings: those to write
    (with theirs), and a :class:`JoinedBatch` of what to report (its ``batch`` unused)."""
    out: list[ContentRecord] = []
    out_encoded: list[bytes] = []
    grown: list[ContentRecord] = []
    unchanged = 0
    for record, data in zip(contents, encoded, strict=True):
        key = (record.network, record.contact)
        lattice = joins.get(key)
        if lattice is None:
            out.append(record)
            out_encoded.append(data)
            continue
        joined = join_record(stored.get(key), record, lattice)
        if isinstance(joined, StorageError):
            return joined
        if joined is None:
            unchanged += 1
            continue
        if joined is not record:
            data_ = encode_content(joined)
            if isinstance(data_, StorageError):
                return data_
            data = data_
            grown.append(joined)
        out.append(joined)
        out_encoded.append(data)
    return out, out_encoded, JoinedBatch(_EMPTY, tuple(grown), unchanged)


_EMPTY = NormalisedBatch((), (), (), (), ())


def join_batch(
    batch: NormalisedBatch, stored: Mapping[tuple[str, str], ContentRecord], joins: Joins
) -> JoinedBatch | StorageError:
    """Join each merge record of ``batch`` with the stored record of its contact
    (``stored``, read in the write's transaction; a contact missing from it has none).
    The first refused join's error (CONFLICT, INVALID) is returned instead."""
    joined = join_contents(batch.contents, batch.encoded, stored, joins)
    if isinstance(joined, StorageError):
        return joined
    contents, encoded, report = joined
    return attrs.evolve(
        report,
        batch=attrs.evolve(batch, contents=tuple(contents), encoded=tuple(encoded), columns=None),
    )
