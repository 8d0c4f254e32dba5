"""Storage failures as values: :class:`StorageError` and its :class:`ErrorCode`."""

from __future__ import annotations

import enum

import attrs

__all__ = ["ErrorCode", "StorageError"]


class ErrorCode(enum.Enum):
    """What kind of failure a storage operation met. Callers match on this, never on text."""

    NETWORK_NOT_FOUND = "network-not-found"
    GROUP_NOT_FOUND = "group-not-found"
    CONTACT_NOT_FOUND = "contact-not-found"
    SNAPSHOT_NOT_FOUND = "snapshot-not-found"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    PERMISSION = "permission"
    SERIALIZATION = "serialization"
    CORRUPTION = "corruption"
    CONFLICT = "conflict"
    LIMIT_EXCEEDED = "limit-exceeded"
    UNSUPPORTED = "unsupported"
    INVALID = "invalid"
    """The request itself is malformed (a bad id, an unencodable value)."""


_TRANSIENT_BY_DEFAULT = {ErrorCode.CONNECTION, ErrorCode.TIMEOUT}


@attrs.frozen
class StorageError:
    """A failed storage operation. ``transient`` says whether retrying may succeed."""

    code: ErrorCode
    message: str
    transient: bool = attrs.field()
    cause: BaseException | None = attrs.field(default=None, eq=False, repr=False)

    @transient.default
    def _transient_default(self) -> bool:
        return self.code in _TRANSIENT_BY_DEFAULT

    def __str__(self) -> str:
        kind = "transient" if self.transient else "permanent"
        return f"{self.code.value} ({kind}): {self.message}"

    @classmethod
    def not_found(cls, code: ErrorCode, what: str) -> StorageError:
        """A ``*_NOT_FOUND`` error for ``what`` (e.g. "network 'calc'")."""
        return cls(code, f"{what} not found", transient=False)
