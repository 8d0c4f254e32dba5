"""The engine's core: blending offers into contacts and running to a fixpoint."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from itertools import compress, repeat
from operator import is_not, itemgetter
from typing import Any

from bassline.clock import INITIAL_STAMP, ZERO_STAMP, HybridLogicalClock, Stamp
from bassline.codec import to_json
from bassline.content import ABSENT, lists_for_tuples, values_equal
from bassline.engine.checks import derived_stamp, kind_of, plainly_encodable, tie_wins
from bassline.engine.compare import differs
from bassline.engine.justify import Contributions, GadgetRun, Kept, Reference, source_label
from bassline.engine.results import ContradictionRecord, GadgetFailure, PropagationResult
from bassline.engine.stream import ChangeStream
from bassline.engine.unwired import run_lone
from bassline.engine.wiring import ACCEPT_LAST, GadgetInstance, Wiring
from bassline.errors import ContentError, UnknownContact
from bassline.gadgets import PortInputs, UnusableInput
from bassline.lattices import Changed, Contradiction
from bassline.plugins import closest

__all__ = ["Listener", "Propagator"]

Listener = Callable[[PropagationResult], None]
log = logging.getLogger("bassline.engine")


class Propagator:
    """Contents and stamps of a compiled network, and the run that takes them to a fixpoint.

    The base of :class:`~bassline.engine.network.Network`, which adds the public verbs;
    everything here is internal to the engine.
    """

    def __init__(self, wiring: Wiring, clock: HybridLogicalClock, step_budget: int | None) -> None:
        self.clock = clock
        self.run_groups = wiring.run_groups
        self._ids = wiring.ids
        self._index = wiring.index
        self._kind = wiring.kind
        self._lattice = wiring.lattice
        self._out = wiring.out
        self._gadgets = wiring.gadgets
        self._feeds = wiring.feeds
        n = len(self._ids)
        self._values: list[Any] = [ABSENT] * n
        self._stamps: list[Stamp] = [ZERO_STAMP] * n
        self._why: list[Reference | Kept | Contributions | None] = [None] * n
        """Each contact's immediate justification (see :mod:`bassline.engine.justify`)."""
        self.step_budget = step_budget or max(10_000, 100 * (n + len(self._gadgets)))
        self._contradictions: dict[int, ContradictionRecord] = {}
        self._failures: dict[int, GadgetFailure] = {}
        self._refused: dict[int, tuple[ContradictionRecord, Reference]] = {}
        """The justification of each contradiction's refused value, with its record."""
        self.failure_counts: Counter[str] = Counter()
        """Gadget failures recorded since this network was built, by gadget id."""
        self._ties: dict[int, list[Any]] = {}
        """During a run: values that lost a stamp tie to a replica's value (by contact)."""
        self._listeners: tuple[Listener, ...] = ()
        self._streams: list[ChangeStream] = []
        self._settling = False
        """During :meth:`_settle`: a gadget output equal to its computed value keeps its stamp."""
        self._lone: tuple[list[tuple[int, ...]], list[bool]] | None = None  # unwired.py

    def _idx(self, contact_id: str) -> int:
        try:
            return self._index[contact_id]
        except (KeyError, TypeError):
            hint = closest(str(contact_id), self._ids) if len(self._ids) < 50_000 else None
            raise UnknownContact(str(contact_id), [hint] if hint else []) from None

    def _indexes(self, contact_ids: Sequence[str]) -> list[int]:
        """The index of each of ``contact_ids``, looked up in a C loop; UnknownContact
        for an unknown id."""
        try:
            return list(map(self._index.__getitem__, contact_ids))
        except (KeyError, TypeError):
            return [self._idx(cid) for cid in contact_ids]

    def _check_content(self, contact: int, value: Any) -> None:
        if value is ABSENT:
            raise ContentError(
                "cannot write ABSENT; contacts only gain information", self._ids[contact]
            )
        try:
            to_json(value)
        except ContentError as exc:
            raise ContentError(str(exc), self._ids[contact]) from None

    def _check_kind(self, contact: int, value: Any) -> None:
        """Raise ContentError unless ``value`` is an element of merge contact ``contact``'s
        lattice (a value of the wrong kind is an input error, never a contradiction)."""
        lattice = self._lattice[contact]
        if lattice is None:
            return
        try:
            lattice.coerce(value)
        except (ValueError, TypeError) as exc:
            raise ContentError(
                f"this {kind_of(value)} is not a value of the {lattice.name} lattice ({exc})",
                self._ids[contact],
            ) from None

    def _notify(self, result: PropagationResult) -> None:
        """Hand ``result`` to every listener and change stream, each whatever another
        raised; then raise the first listener's exception again (log any later one)."""
        if not result:
            return
        raised: Exception | None = None
        for listener in self._listeners:  # a tuple: (un)subscribing mid-loop is safe
            try:
                listener(result)
            except Exception as exc:
                if raised is None:
                    raised = exc
                else:
                    log.error("listener %r raised too", listener, exc_info=exc)
        if self._streams:
            for stream in tuple(self._streams):
                stream.publish(result)
        if raised is not None:
            raise raised

    def _all_gadget_seeds(self) -> list[int]:
        return list(range(len(self._gadgets)))

    def _settle(self) -> PropagationResult:
        """Run from every contact with content and every gadget (after a restore): the
        contents restored are a fixpoint already, unless the spec or some rows changed,
        so a gadget output equal to what its gadget computes is left as it is."""
        values, n = self._values, len(self._values)
        held = list(compress(range(n), map(is_not, values, repeat(ABSENT))))
        # a seed without wires changes nothing when taken: those count as the step each
        # would take (found in C loops), unless the budget could end the run among them
        seeds = held
        if len(held) < self.step_budget:
            seeds = list(compress(held, map(self._out.__getitem__, held)))
        self._settling = True
        try:
            return self._propagate(
                deque(seeds),
                {},
                [],
                _touched_gadgets=self._all_gadget_seeds(),
                _steps=len(held) - len(seeds),
            )
        finally:
            self._settling = False

    def _offer(
        self,
        i: int,
        value: Any,
        stamp: Stamp,
        why: Reference,
        changed: dict[int, Any],
        contradictions: list[ContradictionRecord],
        remote: bool = False,
    ) -> bool:
        """Blend one incoming value into contact ``i``; True if it should propagate.

        ``why`` is the offer's justification, kept (accept-last) or added to the
        contact's contributions (merge) when the offer changes it. Accept-last: a strictly
        newer stamp wins. Values from other replicas (``remote``) with an equal stamp but a
        different value are ordered by their canonical JSON, so every replica keeps the
        same one whatever the delivery order."""
        if self._kind[i] == ACCEPT_LAST:
            cur = self._stamps[i]
            if stamp > cur or (remote and stamp == cur and tie_wins(value, self._values[i])):
                changed.setdefault(i, self._values[i])
                if stamp == cur:  # wired copies of the loser follow the winner (_tie_follows)
                    self._ties.setdefault(i, []).append(self._values[i])
                self._values[i] = value
                self._stamps[i] = stamp
                self._why[i] = why
                return True
            return False
        lattice = self._lattice[i]
        assert lattice is not None
        cur_value = self._values[i]
        try:
            incoming = lattice.coerce(value)
        except (ValueError, TypeError) as exc:
            self._contradict(
                i,
                f"{kind_of(value)} from {source_label(why, self._ids)} is not a value of the "
                f"{lattice.name} lattice ({exc})",
                value,
                why,
                stamp,
                contradictions,
            )
            return False
        if cur_value is ABSENT:
            self._values[i] = incoming
            self._stamps[i] = stamp
            self._why[i] = why  # one contribution: Contributions only from the second
            changed.setdefault(i, ABSENT)
            self._contradictions.pop(i, None)
            return True
        outcome = lattice.join(cur_value, incoming)
        if isinstance(outcome, Changed):
            self._values[i] = outcome.value
            previous = self._stamps[i]
            if stamp > previous:
                self._stamps[i] = stamp
            else:
                # joined information older than the contact's own: step past its stamp, so
                # accept-last neighbours holding the previous value take the new one
                self._stamps[i] = derived_stamp(stamp, previous)
                self.clock.observe(self._stamps[i])
            contributions = self._why[i]
            if type(contributions) is not Contributions:
                contributions = self._why[i] = Contributions(
                    contributions,  # type: ignore[arg-type]
                    cur_value,
                    previous,
                )
            contributions.add(why, incoming, stamp, lattice)
            changed.setdefault(i, cur_value)
            self._contradictions.pop(i, None)
            return True
        if isinstance(outcome, Contradiction):
            # the refused value as the lattice holds it (the interval [6, 9], not the list
            # [6,9] written), as the value kept is: results and explanations show both so
            self._contradict(i, outcome.reason, incoming, why, stamp, contradictions)
        return False

    def _contradict(
        self,
        i: int,
        reason: str,
        incoming: Any,
        why: Reference,
        stamp: Stamp,
        contradictions: list[ContradictionRecord],
    ) -> None:
        record = ContradictionRecord(
            contact=self._ids[i],
            reason=reason,
            current=self._values[i],
            incoming=incoming,
            source=source_label(why, self._ids),
            stamp=stamp,
        )
        self._contradictions[i] = record
        self._refused[i] = (record, why)
        contradictions.append(record)

    def _run_from(
        self,
        offers: list[tuple[int, Any, Stamp, Reference]],
        *,
        initial: bool = False,
        remote: bool = False,
    ) -> PropagationResult:
        changed: dict[int, Any] = {}
        contradictions: list[ContradictionRecord] = []
        queue: deque[int] = deque()
        gadgets: list[int] = self._all_gadget_seeds() if initial else []
        values, stamps, whys, kind, feeds = (
            self._values,
            self._stamps,
            self._why,
            self._kind,
            self._feeds,
        )
        accept_last, offer = ACCEPT_LAST, self._offer
        for i, value, stamp, why in offers:
            # a strictly newer stamp on an accept-last contact: _offer's first case, inline
            if kind[i] == accept_last and stamp > stamps[i]:
                if i not in changed:
                    changed[i] = values[i]
                values[i] = value
                stamps[i] = stamp
                whys[i] = why
            elif not offer(i, value, stamp, why, changed, contradictions, remote):
                continue
            queue.append(i)
            if feeds[i] and i in changed and differs(changed[i], values[i]):
                gadgets.extend(feeds[i])
        return self._propagate(queue, changed, contradictions, _touched_gadgets=gadgets)

    def _run_writes(
        self, indexes: list[int], values: list[Any], why: Reference
    ) -> PropagationResult:
        """Write ``values`` (checked already) to contacts ``indexes`` with fresh stamps (one
        clock reading, :meth:`~bassline.clock.HybridLogicalClock.ticks`) and run once to
        the fixpoint: :meth:`_run_from` for local writes, the accept-last offer
        inlined (a fresh tick is newer than every stamp this node holds, so the contact
        takes the value as it is; the full offer otherwise, as for a merge contact)."""
        own_values, own_stamps, whys, kind, feeds = (
            self._values,
            self._stamps,
            self._why,
            self._kind,
            self._feeds,
        )
        accept_last = ACCEPT_LAST
        offer = self._offer
        changed: dict[int, Any] = {}
        contradictions: list[ContradictionRecord] = []
        queue: deque[int] = deque()
        gadgets: list[int] = []
        stamps = self.clock.ticks(len(indexes))
        lone = run_lone(self, indexes, values, stamps, [why] * len(indexes), remote=False)
        if lone is not None:  # no step can follow any of these offers
            return lone
        for i, value, stamp in zip(indexes, values, stamps, strict=True):
            if kind[i] == accept_last and stamp > own_stamps[i]:
                if i not in changed:
                    changed[i] = own_values[i]
                own_values[i] = value
                own_stamps[i] = stamp
                whys[i] = why
            elif not offer(i, value, stamp, why, changed, contradictions):
                continue
            queue.append(i)
            if feeds[i] and i in changed and differs(changed[i], own_values[i]):
                gadgets.extend(feeds[i])
        return self._propagate(queue, changed, contradictions, _touched_gadgets=gadgets)

    def _propagate(
        self,
        queue: deque[int],
        changed: dict[int, Any],
        contradictions: list[ContradictionRecord],
        *,
        _touched_gadgets: list[int],
        _steps: int = 0,
    ) -> PropagationResult:
        values, stamps, kind, out, feeds = (
            self._values,
            self._stamps,
            self._kind,
            self._out,
            self._feeds,
        )
        whys = self._why
        accept_last = ACCEPT_LAST
        offer = self._offer
        ties = self._ties
        pending_gadgets: dict[int, None] = dict.fromkeys(_touched_gadgets)
        failures: list[GadgetFailure] = []
        budget = self.step_budget
        steps = _steps
        popleft, append = queue.popleft, queue.append
        while queue or pending_gadgets:
            while queue:
                steps += 1
                if steps > budget:
                    return self._finish(
                        changed, contradictions, failures, steps, queue, pending_gadgets
                    )
                src = popleft()
                v = values[src]
                s = stamps[src]
                for dst in out[src]:
                    if kind[dst] == accept_last:
                        if s > stamps[dst] or (
                            ties and s == stamps[dst] and self._tie_follows(src, dst)
                        ):
                            old = values[dst]
                            if dst not in changed:
                                changed[dst] = old
                            # the value it already holds keeps its justification: an echo
                            # around a loop must not replace the write it came from. One
                            # ``!=`` decides the common case; values ``==`` calls equal
                            # (True and 1 are) get the full test
                            if old != v or differs(old, v):
                                whys[dst] = src
                                if feeds[dst] and differs(old, v):
                                    pending_gadgets.update(dict.fromkeys(feeds[dst]))
                            elif type(whys[dst]) is not Kept:
                                whys[dst] = Kept(whys[dst], stamps[dst])  # type: ignore[arg-type]
                            values[dst] = v
                            stamps[dst] = s
                            append(dst)
                    elif offer(dst, v, s, src, changed, contradictions):
                        if feeds[dst]:
                            pending_gadgets.update(dict.fromkeys(feeds[dst]))
                        append(dst)
            if pending_gadgets:
                k = next(iter(pending_gadgets))
                del pending_gadgets[k]
                steps += 1
                if steps > budget:
                    pending_gadgets[k] = None
                    return self._finish(
                        changed, contradictions, failures, steps, queue, pending_gadgets
                    )
                self._run_gadget(k, queue, changed, contradictions, failures)
        return self._finish(changed, contradictions, failures, steps, queue, pending_gadgets)

    def _tie_follows(self, src: int, dst: int) -> bool:
        """Whether ``dst``, holding ``src``'s stamp, should take ``src``'s value across a
        wire: only when ``src`` lost a value to a replica's equal-stamp value in this run and
        ``dst`` holds that lost value: ``dst`` is a wired copy of it. Any other value at
        an equal stamp stays (a derived value never overwrites the write it came from)."""
        replaced = self._ties.get(src)
        if replaced is None:
            return False
        cur, incoming = self._values[dst], self._values[src]
        if cur is incoming or not any(cur is r or values_equal(cur, r) for r in replaced):
            return False
        if not tie_wins(incoming, cur):
            return False
        self._ties.setdefault(dst, []).append(cur)
        return True

    def _run_gadget(
        self,
        k: int,
        queue: deque[int],
        changed: dict[int, Any],
        contradictions: list[ContradictionRecord],
        failures: list[GadgetFailure],
    ) -> None:
        inst = self._gadgets[k]
        values = self._values
        inputs: Mapping[str, Any] = {
            port: values[ci] for port, ci in inst.inputs if values[ci] is not ABSENT
        }
        gadget = inst.gadget
        try:
            if gadget.kinds:  # content it cannot compute with is a failure, not a no-fire
                gadget.check(inputs)
            if not gadget.is_active(inputs):
                return
            if inst.two_way:
                inputs = self._port_inputs(inst, inputs)
            outputs = gadget.run(inputs, checked=True)
            ports = dict(inst.outputs)
            for port, value in outputs.items():
                if not plainly_encodable(value):
                    to_json(value, f"<{port}>")
                    if lists_for_tuples(value) is not value:  # held as the lists (D69)
                        outputs = {p: lists_for_tuples(v) for p, v in outputs.items()}
        except Exception as exc:  # a gadget's bug is reported, never propagated
            unusable = exc if isinstance(exc, UnusableInput) else None
            failure = GadgetFailure(
                group=inst.group,
                gadget=gadget.id,
                error=f"{type(exc).__name__}: {exc}",
                inputs=dict(inputs),
                outputs=tuple(self._ids[ci] for _, ci in inst.outputs),
                port=unusable.port if unusable else None,
                kind=unusable.kind if unusable else None,
            )
            failures.append(failure)
            self.failure_counts[gadget.id] += 1
            for _, ci in inst.outputs:
                self._failures[ci] = failure
            return
        for _, ci in inst.outputs:
            self._failures.pop(ci, None)
        if not outputs:
            return
        stamps = self._stamps
        used = tuple(
            [
                (port, ci, values[ci], stamps[ci])
                for port, ci in inst.inputs
                if values[ci] is not ABSENT
            ]
        )
        premise = max((u[3] for u in used), default=INITIAL_STAMP)
        why = GadgetRun(inst, used)
        kind = self._kind
        for port, value in outputs.items():
            ci = ports[port]
            held = values[ci]
            if (
                kind[ci] == ACCEPT_LAST
                and held is not ABSENT
                and (premise <= stamps[ci] or self._settling)
                and values_equal(held, value)
            ):
                # it holds this very value already, at least as new as every input used, or
                # restored with it: a fresh stamp would only make it look changed (and a
                # reopened store would write it again, each time)
                continue
            stamp = derived_stamp(premise, stamps[ci])
            self.clock.observe(stamp)
            if self._offer(ci, value, stamp, why, changed, contradictions):
                queue.append(ci)

    def _port_inputs(self, inst: GadgetInstance, inputs: Mapping[str, Any]) -> PortInputs:
        """What a gadget with two-way ports sees: contents, write order, accept-last ports."""
        kind = self._kind
        replaced = frozenset(p for p, ci in inst.two_way if kind[ci] == ACCEPT_LAST)
        if not replaced:  # merge contacts only: the order of writes does not matter
            return PortInputs(inputs)
        stamps = self._stamps
        present = [(p, ci, n) for n, (p, ci) in enumerate(inst.two_way) if p in inputs]
        # oldest first; at equal stamps the later port counts as older (it is recomputed)
        present.sort(key=lambda x: (stamps[x[1]], -x[2]))
        return PortInputs(inputs, [p for p, _, _ in present], replaced)

    def _finish(
        self,
        changed: dict[int, Any],
        contradictions: list[ContradictionRecord],
        failures: list[GadgetFailure],
        steps: int,
        queue: deque[int],
        pending_gadgets: dict[int, None],
    ) -> PropagationResult:
        self._ties.clear()
        settled = not queue and not pending_gadgets
        unsettled: tuple[str, ...] = ()
        if not settled:
            stuck = dict.fromkeys(queue)
            for k in pending_gadgets:
                stuck.update(dict.fromkeys(ci for _, ci in self._gadgets[k].outputs))
            unsettled = tuple(sorted(self._ids[i] for i in stuck))
        ids, values, stamps = self._ids, self._values, self._stamps
        raw: tuple[list[str], list[Any], list[Any], list[Stamp]]
        if len(changed) > 1:
            # lists, as ever; itemgetter gathers each column in one C loop (a comprehension
            # costs a few bytecodes per touched contact)
            touched = itemgetter(*changed)
            raw = (
                list(touched(ids)),
                list(changed.values()),
                list(touched(values)),
                list(touched(stamps)),
            )
        elif changed:
            ((only, old),) = changed.items()
            raw = ([ids[only]], [old], [values[only]], [stamps[only]])
        else:
            raw = ([], [], [], [])
        result = PropagationResult._from_run(
            raw,
            tuple(contradictions) if contradictions else (),
            tuple(failures) if failures else (),
            steps,
            settled,
            unsettled,
        )
        if self._listeners or self._streams:
            self._notify(result)
        return result
