"""What a propagation run reports: changes, contradictions, gadget failures, steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import attrs

from bassline.clock import Stamp
from bassline.content import Absent, Content
from bassline.engine.compare import differs

__all__ = ["Change", "ContactState", "ContradictionRecord", "GadgetFailure", "PropagationResult"]


class Change(NamedTuple):
    """A contact's content after a run, when it differs from before the run."""

    contact: str
    value: Content
    stamp: Stamp


@attrs.frozen
class ContradictionRecord:
    """Information a contact refused: it kept ``current`` and did not forward ``incoming``."""

    contact: str
    reason: str
    current: Content | Absent
    """What the contact holds (ABSENT when a value it cannot take was its first offer)."""
    incoming: Content
    """What was refused. On a merge contact, in its lattice's form when it is a value of
    the lattice (the interval ``[6, 9]`` for a list ``[6, 9]`` written to an interval
    contact), as :attr:`current` is; as offered when it is not one (the reason says why)."""
    source: str
    """Where ``incoming`` came from: a contact id, ``gadget:<group>``, or ``update``."""
    stamp: Stamp


@attrs.frozen
class GadgetFailure:
    """A gadget that raised (or produced content that cannot be stored) during a run."""

    group: str
    gadget: str
    error: str
    inputs: dict[str, Content]
    """The content of each input port that had content, by port."""
    outputs: tuple[str, ...]
    """The output contacts that did not receive a value because of this failure."""
    port: str | None = None
    """The input port whose content the gadget cannot compute with (an unusable input)."""
    kind: str | None = None
    """What that content is, in words (``"a string"``, ``"an interval"``)."""

    def describe(self) -> dict[str, Any]:
        """Plain JSON data: gadget, group, error, port, kind and outputs (not the inputs)."""
        return {
            "gadget": self.gadget,
            "group": self.group,
            "error": self.error,
            "port": self.port,
            "kind": self.kind,
            "outputs": list(self.outputs),
        }


@attrs.frozen
class ContactState:
    """Everything the network knows about one contact."""

    id: str
    value: Content | Absent
    """The content, or ABSENT when the contact has none."""
    stamp: Stamp
    contradiction: ContradictionRecord | None
    failure: GadgetFailure | None = None

    @property
    def present(self) -> bool:
        """Whether the contact holds content."""
        from bassline.content import ABSENT

        return self.value is not ABSENT


_Outcome = tuple[
    tuple[ContradictionRecord, ...], tuple[GadgetFailure, ...], int, bool, tuple[str, ...]
]
"""A run's contradictions, failures, steps, settled and unsettled."""
_ONE_STEP: _Outcome = ((), (), 1, True, ())
_Raw = tuple[Sequence[str], Sequence[Content | Absent], Sequence[Content], Sequence[Stamp]]
"""A run's touched contacts: ids, old contents, new contents, new stamps."""


class PropagationResult:
    """The outcome of one run to the fixpoint (or to the step budget).

    ``changes`` lists every contact whose content differs from before the run, with its
    new value and stamp. It is materialised on first access, so runs nobody inspects in
    detail stay cheap.
    """

    __slots__ = ("_changes", "_outcome", "_raw", "_touched")

    def __init__(
        self,
        changes: tuple[Change, ...] = (),
        contradictions: tuple[ContradictionRecord, ...] = (),
        failures: tuple[GadgetFailure, ...] = (),
        steps: int = 0,
        settled: bool = True,
        unsettled: tuple[str, ...] = (),
    ) -> None:
        self._changes: tuple[Change, ...] | None = changes
        self._raw: _Raw | None = None
        self._touched: tuple[Sequence[str], Sequence[Content], Sequence[Stamp]] = (
            [c.contact for c in changes],
            [c.value for c in changes],
            [c.stamp for c in changes],
        )
        self._outcome: _Outcome = (contradictions, failures, steps, settled, unsettled)

    @classmethod
    def _from_run(
        cls,
        raw: _Raw,
        contradictions: tuple[ContradictionRecord, ...],
        failures: tuple[GadgetFailure, ...],
        steps: int,
        settled: bool,
        unsettled: tuple[str, ...],
    ) -> PropagationResult:
        result = object.__new__(cls)
        result._changes = None
        result._raw = raw
        result._touched = (raw[0], raw[2], raw[3])
        result._outcome = (contradictions, failures, steps, settled, unsettled)
        return result

    @classmethod
    def _single(
        cls, contact: str, old: Content | Absent, new: Content, stamp: Stamp
    ) -> PropagationResult:
        """The result of a one-step run that touched one contact (the engine's fast path)."""
        result = object.__new__(cls)
        ids, news, stamps = (contact,), (new,), (stamp,)
        result._changes = None
        result._raw = (ids, (old,), news, stamps)
        result._touched = (ids, news, stamps)
        result._outcome = _ONE_STEP
        return result

    # the outcome's five fields share one slot, so the one-step result (made on every
    # update) sets four slots, not nine
    @property
    def contradictions(self) -> tuple[ContradictionRecord, ...]:
        """Information contacts refused during the run."""
        return self._outcome[0]

    @property
    def failures(self) -> tuple[GadgetFailure, ...]:
        """Gadgets that raised (or produced content that cannot be stored) during the run."""
        return self._outcome[1]

    @property
    def steps(self) -> int:
        """How many propagation steps the run took."""
        return self._outcome[2]

    @property
    def settled(self) -> bool:
        """False when the step budget stopped a run that had not reached a fixpoint."""
        return self._outcome[3]

    @property
    def unsettled(self) -> tuple[str, ...]:
        """When not settled: the contacts still changing when the budget ran out."""
        return self._outcome[4]

    @property
    def touched(self) -> tuple[Sequence[str], Sequence[Content], Sequence[Stamp]]:
        """Contacts whose value or stamp changed: parallel lists ``(ids, values, stamps)``.

        A superset of :attr:`changes` (a newer write of the same value changes only the
        stamp); this is what persistence and replication need.
        """
        return self._touched

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every contact whose content changed in the run: ``Change(contact, value, stamp)``."""
        if self._changes is None:
            assert self._raw is not None
            ids, olds, news, stamps = self._raw
            self._changes = tuple(
                [
                    Change(cid, new, stamp)
                    for cid, old, new, stamp in zip(ids, olds, news, stamps, strict=True)
                    if differs(old, new)
                ]
            )
        return self._changes

    @property
    def changed(self) -> dict[str, Content]:
        """The new content of every changed contact, by id."""
        return {c.contact: c.value for c in self.changes}

    @property
    def ok(self) -> bool:
        """Settled with no contradiction and no gadget failure."""
        return self.settled and not self.contradictions and not self.failures

    def __bool__(self) -> bool:
        """True when the run touched any contact, contradicted, failed or did not settle."""
        return bool(self._touched[0] or self.contradictions or self.failures or not self.settled)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PropagationResult):
            return NotImplemented
        return (
            self.changes,
            self.contradictions,
            self.failures,
            self.steps,
            self.settled,
            self.unsettled,
        ) == (
            other.changes,
            other.contradictions,
            other.failures,
            other.steps,
            other.settled,
            other.unsettled,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"PropagationResult(changes={self.changes!r}, contradictions={self.contradictions!r}, "
            f"failures={self.failures!r}, steps={self.steps}, settled={self.settled}, "
            f"unsettled={self.unsettled!r})"
        )
