"""``EngineView``: the runtime's reads, listeners and stamp checks, served by its engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from bassline.clock import Stamp
from bassline.content import Absent, Content
from bassline.engine import (
    ChangeStream,
    ContactState,
    ContradictionRecord,
    Explanation,
    GadgetFailure,
    Network,
    PropagationResult,
)
from bassline.engine.carried import Carried

__all__ = ["EngineView"]


class EngineView:
    """Everything a runtime answers from memory, straight from its engine (:attr:`network`).

    :class:`~bassline.runtime.StorageBackedRuntime` has these members; a node and the CLI
    use them rather than reaching for the engine behind the runtime. Reads never touch
    storage.
    """

    network: Network
    """The engine whose state this runtime keeps (and persists)."""

    # ---------------------------------------------------------------- reading

    @property
    def run_groups(self) -> frozenset[str]:
        """The gadget groups this runtime runs now."""
        return self.network.run_groups

    def __contains__(self, contact_id: object) -> bool:
        """Whether the Bassline has this contact."""
        return contact_id in self.network

    def stamp(self, contact_id: str) -> Stamp:
        """The stamp of a contact's current content."""
        return self.network.stamp(contact_id)

    def stamped(self, contact_id: str) -> tuple[Content | Absent, Stamp]:
        """A contact's content (ABSENT when it has none) and its stamp.

        Unlike :meth:`~bassline.runtime.StorageBackedRuntime.value`, this read is not
        counted in the cache metrics: it is how a node reads what it gossips.
        """
        return self.network.stamped(contact_id)

    def contents_of(self, contact_ids: Sequence[str]) -> tuple[list[Content | Absent], list[Stamp]]:
        """The content and stamp of each of ``contact_ids``, read together (see
        :meth:`bassline.engine.Network.contents_of`); a node reads those of every delta."""
        return self.network.contents_of(contact_ids)

    def contact(self, contact_id: str) -> ContactState:
        """Value, stamp, last contradiction and gadget failure of one contact."""
        return self.network.contact(contact_id)

    def values(self) -> dict[str, Content]:
        """Every contact that has content, by id."""
        return self.network.values()

    def state(self) -> Iterator[tuple[str, Content, Stamp]]:
        """``(contact, value, stamp)`` for every contact that has content."""
        return self.network.state()

    def carried_justification(self, contact_id: str) -> Carried | None:
        """What a contact's current justification says to another node; see
        :meth:`bassline.engine.Network.carried_justification`."""
        return self.network.carried_justification(contact_id)

    def carried_justifications(self, contact_ids: Sequence[str]) -> list[Carried | None]:
        """:meth:`carried_justification` of each of ``contact_ids``, read together (see
        :meth:`bassline.engine.Network.carried_justifications`)."""
        return self.network.carried_justifications(contact_ids)

    def explain(self, contact_id: str, depth: int | None = None) -> Explanation:
        """Why a contact holds its value, back to the writes it rests on, ``depth``
        contacts deep (None: no limit). See :meth:`bassline.engine.Network.explain`."""
        return self.network.explain(contact_id, depth)

    @property
    def contradictions(self) -> dict[str, ContradictionRecord]:
        """The standing contradiction of each contact that has one."""
        return self.network.contradictions

    @property
    def failures(self) -> dict[str, GadgetFailure]:
        """The standing gadget failure of each output contact that has one."""
        return self.network.failures

    @property
    def failure_counts(self) -> Mapping[str, int]:
        """Gadget failures recorded since the runtime was built, by gadget id."""
        return self.network.failure_counts

    @property
    def initial_result(self) -> PropagationResult:
        """The run that wrote the spec's initial contents, when the runtime was built
        (before stored contents were restored)."""
        return self.network.initial_result

    @property
    def step_budget(self) -> int:
        """The most steps one run may take before it stops unsettled."""
        return self.network.step_budget

    # ---------------------------------------------------------------- listening

    def add_listener(self, listener: Callable[[PropagationResult], None]) -> Callable[[], None]:
        """Call ``listener(result)`` after every run that changed something (a local
        write, a peer's values, recovery's settling); returns an unsubscribe."""
        if not callable(listener):  # else the next write would fail on it, in every writer
            raise TypeError(f"a listener must be callable, not {listener!r:.80}")
        return self.network.add_listener(listener)

    def changes(self, max_buffer: int = 1024) -> ChangeStream:
        """A bounded async stream of run results; see :class:`~bassline.engine.ChangeStream`."""
        return self.network.changes(max_buffer)

    # ---------------------------------------------------------------- stamps

    def observe(self, stamp: Stamp) -> None:
        """Advance the runtime's clock past a stamp written elsewhere; ``ValueError`` if
        the stamp is implausibly far ahead of this clock (beyond its allowed drift)."""
        self.network.clock.observe(stamp)

    def validate(self, contact_id: str, value: object) -> None:
        """Raise unless ``value`` could be written to ``contact_id``; change nothing.

        See :meth:`bassline.engine.Network.validate`.
        """
        self.network.validate(contact_id, value)
