"""Why a contact holds its value: the derivation tree :meth:`Network.explain` returns.

Plain attrs objects, each with a JSON form (:meth:`Explanation.to_json`). They are built
on request from the compact references the engine keeps (:mod:`bassline.engine.justify`);
building them is :mod:`bassline.engine.explain`'s job.

A tree can be any depth, and shares an explanation wherever a contact is used twice, so
nothing here recurses down it: ``==`` compares two trees with an explicit stack, a hash
covers one step, and an input's ``repr`` names the contact it explains instead of
drawing its explanation again (which, for a chain, overflowed the stack, and for shared
explanations, doubled with every level).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from bassline.clock import Stamp
from bassline.codec import to_json
from bassline.content import ABSENT
from bassline.engine.results import GadgetFailure

__all__ = ["Cut", "Explanation", "Input", "Justification", "Kind", "Premise", "Refusal"]


class Kind(enum.Enum):
    """How a value came to a contact."""

    WRITE = "write"
    """Written into this network: a premise."""
    WIRE = "wire"
    """Copied across a wire from another contact (accept-last)."""
    GADGET = "gadget"
    """Computed by a gadget from its inputs."""
    MERGE = "merge"
    """The join of the contributions a merge contact received."""
    RESTORED = "restored"
    """Set by ``restore`` from stored content that carried no justification."""


class Cut(enum.Enum):
    """Why an input's own explanation is not given in place."""

    DEPTH = "depth"
    """The depth limit was reached."""
    CYCLE = "cycle"
    """The input is a contact already being explained further up this branch."""
    REPEAT = "repeat"
    """The input is explained elsewhere in the tree (``explanation`` is that same object)."""


@attrs.frozen
class Premise:
    """A write an explanation rests on."""

    contact: str
    value: Any
    stamp: Stamp
    """When and where it was written: ``stamp.node`` is the writing node."""
    via: str
    """How it came in: ``"python"``, ``"http"``, ``"cli"``, ``"import"``, ``"spec"`` for a
    spec's initial content, or an apply's source (``"remote"`` by default)."""
    local: bool
    """Written through this network (True) or applied with its original stamp (False)."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; the value in the canonical codec's JSON form."""
        return {
            "contact": self.contact,
            "value": to_json(self.value),
            "stamp": self.stamp.to_json(),
            "node": self.stamp.node,
            "via": self.via,
            "local": self.local,
        }


def _named(explanation: Explanation | None) -> str:
    """An input's explanation in its ``repr``: which contact it explains, not the tree."""
    return "None" if explanation is None else f"<explanation of {explanation.contact!r}>"


@attrs.frozen(eq=False)
class Input:
    """One value a justification used: a wire's source, a gadget's input port."""

    contact: str
    value: Any
    """The value used."""
    stamp: Stamp
    """The stamp it had when used."""
    holds: bool
    """Whether the contact still holds the value used (equal content; the stamp may differ)."""
    port: str | None = None
    """The gadget port it fed (None for a wire)."""
    explanation: Explanation | None = attrs.field(default=None, repr=_named)
    """Why the contact holds its *current* value (None when cut by depth or a cycle)."""
    cut: Cut | None = None

    def _key(self) -> tuple[Any, ...]:
        return (
            self.contact,
            self.value,
            self.stamp,
            self.holds,
            self.port,
            self.cut,
            self.explanation is None,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Input:
            return NotImplemented
        return self._key() == other._key() and _same_trees([(self.explanation, other.explanation)])

    def __hash__(self) -> int:
        return hash(self._key())

    def to_json(self, steps: Mapping[int, int] | None = None) -> dict[str, Any]:
        """Plain JSON data; ``explained`` is the index of this input's explanation among
        the ``steps`` of :meth:`Explanation.to_json` (given ``steps``: id -> index)."""
        out: dict[str, Any] = {
            "contact": self.contact,
            "value": to_json(self.value),
            "stamp": self.stamp.to_json(),
            "holds": self.holds,
        }
        if self.port is not None:
            out["port"] = self.port
        if self.cut is not None:
            out["cut"] = self.cut.value
        if self.explanation is not None and steps is not None:
            out["explained"] = steps[id(self.explanation)]
        return out


@attrs.frozen(eq=False)
class Justification:
    """The immediate reason for a value: a write, a wire, a gadget run or a merge."""

    kind: Kind
    value: Any
    """The value this justification produced (for a merge contact, the joined value)."""
    stamp: Stamp
    via: str | None = None
    """A write: how it came in (see :attr:`Premise.via`)."""
    local: bool | None = None
    """A write: through this network, or applied with its original stamp."""
    group: str | None = None
    """A gadget run: the gadget group."""
    gadget: str | None = None
    """A gadget run: the gadget's id (``add``, ``product``, ...)."""
    inputs: tuple[Input, ...] = ()
    """A wire: its source; a gadget run: the input ports that had content."""
    contributions: tuple[Justification, ...] = ()
    """A merge: the offers joined into the value, oldest first (at most 8 are kept)."""
    omitted: int = 0
    """A merge: how many older contributions were dropped by the bound."""
    gaps: tuple[str, ...] = ()
    """Why this step alone cannot account for the value (empty when it can)."""

    def _key(self) -> tuple[Any, ...]:
        return (
            self.kind,
            self.value,
            self.stamp,
            self.via,
            self.local,
            self.group,
            self.gadget,
            tuple(i._key() for i in self.inputs),
            tuple(c._key() for c in self.contributions),
            self.omitted,
            self.gaps,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Justification:
            return NotImplemented
        return self._key() == other._key() and _same_trees(
            zip(_children(self), _children(other), strict=True)
        )

    def __hash__(self) -> int:
        return hash(self._key())

    def to_json(self, steps: Mapping[int, int] | None = None) -> dict[str, Any]:
        """Plain JSON data: ``kind``, ``value``, ``stamp`` and the fields the kind uses
        (``steps`` as for :meth:`Input.to_json`)."""
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "value": to_json(self.value),
            "stamp": self.stamp.to_json(),
        }
        if self.kind is Kind.WRITE:
            out.update(via=self.via, local=self.local, node=self.stamp.node)
        if self.kind is Kind.GADGET:
            out.update(group=self.group, gadget=self.gadget)
        if self.kind in (Kind.WIRE, Kind.GADGET):
            out["inputs"] = [i.to_json(steps) for i in self.inputs]
        if self.kind is Kind.MERGE:
            out["contributions"] = [c.to_json(steps) for c in self.contributions]
            out["omitted"] = self.omitted
        if self.gaps:
            out["gaps"] = list(self.gaps)
        return out


@attrs.frozen(eq=False)
class Refusal:
    """The value a contact refused in its standing contradiction, and why it came."""

    contact: str
    reason: str
    value: Any
    stamp: Stamp
    source: str
    """As :attr:`~bassline.engine.ContradictionRecord.source` names it."""
    justification: Justification

    def premises(self) -> tuple[Premise, ...]:
        """The writes the refused value rests on."""
        return _collect_premises(self.contact, self.justification)

    def _key(self) -> tuple[Any, ...]:
        return (
            self.contact,
            self.reason,
            self.value,
            self.stamp,
            self.source,
            self.justification._key(),
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Refusal:
            return NotImplemented
        return self._key() == other._key() and _same_trees(
            zip(_children(self.justification), _children(other.justification), strict=True)
        )

    def __hash__(self) -> int:
        return hash(self._key())

    def to_json(self, steps: Mapping[int, int] | None = None) -> dict[str, Any]:
        """Plain JSON data, with the refused side's premises (``steps`` as for
        :meth:`Input.to_json`)."""
        return {
            "reason": self.reason,
            "value": to_json(self.value),
            "stamp": self.stamp.to_json(),
            "source": self.source,
            "justification": self.justification.to_json(steps),
            "premises": [p.to_json() for p in self.premises()],
        }


@attrs.frozen(eq=False)
class Explanation:
    """Why one contact holds its current value, back to the writes it rests on."""

    contact: str
    value: Any
    """The current value (ABSENT when the contact has none)."""
    stamp: Stamp
    justification: Justification | None
    """None when the contact has no value."""
    contradiction: Refusal | None = None
    """The standing contradiction: what was refused and why it came (the kept side is
    :attr:`justification`)."""
    failure: GadgetFailure | None = None
    """The standing failure of the gadget that writes this contact, if any."""

    @property
    def present(self) -> bool:
        """Whether the contact holds a value."""
        return self.value is not ABSENT

    def _key(self) -> tuple[Any, ...]:
        return (
            self.contact,
            self.value,
            self.stamp,
            None if self.justification is None else self.justification._key(),
            None if self.contradiction is None else self.contradiction._key(),
            self.failure,
        )

    def _below(self) -> list[Explanation]:
        """The explanations of the inputs, the kept side's then the refused side's."""
        below: list[Explanation] = []
        if self.justification is not None:
            below.extend(_children(self.justification))
        if self.contradiction is not None:
            below.extend(_children(self.contradiction.justification))
        return below

    def __eq__(self, other: object) -> bool:
        """The same tree: every step equal (compared without recursion, any depth)."""
        if type(other) is not Explanation:
            return NotImplemented
        return _same_trees([(self, other)])

    def __hash__(self) -> int:
        """Of this step only (equal trees have equal steps)."""
        return hash(self._key())

    def walk(self) -> Iterator[Explanation]:
        """This explanation and every one below it, each once, depth first."""
        return _walk([self])

    def premises(self) -> tuple[Premise, ...]:
        """The writes the value rests on, each once, in the order the tree shows them."""
        if self.justification is None:
            return ()
        return _collect_premises(self.contact, self.justification)

    def gaps(self) -> tuple[str, ...]:
        """Why the tree cannot fully account for the value: stale inputs, cut cycles
        through accept-last contacts, the depth limit, dropped contributions."""
        out: list[str] = []
        for node in self.walk():
            if node.justification is not None:
                out.extend(_gaps_of(node.justification))
        return tuple(dict.fromkeys(out))

    @property
    def complete(self) -> bool:
        """True when the premises alone account for the value (no gaps)."""
        return not self.gaps()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data, flat so that no depth of tree can overflow an encoder.

        ``steps`` lists every explanation in the tree once, this one first, each as
        ``{contact, present, value, stamp, justification, contradiction?, failure?}``; an
        input's ``explained`` is the index of its contact's step; a ``failure`` is
        :meth:`GadgetFailure.describe <bassline.engine.GadgetFailure.describe>` with the
        failed run's ``inputs`` (port -> value, in the codec's JSON form) beside it. Beside them:
        ``premises``, ``gaps`` and ``complete`` (of this explanation's value).
        """
        nodes = list(_walk([self], refusals=True))
        steps = {id(node): n for n, node in enumerate(nodes)}
        gaps = self.gaps()
        return {
            "contact": self.contact,
            "steps": [node._step_json(steps) for node in nodes],
            "premises": [p.to_json() for p in self.premises()],
            "gaps": list(gaps),
            "complete": not gaps,
        }

    def _step_json(self, steps: Mapping[int, int]) -> dict[str, Any]:
        present = self.value is not ABSENT
        out: dict[str, Any] = {
            "contact": self.contact,
            "present": present,
            "value": to_json(self.value) if present else None,
            "stamp": self.stamp.to_json(),
            "justification": (
                self.justification.to_json(steps) if self.justification is not None else None
            ),
        }
        if self.contradiction is not None:
            out["contradiction"] = self.contradiction.to_json(steps)
        failure = self.failure
        if failure is not None:  # with its inputs: what the gadget was given, by port
            out["failure"] = failure.describe()
            out["failure"]["inputs"] = {port: to_json(v) for port, v in failure.inputs.items()}
        return out


def _walk(roots: list[Explanation], *, refusals: bool = False) -> Iterator[Explanation]:
    """Each explanation under ``roots`` once, depth first (with the refused sides' when
    ``refusals``)."""
    seen: set[int] = set()
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        children: list[Explanation] = []
        if node.justification is not None:
            children.extend(_children(node.justification))
        if refusals and node.contradiction is not None:
            children.extend(_children(node.contradiction.justification))
        stack.extend(reversed(children))


def _same_trees(
    pairs: Iterable[tuple[Explanation | None, Explanation | None]],
) -> bool:
    """Whether each pair of explanations is the same tree, walked with an explicit stack."""
    stack = list(pairs)
    seen: set[tuple[int, int]] = set()
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if a is None or b is None:
            return False
        pair = (id(a), id(b))
        if pair in seen:  # a shared explanation, already compared
            continue
        seen.add(pair)
        if a._key() != b._key():
            return False
        stack.extend(zip(a._below(), b._below(), strict=True))  # the keys say as many
    return True


def _collect_premises(contact: str, j: Justification) -> tuple[Premise, ...]:
    found: dict[tuple[str, Stamp, str], Premise] = {}
    for p in _premises_of(j, contact):
        found.setdefault((p.contact, p.stamp, p.via), p)
    for node in _walk(list(_children(j))):
        if node.justification is not None:
            for p in _premises_of(node.justification, node.contact):
                found.setdefault((p.contact, p.stamp, p.via), p)
    return tuple(found.values())


def _children(j: Justification) -> Iterator[Explanation]:
    for i in j.inputs:
        if i.explanation is not None:
            yield i.explanation
    for c in j.contributions:
        yield from _children(c)


def _premises_of(j: Justification, contact: str) -> Iterator[Premise]:
    """The writes among ``j`` and its contributions (not below its inputs)."""
    if j.kind is Kind.WRITE:
        assert j.via is not None and j.local is not None
        yield Premise(contact, j.value, j.stamp, j.via, j.local)
    for c in j.contributions:
        yield from _premises_of(c, contact)


def _gaps_of(j: Justification) -> Iterator[str]:
    yield from j.gaps
    for c in j.contributions:
        yield from _gaps_of(c)
