"""Content rows as parallel columns, ready for ``unnest``."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ContentColumns"]


@attrs.define
class ContentColumns:
    """Content records as parallel columns, one entry per distinct (network, contact),
    each value already canonical JSON."""

    networks: list[str] = attrs.field(factory=list)
    contacts: list[str] = attrs.field(factory=list)
    groups: list[str] = attrs.field(factory=list)
    contents: list[bytes] = attrs.field(factory=list)
    hlcs: list[int] = attrs.field(factory=list)
    nodes: list[bytes] = attrs.field(factory=list)
    justifications: list[str | None] = attrs.field(factory=list)

    def __len__(self) -> int:
        return len(self.contacts)

    def chunk(self, start: int, stop: int) -> list[list[Any]]:
        """Rows ``start:stop`` as seven column lists in table order."""
        return [
            self.networks[start:stop],
            self.contacts[start:stop],
            self.groups[start:stop],
            self.contents[start:stop],
            self.hlcs[start:stop],
            self.nodes[start:stop],
            self.justifications[start:stop],
        ]
