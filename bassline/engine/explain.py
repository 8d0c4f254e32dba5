"""Building an :class:`~bassline.engine.explanation.Explanation` from the engine's references.

The walk is depth first over contacts, with an explicit stack (a chain of any length
explains without recursion). A contact is explained once per tree: a later use of it is
a :attr:`~Cut.REPEAT` sharing the same object, and a use of a contact further up the same
branch is a :attr:`~Cut.CYCLE`. A cycle loses nothing on a merge contact whose current
value includes the value used (its contributions are all kept, and the premises under
them are in the tree); anywhere else it is a gap.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from bassline.clock import Stamp
from bassline.content import ABSENT, values_equal
from bassline.engine.explanation import Cut, Explanation, Input, Justification, Kind, Refusal
from bassline.engine.justify import (
    CONTRIBUTION_LIMIT,
    RESTORED,
    Contributions,
    GadgetRun,
    Kept,
    Reference,
    Write,
)
from bassline.engine.wiring import MERGE
from bassline.lattices import Unchanged

if TYPE_CHECKING:
    from bassline.engine.propagation import Propagator

__all__ = ["explain"]

_Step = Generator[tuple[int, int | None], Explanation | None, Explanation]
"""Explaining one contact: yields (contact, remaining depth) for each input to explain,
receives its explanation (None when cut), returns the contact's explanation."""


def check_depth(depth: object) -> int | None:
    """``depth`` as explain takes it: None (no limit) or an int >= 1; ValueError otherwise."""
    if depth is None or (type(depth) is int and depth >= 1):
        return depth
    raise ValueError(f"depth must be a whole number >= 1 or None (no limit), not {depth!r}")


def explain(net: Propagator, i: int, depth: int | None) -> Explanation:
    """The explanation of contact ``i``'s current value, ``depth`` levels deep."""
    return _Walk(net).run(i, depth)


class _Walk:
    def __init__(self, net: Propagator) -> None:
        self.net = net
        self.on_path: set[int] = set()
        self.done: dict[int, tuple[Explanation, bool]] = {}
        """Explained contacts: the explanation and whether the depth limit cut it."""
        self.cut_by_depth = False

    def run(self, i: int, depth: int | None) -> Explanation:
        stack: list[_Step] = [self.step(i, depth)]
        sent: Explanation | None = None
        while True:
            try:
                request = stack[-1].send(sent)
            except StopIteration as stop:
                stack.pop()
                if not stack:
                    result: Explanation = stop.value
                    return result
                sent = stop.value
                continue
            sent = None
            stack.append(self.step(*request))

    # ---------------------------------------------------------------- one contact

    def step(self, i: int, depth: int | None) -> _Step:
        net = self.net
        self.on_path.add(i)
        outer_cut = self.cut_by_depth
        self.cut_by_depth = False
        value, stamp = net._values[i], net._stamps[i]
        why = net._why[i]
        justification: Justification | None = None
        if value is not ABSENT and why is not None:
            if net._kind[i] == MERGE and type(why) is not Contributions:
                # the engine keeps a merge contact's first contribution as a bare reference
                why = Contributions(why, value, stamp)  # type: ignore[arg-type]
            justification = yield from self.justify(i, why, value, stamp, depth)
        refusal: Refusal | None = None
        refused = net._refused.get(i)
        record = net._contradictions.get(i)
        if refused is not None and record is not None and refused[0] is record:
            kept = yield from self.justify(i, refused[1], record.incoming, record.stamp, depth)
            refusal = Refusal(
                contact=net._ids[i],
                reason=record.reason,
                value=record.incoming,
                stamp=record.stamp,
                source=record.source,
                justification=kept,
            )
        explanation = Explanation(
            contact=net._ids[i],
            value=value,
            stamp=stamp,
            justification=justification,
            contradiction=refusal,
            failure=net._failures.get(i),
        )
        self.on_path.discard(i)
        self.done[i] = (explanation, self.cut_by_depth)
        self.cut_by_depth = self.cut_by_depth or outer_cut
        return explanation

    def justify(
        self,
        i: int,
        why: Reference | Kept | Contributions,
        value: Any,
        stamp: Stamp,
        depth: int | None,
    ) -> Generator[tuple[int, int | None], Explanation | None, Justification]:
        """The justification ``why`` gives for ``value`` at contact ``i``."""
        if type(why) is Kept:
            stamp = why.stamp
            why = why.ref
        if type(why) is Contributions:
            return (yield from self.merged(i, why, value, stamp, depth))
        if type(why) is Write:
            if why is RESTORED:
                gap = f"{self.net._ids[i]}: restored from storage without its justification"
                return Justification(Kind.RESTORED, value, stamp, gaps=(gap,))
            return Justification(Kind.WRITE, value, stamp, via=why.via, local=why.local)
        if type(why) is GadgetRun:
            inputs: list[Input] = []
            gaps: list[str] = []
            for port, ci, used, used_stamp in why.used:
                put, missing = yield from self.use(i, ci, used, used_stamp, depth, port)
                inputs.append(put)
                if missing is not None:
                    gaps.append(missing)
            inst = why.instance
            return Justification(
                Kind.GADGET,
                value,
                stamp,
                group=inst.group,
                gadget=inst.gadget.id,
                inputs=tuple(inputs),
                gaps=tuple(gaps),
            )
        assert type(why) is int
        source, missing = yield from self.use(i, why, value, stamp, depth, None)
        return Justification(
            Kind.WIRE, value, stamp, inputs=(source,), gaps=() if missing is None else (missing,)
        )

    def merged(
        self, i: int, why: Contributions, value: Any, stamp: Stamp, depth: int | None
    ) -> Generator[tuple[int, int | None], Explanation | None, Justification]:
        """A merge contact's contributions, each justified."""
        parts = []
        for ref, part, part_stamp in why.items:
            parts.append((yield from self.justify(i, ref, part, part_stamp, depth)))
        gaps: tuple[str, ...] = ()
        if why.omitted:
            gaps = (
                f"{self.net._ids[i]}: {why.omitted} older contribution(s) dropped "
                f"(a merge contact keeps {CONTRIBUTION_LIMIT})",
            )
        return Justification(
            Kind.MERGE, value, stamp, contributions=tuple(parts), omitted=why.omitted, gaps=gaps
        )

    def use(
        self, i: int, j: int, used: Any, stamp: Stamp, depth: int | None, port: str | None
    ) -> Generator[tuple[int, int | None], Explanation | None, tuple[Input, str | None]]:
        """Contact ``j``'s value ``used`` by contact ``i``'s justification, explained, and
        the gap it leaves (None when it leaves none)."""
        net = self.net
        holds = self.holds(i, j, used)
        contact, user = net._ids[j], net._ids[i]
        gap = None
        if not holds and not self.grown_into(i, j, used):
            gap = f"{user}: input {contact} no longer holds the value used"
        if j in self.on_path:
            if gap is None and not (net._kind[j] == MERGE and self.includes(j, used)):
                gap = f"{user}: input {contact} is part of a cycle of justifications"
            return Input(contact, used, stamp, holds, port, None, Cut.CYCLE), gap
        done = self.done.get(j)
        if done is not None and (not done[1] or (depth is not None and depth <= 1)):
            self.cut_by_depth = self.cut_by_depth or done[1]
            return Input(contact, used, stamp, holds, port, done[0], Cut.REPEAT), gap
        if depth is not None and depth <= 1:
            self.cut_by_depth = True
            gap = gap or f"{user}: input {contact} not explained (depth limit)"
            return Input(contact, used, stamp, holds, port, None, Cut.DEPTH), gap
        explanation = yield (j, None if depth is None else depth - 1)
        return Input(contact, used, stamp, holds, port, explanation), gap

    def holds(self, i: int, j: int, used: Any) -> bool:
        """Whether contact ``j`` still holds the value ``used`` by contact ``i`` (which, on
        a merge contact, is kept in ``i``'s lattice form)."""
        current = self.net._values[j]
        if current is used:
            return True
        if current is ABSENT:
            return False
        if values_equal(current, used):
            return True
        lattice = self.net._lattice[i]
        if lattice is None:
            return False
        try:
            return values_equal(lattice.coerce(current), used)
        except (ValueError, TypeError):
            return False

    def grown_into(self, i: int, j: int, used: Any) -> bool:
        """Whether merge contact ``i`` already holds all of contact ``j``'s current value,
        which includes the value ``used``: then ``j``'s current premises give ``i`` no
        more and no less than ``used`` did, together with ``i``'s other contributions."""
        lattice = self.net._lattice[i]
        current = self.net._values[j]
        if lattice is None or current is ABSENT:
            return False
        try:
            grown = lattice.coerce(current)
            return isinstance(lattice.join(grown, used), Unchanged) and isinstance(
                lattice.join(self.net._values[i], grown), Unchanged
            )
        except (ValueError, TypeError):
            return False

    def includes(self, j: int, used: Any) -> bool:
        """Whether merge contact ``j``'s current value includes ``used``."""
        lattice = self.net._lattice[j]
        assert lattice is not None
        try:
            return isinstance(lattice.join(self.net._values[j], lattice.coerce(used)), Unchanged)
        except (ValueError, TypeError):
            return False
