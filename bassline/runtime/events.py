"""What the runtime reports about itself: its health, and events of its durable write path."""

from __future__ import annotations

import attrs

from bassline.storage import StorageError

__all__ = ["RuntimeEvent", "RuntimeHealth"]


@attrs.frozen
class RuntimeHealth:
    """``ok`` or ``degraded``, with every reason."""

    status: str
    reasons: tuple[str, ...] = ()
    breaker: str = "closed"
    queue_depth: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.status == "ok"


@attrs.frozen
class RuntimeEvent:
    """Something the durable write path wants you to know: a failure or a recovery."""

    kind: str
    """``batch-failed``, ``breaker-opened``, ``breaker-closed`` or ``records-dropped``."""
    detail: str
    error: StorageError | None = None
