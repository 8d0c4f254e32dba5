"""What opening a store found and repaired: never silent."""

from __future__ import annotations

import attrs

__all__ = ["LogCut", "RecoveryReport"]


@attrs.frozen
class LogCut:
    """Bytes cut from the end of the log because they did not form committed batches."""

    offset: int
    """Where the cut starts: the end of the last intact committed batch."""
    bytes: int
    """How many bytes were removed."""
    reason: str
    """What was wrong at the first bad byte (e.g. "checksum mismatch at byte 4096")."""
    records: int
    """Intact records of the unfinished batch that were discarded with it."""
    committed_batches_lost: int = 0
    """Committed batches discarded after mid-log corruption (only with ``repair=true``)."""

    def describe(self) -> str:
        """One line for people."""
        text = (
            f"cut {self.bytes} bytes from the log at offset {self.offset} ({self.reason}; "
            f"{self.records} uncommitted records discarded)"
        )
        if self.committed_batches_lost:
            text += (
                f"; REPAIR discarded {self.committed_batches_lost} committed batches "
                "after corruption"
            )
        return text


@attrs.frozen
class RecoveryReport:
    """The outcome of replaying a store at open."""

    batches_replayed: int = 0
    """Committed batches applied from the log."""
    log_bytes: int = 0
    """Size of the log after recovery."""
    cut: LogCut | None = None
    """The torn or corrupt tail that was removed, if any."""
    removed: tuple[str, ...] = ()
    """Leftovers of interrupted operations that were removed (temporary files, directories
    of networks whose deletion was committed)."""
    unreadable_snapshots: tuple[str, ...] = ()
    """Snapshot files that failed their checksums; left in place and not listed."""

    @property
    def clean(self) -> bool:
        """Whether nothing had to be cut, removed or skipped."""
        return self.cut is None and not self.removed and not self.unreadable_snapshots

    def describe(self) -> str:
        """A summary for people (used in ``health()``)."""
        parts = [f"replayed {self.batches_replayed} batches ({self.log_bytes} log bytes)"]
        if self.cut is not None:
            parts.append(self.cut.describe())
        if self.removed:
            parts.append(f"removed {len(self.removed)} leftovers: {', '.join(self.removed)}")
        if self.unreadable_snapshots:
            parts.append(
                f"{len(self.unreadable_snapshots)} unreadable snapshot files left in place: "
                + ", ".join(self.unreadable_snapshots)
            )
        return "; ".join(parts)
