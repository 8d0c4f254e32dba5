"""File names for ids: nothing a caller chooses ever becomes a path component as is.

A network's directory is ``<slug>-<hash>``: ``hash`` is the first 32 hex digits of the
SHA-256 of the id's UTF-8 bytes and decides the name; ``slug`` is at most 40 lowercase
ASCII letters, digits and ``_`` taken from the id, only so a person can tell directories
apart. The name is always lowercase ASCII without dots, at most 73 bytes, so no id can
escape the store (``..``, ``/``), hit a reserved device name (``CON``), exceed the
255-byte file name limit, or collide with another id on a case-insensitive file system.
The real id is stored inside the files.

Snapshot ids are chosen by the backend: ``snap-`` and 16 hex digits of a nanosecond
clock that never goes backwards, so they are unique, sort by age and are safe names.
"""

from __future__ import annotations

import hashlib
import re
import time

__all__ = [
    "NETWORK_DIR_PATTERN",
    "SNAPSHOT_ID_PATTERN",
    "SnapshotClock",
    "network_dirname",
    "snapshot_ns",
]

NETWORK_DIR_PATTERN = re.compile(r"^[a-z0-9_]{1,40}-[0-9a-f]{32}$")
"""What every network directory name looks like."""
SNAPSHOT_ID_PATTERN = re.compile(r"^snap-[0-9a-f]{16}$")
"""What every snapshot id looks like."""

_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def network_dirname(network: str) -> str:
    """The directory name of ``network`` (deterministic, collision-free in practice)."""
    digest = hashlib.sha256(network.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    ascii_lower = "".join(ch.lower() if ch.isascii() else "_" for ch in network)
    slug = _SLUG_DROP.sub("_", ascii_lower).strip("_")[:40].strip("_") or "n"
    return f"{slug}-{digest}"


class SnapshotClock:
    """Hands out snapshot ids: strictly increasing nanosecond readings of the wall clock."""

    def __init__(self) -> None:
        self._last = 0

    def observe(self, snapshot_id: str) -> None:
        """Never hand out an id at or before ``snapshot_id`` (an existing snapshot)."""
        self._last = max(self._last, snapshot_ns(snapshot_id))

    def next(self) -> tuple[str, int]:
        """A fresh ``(id, nanoseconds since the epoch)``."""
        self._last = max(self._last + 1, time.time_ns())
        return f"snap-{self._last:016x}", self._last


def snapshot_ns(snapshot_id: str) -> int:
    """The creation time (ns since the epoch) encoded in a snapshot id."""
    return int(snapshot_id[5:], 16)
