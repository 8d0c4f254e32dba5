"""What opening a store found and repaired: never silent."""

from __future__ import annotations

import attrs

__all__ = ["LogCut", "RecoveryReport"]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@attrs.frozen
class LogCut:
    """A torn tail: bytes at the end of the log that do not form a committed batch.

    They are what a crash during a write leaves: one unfinished batch, which was never
    acknowledged. Opening cuts them (unless the store is opened read-only).
    """

    offset: int
    """Where the tail starts: the end of the last intact committed batch."""
    bytes: int
    """How many bytes the tail holds."""
    reason: str
    """What was wrong at the first bad byte (e.g. "checksum mismatch at byte 4096")."""
    records: int
    """Intact records of the unfinished batch."""
    contents: int = 0
    """Contact contents readable in those records (a damaged record may have held more)."""
    cut: bool = True
    """False when the store was opened read-only: the tail was found and left in place."""

    def describe(self) -> str:
        """One line for people: what was (or would be) cut, and why."""
        what = (
            f"{_plural(self.bytes, 'byte')} at offset {self.offset}: 1 unfinished batch, "
            f"never acknowledged, with {_plural(self.records, 'readable record')} holding "
            f"{_plural(self.contents, 'content')} ({self.reason})"
        )
        if self.cut:
            return f"cut a torn tail from the log: {what}"
        return (
            f"found a torn tail in the log, NOT cut (opened read-only): {what}; opening the "
            "store for writing cuts it, `bassline storage repair` cuts it and keeps the bytes"
        )


@attrs.frozen
class RecoveryReport:
    """The outcome of replaying a store at open."""

    batches_replayed: int = 0
    """Committed batches applied from the log."""
    log_bytes: int = 0
    """Size of the log's committed batches after recovery."""
    cut: LogCut | None = None
    """The torn tail that was removed (or, read-only, found), if any."""
    removed: tuple[str, ...] = ()
    """Leftovers of interrupted operations (temporary files, directories of networks whose
    deletion was committed) that were removed — or, opened read-only, found and left."""
    unreadable_snapshots: tuple[str, ...] = ()
    """Snapshot files that failed their checksums; left in place and not listed."""
    read_only: bool = False
    """Whether the store was opened read-only (nothing on disk was changed)."""

    @property
    def clean(self) -> bool:
        """Whether nothing had to be cut, removed or skipped."""
        return self.cut is None and not self.removed and not self.unreadable_snapshots

    @property
    def damage(self) -> bool:
        """Whether something was found damaged: a torn tail or an unreadable snapshot
        (leftovers of interrupted work are not damage)."""
        return self.cut is not None or bool(self.unreadable_snapshots)

    def describe(self) -> str:
        """A summary for people (used in ``health()`` and in the warning logged at open)."""
        parts = [f"replayed {self.batches_replayed} batches ({self.log_bytes} log bytes)"]
        if self.cut is not None:
            parts.append(self.cut.describe())
        if self.removed:
            done = "found (not removed: read-only)" if self.read_only else "removed"
            parts.append(
                f"{done} {_plural(len(self.removed), 'leftover')} of interrupted work: "
                + ", ".join(self.removed)
            )
        if self.unreadable_snapshots:
            parts.append(
                f"{len(self.unreadable_snapshots)} unreadable snapshot files left in place: "
                + ", ".join(self.unreadable_snapshots)
            )
        return "; ".join(parts)
