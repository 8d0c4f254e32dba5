"""What a propagation run reports: changes, contradictions, gadget failures, steps."""

from __future__ import annotations

from typing import Any

import attrs

from bassline.clock import Stamp

__all__ = ["Change", "ContactState", "ContradictionRecord", "GadgetFailure", "PropagationResult"]


@attrs.frozen
class Change:
    """A contact's content after a run, when it differs from before the run."""

    contact: str
    value: Any
    stamp: Stamp


@attrs.frozen
class ContradictionRecord:
    """Information a contact refused: it kept ``current`` and did not forward ``incoming``."""

    contact: str
    reason: str
    current: Any
    incoming: Any
    source: str
    """Where ``incoming`` came from: a contact id, ``gadget:<group>``, or ``update``."""
    stamp: Stamp


@attrs.frozen
class GadgetFailure:
    """A gadget that raised (or produced content that cannot be stored) during a run."""

    group: str
    gadget: str
    error: str
    inputs: dict[str, Any]
    outputs: tuple[str, ...]
    """The output contacts that did not receive a value because of this failure."""


@attrs.frozen
class ContactState:
    """Everything the network knows about one contact."""

    id: str
    value: Any
    stamp: Stamp
    contradiction: ContradictionRecord | None
    failure: GadgetFailure | None = None

    @property
    def present(self) -> bool:
        """Whether the contact holds content."""
        from bassline.content import ABSENT

        return self.value is not ABSENT


@attrs.frozen
class PropagationResult:
    """The outcome of one run to the fixpoint (or to the step budget)."""

    changes: tuple[Change, ...] = ()
    contradictions: tuple[ContradictionRecord, ...] = ()
    failures: tuple[GadgetFailure, ...] = ()
    steps: int = 0
    settled: bool = True
    """False when the step budget stopped a run that had not reached a fixpoint."""
    unsettled: tuple[str, ...] = ()
    """When not settled: the contacts still changing when the budget ran out."""

    @property
    def changed(self) -> dict[str, Any]:
        """The new content of every changed contact, by id."""
        return {c.contact: c.value for c in self.changes}

    @property
    def ok(self) -> bool:
        """Settled with no contradiction and no gadget failure."""
        return self.settled and not self.contradictions and not self.failures

    def __bool__(self) -> bool:
        return bool(self.changes or self.contradictions or self.failures or not self.settled)
