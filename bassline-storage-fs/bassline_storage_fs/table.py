"""One network's stored contents, kept as columns: no Python object per contact.

A dict maps each contact to its row; the rows' groups, stamps and canonical JSON bytes
live in four parallel lists. Storing a batch is a dict update and four list extends,
and reading makes a :class:`Content` only for what is asked. Holding a million
contacts this way costs no garbage-collector work, where a tuple per contact would make
every collection walk them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

__all__ = ["Content", "ContentTable"]


class Content(NamedTuple):
    """One contact's stored content: its group, stamp, canonical JSON bytes and the
    stored form of its justification (None when it has none)."""

    group: str
    hlc: int
    node: str
    value: bytes
    why: str | None = None


class ContentTable:
    """Contents by contact id, in columns. Rows are never removed: a network's contents
    only ever go all at once, with the network."""

    __slots__ = ("_groups", "_hlcs", "_nodes", "_rows", "_values", "_whys")

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}
        self._groups: list[str] = []
        self._hlcs: list[int] = []
        self._nodes: list[str] = []
        self._values: list[bytes] = []
        self._whys: list[str | None] = []
        """Justification texts (mostly shared strings: one per write kind or wire)."""

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, contact: object) -> bool:
        return contact in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContentTable):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"ContentTable({len(self)} contents)"

    def get(self, contact: str) -> Content | None:
        """The content stored for ``contact``, or None."""
        row = self._rows.get(contact)
        if row is None:
            return None
        return Content(
            self._groups[row], self._hlcs[row], self._nodes[row], self._values[row], self._whys[row]
        )

    def __getitem__(self, contact: str) -> Content:
        found = self.get(contact)
        if found is None:
            raise KeyError(contact)
        return found

    def __setitem__(self, contact: str, content: Content) -> None:
        row = self._rows.get(contact)
        group, hlc, node, value, why = content
        if row is None:
            self._rows[contact] = len(self._groups)
            self._groups.append(group)
            self._hlcs.append(hlc)
            self._nodes.append(node)
            self._values.append(value)
            self._whys.append(why)
        else:
            self._groups[row], self._hlcs[row] = group, hlc
            self._nodes[row], self._values[row] = node, value
            self._whys[row] = why

    def set_whys(
        self,
        contacts: Sequence[str],
        hlcs: Sequence[int],
        nodes: Sequence[str],
        whys: Sequence[str],
    ) -> None:
        """Set the justifications of ``contacts``, each only while the contact holds the
        content of the stamp ``(hlcs[i], nodes[i])`` (a newer content keeps its own)."""
        rows, column, own_hlcs, own_nodes = self._rows, self._whys, self._hlcs, self._nodes
        for contact, hlc, node, why in zip(contacts, hlcs, nodes, whys, strict=True):
            row = rows.get(contact)
            if row is not None and own_hlcs[row] == hlc and own_nodes[row] == node:
                column[row] = why

    def items(self) -> Iterator[tuple[str, Content]]:
        """``(contact, content)`` for every stored contact, in insertion order."""
        groups, hlcs, nodes, values = self._groups, self._hlcs, self._nodes, self._values
        whys = self._whys
        for contact, row in self._rows.items():
            yield contact, Content(groups[row], hlcs[row], nodes[row], values[row], whys[row])

    def sorted_columns(
        self,
    ) -> tuple[list[str], list[str], list[int], list[str], list[bytes], list[str | None]]:
        """``(contacts, groups, hlcs, nodes, values, whys)`` of every row, sorted by contact."""
        contacts = sorted(self._rows)
        rows = list(map(self._rows.__getitem__, contacts))
        return (
            contacts,
            list(map(self._groups.__getitem__, rows)),
            list(map(self._hlcs.__getitem__, rows)),
            list(map(self._nodes.__getitem__, rows)),
            list(map(self._values.__getitem__, rows)),
            list(map(self._whys.__getitem__, rows)),
        )

    def newer_or_equal(
        self, contacts: Sequence[str], stamps: Sequence[tuple[int, str]]
    ) -> list[int]:
        """Positions ``i`` whose ``stamps[i]`` is not older than what ``contacts[i]`` holds
        (every position when none of them is stored yet)."""
        rows = list(map(self._rows.get, contacts))
        if rows.count(None) == len(rows):
            return list(range(len(rows)))
        hlcs, nodes = self._hlcs, self._nodes
        return [
            i
            for i, (row, stamp) in enumerate(zip(rows, stamps, strict=True))
            if row is None or stamp >= (hlcs[row], nodes[row])
        ]

    def put_rows(
        self,
        contacts: Sequence[str],
        groups: Sequence[str],
        hlcs: Sequence[int],
        nodes: Sequence[str],
        values: Sequence[bytes],
        whys: Sequence[str | None] | None = None,
    ) -> None:
        """Store a column of contents (and their justifications; None: none of them has
        one); ``contacts`` must be distinct."""
        if whys is None:
            whys = [None] * len(contacts)
        rows = self._rows
        if not any(map(rows.__contains__, contacts)):
            start = len(self._groups)
            rows.update(zip(contacts, range(start, start + len(contacts)), strict=True))
            self._groups.extend(groups)
            self._hlcs.extend(hlcs)
            self._nodes.extend(nodes)
            self._values.extend(values)
            self._whys.extend(whys)
            return
        for row in zip(contacts, groups, hlcs, nodes, values, whys, strict=True):
            self[row[0]] = Content(*row[1:])

    def copy(self) -> ContentTable:
        """A private copy (reading it is safe while this table changes)."""
        other = ContentTable()
        other._rows = dict(self._rows)
        other._groups = list(self._groups)
        other._hlcs = list(self._hlcs)
        other._nodes = list(self._nodes)
        other._values = list(self._values)
        other._whys = list(self._whys)
        return other

    def max_hlc(self) -> int:
        """The greatest stored stamp clock value (0 when empty)."""
        return max(self._hlcs, default=0)
