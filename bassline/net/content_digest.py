"""A node's content digest: a sum of line hashes, kept up to date from the change log.

Each content has a line: the compact canonical JSON ``[contact, value, stamp]`` (merge
contacts ``[contact, value]`` with integral floats written as integers: a join that adds
nothing new keeps a replica's own stamp and its own spelling of the value, so stamps and
spellings of equal lattice values may differ between replicas), and the line's hash
(BLAKE2b, 32 bytes, as a big-endian number); the digest is the sum of those numbers
modulo 2**256, as 64 hex digits. Two nodes' digests are equal exactly when they hold the
same contents (but for hash collisions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from itertools import repeat
from operator import attrgetter
from typing import Any

import orjson

from bassline.clock import Stamp
from bassline.codec import encode
from bassline.content import ABSENT, canonical_form
from bassline.net.changelog import ChangeLog

__all__ = ["ContentDigest", "digest_line", "line_hash"]

_MODULUS = 1 << 256
_SCALARS = frozenset({str, int, bool, type(None)})


def digest_line(contact: str, value: Any, stamp: Stamp | None) -> bytes:
    """A content's line: the canonical JSON of ``[contact, value, stamp]``, or without a
    stamp (a merge contact) of ``[contact, canonical_form(value)]``: a join keeps a
    replica's own spelling of an equal value (``1`` where another holds ``1.0``, an
    interval ``[-0.0, 0.0]`` where another holds ``[0, 0]``), so lines of merge contacts
    compare values as the lattice does. A string, integer, boolean or null value is its own
    canonical JSON, so orjson writes the line without the codec (what it refuses, a lone
    surrogate or an integer beyond 64 bits, goes through the codec)."""
    if stamp is None:  # a merge contact: equal lattice values, however written, match
        row = [contact, canonical_form(value)]
    else:
        row = [contact, value, [stamp.hlc, stamp.node]]
    if type(value) in _SCALARS:
        try:
            return orjson.dumps(row)
        except orjson.JSONEncodeError:
            pass
    return encode(row)


class ContentDigest:
    """The digest of one runtime's contents (see the module), read through ``state``
    (every content), ``stamped`` (one contact's content and stamp) and ``contents_of``
    (several contacts' contents and stamps at once, when the runtime has it)."""

    def __init__(
        self,
        log: ChangeLog,
        merging: frozenset[str],
        state: Callable[[], Iterable[tuple[str, Any, Any]]],
        stamped: Callable[[str], tuple[Any, Stamp]],
        contents_of: Callable[[list[str]], tuple[list[Any], list[Stamp]]] | None = None,
    ) -> None:
        self.log = log
        self.merging = merging
        """The merge contacts (their lines have no stamp)."""
        self.lines: dict[str, int] = {}
        """Per contact holding content: its line's hash."""
        self.folded = -1
        """The log position folded into the sum (-1: nothing yet, the first fold reads
        every content)."""
        self.on_demand = 0
        """How many contents :meth:`digest` itself folded in (on the request path: what
        no fold had before the call)."""
        self._read = (state, stamped, contents_of)
        self._sum = 0
        self._text: tuple[int, str] = (-1, "")

    @property
    def behind(self) -> bool:
        """True when the log has moved past what is folded."""
        return self.folded != self.log.head

    def digest(self) -> str:
        """The digest now: the log's changes not folded yet are folded first (see
        :meth:`fold`), so it covers every change logged before the call."""
        if self.folded != self.log.head:
            self.on_demand += self.fold()
        folded, text = self._text
        if folded != self.folded:
            text = f"{self._sum:064x}"
            self._text = (self.folded, text)
        return text

    def fold(self, limit: int | None = None) -> int:
        """Fold into the sum the contents logged since the last fold, up to ``limit`` of
        them (None: all), oldest first; returns how many were read. Only those are
        encoded and hashed again (their old hash taken out of the sum, the new one
        added); the first fold reads every content of ``state()``. With ``contents_of``,
        contents that are all strings, integers, booleans or null and none a merge
        contact's are read, written and hashed a column at a time: the same lines, the
        same hashes. If reading a content fails, the next fold starts again from every
        content (the sum is never left half folded)."""
        state, stamped, contents_of = self._read
        merge, lines, total, log = self.merging, self.lines, self._sum, self.log
        try:
            if self.folded < 0:
                lines.clear()
                total, at = 0, log.head
                changed = [cid for cid, _, _ in state()]
            else:
                changed, at = log.since(self.folded, len(log) if limit is None else limit)
            hashed = _columns(changed, contents_of, merge) if contents_of is not None else None
            if hashed is not None:
                total -= sum(map(lines.pop, changed, repeat(0)))
                lines.update(zip(changed, hashed, strict=True))
                total += sum(hashed)
            else:
                from_bytes, line_of = int.from_bytes, digest_line
                for cid in changed:
                    value, stamp = stamped(cid)
                    total -= lines.pop(cid, 0)
                    if value is ABSENT:
                        continue
                    line = line_of(cid, value, None if cid in merge else stamp)
                    new = lines[cid] = from_bytes(line_hash(line), "big")
                    total += new
        except BaseException:
            self.folded = -1
            raise
        self._sum = total % _MODULUS
        self.folded = at
        return len(changed)


_HLC, _NODE = attrgetter("hlc"), attrgetter("node")
_from_bytes: Callable[[bytes, str], int] = int.from_bytes  # type: ignore[assignment]


_EMPTY = hashlib.blake2b(digest_size=32)
"""Never fed: :func:`line_hash` copies it."""


def line_hash(line: bytes, _fresh: Callable[[], Any] = _EMPTY.copy) -> bytes:
    """``hashlib.blake2b(line, digest_size=32).digest()``: a copy of an empty hasher made
    once, fed the line. The same bytes at a third less cost per line: the constructor
    parses its nine keyword parameters and sets up the hash's parameter block each time,
    a copy only duplicates the state."""
    hasher = _fresh()
    hasher.update(line)
    digest: bytes = hasher.digest()
    return digest


def _columns(
    changed: list[str],
    contents_of: Callable[[list[str]], tuple[list[Any], list[Stamp]]],
    merge: frozenset[str],
) -> list[int] | None:
    """The line hashes of ``changed``, read and written in C loops and hashed by
    :func:`line_hash`: None unless every content is a string, an integer, a boolean or
    null (no ABSENT), none is a merge contact's and orjson writes every line (no lone
    surrogate, no integer beyond 64 bits): the lines :func:`digest_line` writes for them."""
    if not changed or not merge.isdisjoint(changed):
        return None
    values, stamps = contents_of(changed)
    if not set(map(type, values)) <= _SCALARS:
        return None
    rows = zip(
        changed, values, zip(map(_HLC, stamps), map(_NODE, stamps), strict=True), strict=True
    )
    # a tuple is written as the list it holds; each line is hashed and let go before the
    # next is written (10,000 lines alive at once cost more than the loop they replace)
    lines = map(orjson.dumps, rows)
    try:
        return list(map(_from_bytes, map(line_hash, lines), repeat("big")))
    except orjson.JSONEncodeError:
        return None
