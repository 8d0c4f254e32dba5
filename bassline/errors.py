"""The exception hierarchy raised by the runtime and the public API.

Storage operations never raise for expected failures; they return
``returns.result.Result[..., StorageError]`` (see :mod:`bassline.storage`).
Everything else reports failure with one of these exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = [
    "BasslineError",
    "ContentError",
    "NodeIdInUse",
    "PeerError",
    "PersistenceError",
    "PluginNotFound",
    "SpecError",
    "SpecProblem",
    "StorageUnavailable",
    "UnknownContact",
]


class BasslineError(Exception):
    """Base class of every error Bassline raises on purpose."""


@attrs.frozen
class SpecProblem:
    """One problem found while validating a spec: where (a JSON path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(BasslineError, ValueError):
    """A spec is malformed or inconsistent. ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[SpecProblem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"invalid Bassline spec{where} ({count} {noun}):"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ContentError(BasslineError, ValueError):
    """A value cannot be used as contact content (not JSON-encodable, NaN, too large, ...)."""

    def __init__(self, message: str, contact: str | None = None) -> None:
        self.contact = contact
        prefix = f"contact {contact!r}: " if contact is not None else ""
        super().__init__(prefix + message)


class UnknownContact(BasslineError, KeyError):
    """A contact id that the network does not contain."""

    def __init__(self, contact: str, suggestions: Sequence[str] = ()) -> None:
        self.contact = contact
        self.suggestions = tuple(suggestions)
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown contact {contact!r}{hint}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class PluginNotFound(BasslineError, LookupError):
    """A gadget, lattice or storage scheme that no installed plug-in provides."""

    def __init__(
        self, kind: str, name: str, available: Sequence[str], suggestion: str | None
    ) -> None:
        self.kind = kind
        self.name = name
        self.available = tuple(available)
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        listing = ", ".join(self.available) if self.available else "none"
        super().__init__(f"unknown {kind} {name!r}{hint} (installed: {listing})")


class PersistenceError(BasslineError):
    """A durable write could not be committed to storage; ``error`` is the storage's reason."""

    def __init__(self, message: str, error: object | None = None) -> None:
        self.error = error
        """The :class:`~bassline.storage.StorageError` behind this, when there is one."""
        super().__init__(message)


class StorageUnavailable(PersistenceError):
    """Storage is down (the circuit breaker is open); the write was refused without trying."""


class PeerError(BasslineError):
    """A peer was refused or misbehaved (wrong secret, wrong Bassline hash, bad frames)."""


class NodeIdInUse(BasslineError):
    """Another live process already follows the network under this node id on the same
    store (PostgreSQL); the message names it. Two processes must not share a node id: their
    stamps would name the same writer."""
