"""The propagation engine: cells, wires and gadget propagators run to a fixpoint."""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from bassline.clock import INITIAL_STAMP, ZERO_STAMP, HybridLogicalClock, Stamp
from bassline.codec import encode, to_json
from bassline.content import ABSENT, values_equal
from bassline.engine.compare import differs as _differs
from bassline.engine.results import (
    ContactState,
    ContradictionRecord,
    GadgetFailure,
    PropagationResult,
)
from bassline.engine.stream import ChangeStream
from bassline.errors import ContentError, UnknownContact
from bassline.gadgets import Gadget, PortInputs, UnusableInput, get_gadget
from bassline.lattices import Changed, Contradiction, Interval, Lattice, get_lattice
from bassline.plugins import closest
from bassline.spec import Bassline, BlendMode, WireType, load_spec

__all__ = ["Network"]

_ACCEPT_LAST = 0
_MERGE = 1
_UPDATE = "update"


def _plainly_encodable(value: Any) -> bool:
    """A quick yes for scalars and flat lists of scalars (anything else gets the full check)."""
    t = type(value)  # scalars first, without a call: this runs on every update
    if t is str:
        return bool(value.isascii())  # O(1); other text is checked for lone surrogates
    if t is bool or value is None:
        return True
    if t is int:
        return bool(-(2**63) <= value < 2**64)
    if t is float:
        return bool(value - value == 0)
    if t is Interval:  # bounds: None, a finite float or an int in the codec's range
        for x in (value.lo, value.hi):
            if x is None or (type(x) is float and x - x == 0):
                continue
            if type(x) is not int or not -(2**63) <= x < 2**64:
                return False
        return True
    if t is list and len(value) <= 16:
        for x in value:  # the scalar check inlined: this runs on every update
            t = type(x)
            if (t is str and x.isascii()) or t is bool or x is None:
                continue
            if t is int:
                if -(2**63) <= x < 2**64:
                    continue
                return False
            if t is not float or x - x != 0:
                return False
        return True
    return False


def _tie_wins(incoming: Any, current: Any) -> bool:
    """Deterministic order of two values written with the same stamp."""
    if current is ABSENT:
        return True
    return encode(incoming) > encode(current)


_KINDS: dict[type[Any], str] = {
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
    list: "list",
    tuple: "list",
    dict: "object",
}


def _kind_of(value: Any) -> str:
    """What kind of content ``value`` is, in words ("string", "list", "grow-set", ...)."""
    kind = _KINDS.get(type(value))
    if kind is None:
        tag = getattr(type(value), "tag", None)
        kind = tag if isinstance(tag, str) else type(value).__name__
    return kind


def _checked_stamp(contact: str, stamp: Any) -> Stamp:
    """``stamp`` as a Stamp, or ValueError naming the contact if it is not one storage and
    peers would accept (a clock reading in [0, 2**63) and a node id)."""
    if (
        isinstance(stamp, tuple)
        and len(stamp) == 2
        and type(stamp[0]) is int
        and 0 <= stamp[0] < 2**63
        and type(stamp[1]) is str
    ):
        return stamp if type(stamp) is Stamp else Stamp(*stamp)
    raise ValueError(
        f"contact {contact!r}: {stamp!r} is not a stamp (a clock reading in [0, 2**63) and "
        "a node id)"
    )


def _derived_stamp(premise: Stamp, previous: Stamp) -> Stamp:
    """The stamp of a gadget output: its newest input's, or just past the output's own.

    Carrying the premise's stamp means a derived value never overwrites the write it was
    derived from (a Celsius/Fahrenheit loop settles on the user's value); stepping past the
    previous output means a recomputation always replaces the stale result, everywhere.
    """
    if premise > previous:
        return premise
    return Stamp(previous.hlc + 1, premise.node)


@attrs.frozen
class _GadgetInstance:
    group: str
    gadget: Gadget
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]
    two_way: tuple[tuple[str, int], ...] = ()
    """Ports both read and written, in the gadget's port order."""


Listener = Callable[[PropagationResult], None]


class Network:
    """A running propagation network built from a :class:`~bassline.spec.Bassline`.

    ``update(contact, value)`` writes a value with a fresh stamp and runs the network to
    its fixpoint before returning (the *immediate* scheduler). ``submit`` + ``flush``
    coalesce many writes and apply them in one run (the *batch* scheduler); for lattice
    networks both reach the same fixpoint.

    ``run_groups`` limits which gadget groups this node executes (default: all of them);
    wires always propagate. ``step_budget`` bounds one run: an accept-last cycle that never
    settles is stopped and reported in :attr:`PropagationResult.unsettled`.
    """

    def __init__(
        self,
        spec: Bassline | str | os.PathLike[str] | Mapping[str, Any],
        *,
        node_id: str = "local",
        clock: HybridLogicalClock | None = None,
        run_groups: Iterable[str] | None = None,
        step_budget: int | None = None,
        apply_initial: bool = True,
    ) -> None:
        self.spec = load_spec(spec)
        self.node_id = node_id
        self.clock = clock or HybridLogicalClock(node_id)
        contacts = self.spec.contacts
        self._ids: list[str] = [c.id for c in contacts]
        self._index: dict[str, int] = {cid: i for i, cid in enumerate(self._ids)}
        n = len(contacts)
        self._values: list[Any] = [ABSENT] * n
        self._stamps: list[Stamp] = [ZERO_STAMP] * n
        self._kind: list[int] = [
            _MERGE if c.blend is BlendMode.MERGE else _ACCEPT_LAST for c in contacts
        ]
        self._lattice: list[Lattice | None] = [
            get_lattice(c.lattice) if c.blend is BlendMode.MERGE and c.lattice else None
            for c in contacts
        ]
        for i, c in enumerate(contacts):
            if c.blend is BlendMode.MERGE and self._lattice[i] is None:
                self._lattice[i] = get_lattice("defined")
        adjacency: list[list[int]] = [[] for _ in range(n)]
        for w in self.spec.wires:
            a, b = self._index[w.source], self._index[w.target]
            adjacency[a].append(b)
            if w.type is WireType.BIDIRECTIONAL:
                adjacency[b].append(a)
        self._out: list[tuple[int, ...]] = [tuple(dict.fromkeys(x)) for x in adjacency]
        self.run_groups = (
            frozenset(g.id for g in self.spec.groups if g.gadget)
            if run_groups is None
            else frozenset(run_groups)
        )
        self._gadgets: list[_GadgetInstance] = []
        feeds: list[list[int]] = [[] for _ in range(n)]
        self._output_of: dict[int, int] = {}
        for g in self.spec.groups:
            if not g.gadget or g.id not in self.run_groups:
                continue
            gadget = get_gadget(g.gadget)
            ports = {c.port: self._index[c.id] for c in self.spec.contacts_of(g.id)}
            inst = _GadgetInstance(
                group=g.id,
                gadget=gadget,
                inputs=tuple((p, ports[p]) for p in gadget.inputs),
                outputs=tuple((p, ports[p]) for p in gadget.outputs),
                two_way=tuple((p, ports[p]) for p in gadget.two_way),
            )
            k = len(self._gadgets)
            self._gadgets.append(inst)
            for _, ci in inst.inputs:
                feeds[ci].append(k)
            for _, ci in inst.outputs:
                self._output_of[ci] = k
        self._feeds: list[tuple[int, ...]] = [tuple(f) for f in feeds]
        self.step_budget = step_budget or max(10_000, 100 * (n + len(self._gadgets)))
        self._contradictions: dict[int, ContradictionRecord] = {}
        self._failures: dict[int, GadgetFailure] = {}
        self.failure_counts: Counter[str] = Counter()
        """Gadget failures recorded since this network was built, by gadget id."""
        self._pending: dict[int, tuple[Any, Stamp, str]] = {}
        self._pending_extra: list[tuple[int, Any, Stamp, str]] = []
        self._ties: dict[int, list[Any]] = {}
        """During a run: values that lost a stamp tie to a replica's value (by contact)."""
        self._listeners: tuple[Listener, ...] = ()
        self._streams: list[ChangeStream] = []
        self.initial_result = PropagationResult()
        if apply_initial:
            self.initial_result = self._apply_initial()

    # ------------------------------------------------------------------ reading

    def __contains__(self, contact_id: object) -> bool:
        return contact_id in self._index

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def contact_ids(self) -> list[str]:
        """Every contact id, sorted."""
        return list(self._ids)

    def _idx(self, contact_id: str) -> int:
        try:
            return self._index[contact_id]
        except (KeyError, TypeError):
            hint = closest(str(contact_id), self._ids) if len(self._ids) < 50_000 else None
            raise UnknownContact(str(contact_id), [hint] if hint else []) from None

    def value(self, contact_id: str, default: Any = ABSENT) -> Any:
        """The content of a contact, or ``default`` (ABSENT) when it has none."""
        v = self._values[self._idx(contact_id)]
        return default if v is ABSENT else v

    def stamp(self, contact_id: str) -> Stamp:
        """The stamp of a contact's current content."""
        return self._stamps[self._idx(contact_id)]

    def contact(self, contact_id: str) -> ContactState:
        """Value, stamp, last contradiction and gadget failure of one contact."""
        i = self._idx(contact_id)
        return ContactState(
            id=contact_id,
            value=self._values[i],
            stamp=self._stamps[i],
            contradiction=self._contradictions.get(i),
            failure=self._failures.get(i),
        )

    def values(self) -> dict[str, Any]:
        """Every contact that has content, by id."""
        return {cid: v for cid, v in zip(self._ids, self._values, strict=True) if v is not ABSENT}

    def state(self) -> Iterator[tuple[str, Any, Stamp]]:
        """``(contact, value, stamp)`` for every contact that has content."""
        for cid, v, s in zip(self._ids, self._values, self._stamps, strict=True):
            if v is not ABSENT:
                yield cid, v, s

    @property
    def contradictions(self) -> dict[str, ContradictionRecord]:
        """The standing contradiction of each contact that has one."""
        return {self._ids[i]: r for i, r in self._contradictions.items()}

    @property
    def failures(self) -> dict[str, GadgetFailure]:
        """The standing gadget failure for each output contact that has one."""
        return {self._ids[i]: r for i, r in self._failures.items()}

    # ------------------------------------------------------------------ listening

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(result)`` after every run that changed something; returns an unsubscribe."""
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def changes(self, max_buffer: int = 1024) -> ChangeStream:
        """A bounded async stream of run results; see :class:`ChangeStream`."""
        stream = ChangeStream(max_buffer, on_close=self._streams.remove)
        self._streams.append(stream)
        return stream

    def _notify(self, result: PropagationResult) -> None:
        if not result:
            return
        for listener in self._listeners:  # a tuple: (un)subscribing mid-loop is safe
            listener(result)
        if self._streams:
            for stream in tuple(self._streams):
                stream.publish(result)

    # ------------------------------------------------------------------ writing

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
                f"this {_kind_of(value)} is not a value of the {lattice.name} lattice ({exc})",
                self._ids[contact],
            ) from None

    def validate(self, contact_id: str, value: Any) -> None:
        """Raise unless ``value`` could be written to ``contact_id``; change nothing.

        :class:`~bassline.errors.UnknownContact` for an unknown id;
        :class:`~bassline.errors.ContentError` for content that cannot be stored (not
        JSON-encodable, NaN, ABSENT) or, on a merge contact, a value that is not an element
        of its lattice (a ``max`` contact given a string, a grow-set given a number).
        """
        i = self._idx(contact_id)
        if not _plainly_encodable(value):
            self._check_content(i, value)
        self._check_kind(i, value)

    def update(self, contact_id: str, value: Any) -> PropagationResult:
        """Write ``value`` with a fresh stamp and run to the fixpoint.

        Raises :class:`~bassline.errors.ContentError`, changing nothing, for content that
        cannot be stored or that is of the wrong kind for a merge contact's lattice.
        """
        i = self._index.get(contact_id) if type(contact_id) is str else None
        if i is None:
            i = self._idx(contact_id)
        if not _plainly_encodable(value):
            self._check_content(i, value)  # the full check, for anything but plain data
        if self._kind[i] != _ACCEPT_LAST:
            self._check_kind(i, value)
            return self._run_from([(i, value, self.clock.tick(), _UPDATE)])
        stamp = self.clock.tick()
        # a fresh tick is newer than every stamp this node holds: accept-last takes it as is
        old = self._values[i]
        self._values[i] = value
        self._stamps[i] = stamp
        feeds = self._feeds[i]
        if not feeds and not self._out[i]:
            # a contact nothing reads from (no wires out, no gadget): the run is this one step
            result = PropagationResult._single(self._ids[i], old, value, stamp)
            if self._streams:
                self._notify(result)
            else:
                for listener in self._listeners:
                    listener(result)
            return result
        gadgets = list(feeds) if feeds and _differs(old, value) else []
        return self._propagate(deque((i,)), {i: old}, [], _touched_gadgets=gadgets)

    def update_many(
        self, items: Mapping[str, Any] | Iterable[tuple[str, Any]]
    ) -> PropagationResult:
        """Write several values (each with its own fresh stamp) and run once to the fixpoint.

        All or nothing: an unknown contact, or content :meth:`update` would refuse, raises
        before anything changes.
        """
        pairs = items.items() if isinstance(items, Mapping) else items
        checked = []
        for cid, value in pairs:
            i = self._idx(cid)
            self._check_content(i, value)
            self._check_kind(i, value)
            checked.append((i, value))
        offers = [(i, value, self.clock.tick(), _UPDATE) for i, value in checked]
        return self._run_from(offers)

    def apply(
        self, contact_id: str, value: Any, stamp: Stamp, *, source: str = "remote"
    ) -> PropagationResult:
        """Apply a value written elsewhere, with its original stamp, and run to the fixpoint."""
        return self.apply_many([(contact_id, value, stamp)], source=source)

    def apply_many(
        self, items: Iterable[tuple[str, Any, Stamp]], *, source: str = "remote"
    ) -> PropagationResult:
        """Apply several stamped values (from a peer or from storage) in one run.

        All or nothing: an unknown contact, a bad stamp, or content :meth:`update` would
        refuse (a value of the wrong kind for a merge contact included) raises before
        anything changes. A node drops such values from a peer's delta one by one before
        applying it (see :meth:`validate`).
        """
        checked = []
        for cid, value, stamp in items:
            i = self._idx(cid)
            self._check_content(i, value)
            self._check_kind(i, value)
            checked.append((i, value, _checked_stamp(cid, stamp)))
        offers = []
        for i, value, stamp in checked:
            self.clock.observe(stamp)
            offers.append((i, value, stamp, source))
        return self._run_from(offers, remote=True)

    def submit(self, contact_id: str, value: Any) -> None:
        """Queue a write for the next :meth:`flush` (the batch scheduler); writes coalesce.

        Content :meth:`update` would refuse raises :class:`~bassline.errors.ContentError`
        here, and nothing is queued.
        """
        i = self._idx(contact_id)
        self._check_content(i, value)
        self._check_kind(i, value)
        stamp = self.clock.tick()
        prev = self._pending.get(i)
        if prev is not None and self._kind[i] == _MERGE:
            lattice = self._lattice[i]
            assert lattice is not None
            try:
                outcome = lattice.join(lattice.coerce(prev[0]), lattice.coerce(value))
            except (ValueError, TypeError):
                outcome = None
            if isinstance(outcome, Changed):
                value = outcome.value
            elif outcome is not None and not isinstance(outcome, Contradiction):
                value = prev[0]
            else:  # keep both; the contradiction is reported when applied
                self._pending[i] = prev
                self._pending_extra.append((i, value, stamp, _UPDATE))
                return
        self._pending[i] = (value, stamp, _UPDATE)

    @property
    def pending(self) -> int:
        """How many coalesced writes wait for :meth:`flush`."""
        return len(self._pending) + len(self._pending_extra)

    def flush(self) -> PropagationResult:
        """Apply every submitted write together and run once to the fixpoint."""
        offers = [(i, v, s, src) for i, (v, s, src) in self._pending.items()]
        offers += self._pending_extra
        self._pending = {}
        self._pending_extra = []
        return self._run_from(offers)

    def settle(self) -> PropagationResult:
        """Propagate from every contact that has content (after a restore, say)."""
        seeds = [i for i, v in enumerate(self._values) if v is not ABSENT]
        return self._propagate(deque(seeds), {}, [], _touched_gadgets=self._all_gadget_seeds())

    def restore(self, items: Iterable[tuple[str, Any, Stamp]]) -> None:
        """Set contents and stamps directly (recovery from storage), without propagating.

        All or nothing: a row with an unknown contact, content that cannot be stored or a
        stamp too far in the future raises before any contact changes. Call :meth:`settle`
        afterwards to bring the network back to its fixpoint.
        """
        checked: list[tuple[int, Any, Stamp]] = []
        for cid, value, stamp in items:  # every row is checked before anything changes
            i = self._idx(cid)
            if not _plainly_encodable(value):
                self._check_content(i, value)
            lattice = self._lattice[i]
            if lattice is not None:
                try:
                    value = lattice.coerce(value)
                except (ValueError, TypeError) as exc:
                    raise ContentError(
                        f"stored value is not a valid {lattice.name}: {exc}", cid
                    ) from None
            checked.append((i, value, stamp))
        if checked:
            # the newest stamp is the only one the clock must see (and the one that
            # could be implausibly far ahead)
            self.clock.observe(max(stamp for _, _, stamp in checked))
        for i, value, stamp in checked:
            self._values[i] = value
            self._stamps[i] = stamp

    def _all_gadget_seeds(self) -> list[int]:
        return list(range(len(self._gadgets)))

    def _apply_initial(self) -> PropagationResult:
        offers = [
            (self._index[c.id], c.content, INITIAL_STAMP, "spec")
            for c in self.spec.contacts
            if c.has_content
        ]
        return self._run_from(offers, initial=True)

    # ------------------------------------------------------------------ the engine

    def _offer(
        self,
        i: int,
        value: Any,
        stamp: Stamp,
        source: str,
        changed: dict[int, Any],
        contradictions: list[ContradictionRecord],
        remote: bool = False,
    ) -> bool:
        """Blend one incoming value into contact ``i``; True if it should propagate.

        Accept-last: a strictly newer stamp wins. Values from other replicas (``remote``)
        with an equal stamp but a different value are ordered by their canonical JSON, so
        every replica keeps the same one whatever the delivery order.
        """
        if self._kind[i] == _ACCEPT_LAST:
            cur = self._stamps[i]
            if stamp > cur or (remote and stamp == cur and _tie_wins(value, self._values[i])):
                changed.setdefault(i, self._values[i])
                if stamp == cur:  # wired copies of the loser follow the winner (_tie_follows)
                    self._ties.setdefault(i, []).append(self._values[i])
                self._values[i] = value
                self._stamps[i] = stamp
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
                f"{_kind_of(value)} from {source} is not a value of the {lattice.name} "
                f"lattice ({exc})",
                value,
                source,
                stamp,
                contradictions,
            )
            return False
        if cur_value is ABSENT:
            self._values[i] = incoming
            self._stamps[i] = stamp
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
                self._stamps[i] = _derived_stamp(stamp, previous)
                self.clock.observe(self._stamps[i])
            changed.setdefault(i, cur_value)
            self._contradictions.pop(i, None)
            return True
        if isinstance(outcome, Contradiction):
            self._contradict(i, outcome.reason, value, source, stamp, contradictions)
        return False

    def _contradict(
        self,
        i: int,
        reason: str,
        incoming: Any,
        source: str,
        stamp: Stamp,
        contradictions: list[ContradictionRecord],
    ) -> None:
        record = ContradictionRecord(
            contact=self._ids[i],
            reason=reason,
            current=self._values[i],
            incoming=incoming,
            source=source,
            stamp=stamp,
        )
        self._contradictions[i] = record
        contradictions.append(record)

    def _run_from(
        self,
        offers: list[tuple[int, Any, Stamp, str]],
        *,
        initial: bool = False,
        remote: bool = False,
    ) -> PropagationResult:
        changed: dict[int, Any] = {}
        contradictions: list[ContradictionRecord] = []
        queue: deque[int] = deque()
        gadgets: list[int] = self._all_gadget_seeds() if initial else []
        for i, value, stamp, source in offers:
            if self._offer(i, value, stamp, source, changed, contradictions, remote):
                queue.append(i)
                if i in changed and _differs(changed[i], self._values[i]):
                    gadgets.extend(self._feeds[i])
        return self._propagate(queue, changed, contradictions, _touched_gadgets=gadgets)

    def _propagate(
        self,
        queue: deque[int],
        changed: dict[int, Any],
        contradictions: list[ContradictionRecord],
        *,
        _touched_gadgets: list[int],
    ) -> PropagationResult:
        values, stamps, kind, out, feeds = (
            self._values,
            self._stamps,
            self._kind,
            self._out,
            self._feeds,
        )
        ids = self._ids
        offer = self._offer
        ties = self._ties
        pending_gadgets: dict[int, None] = dict.fromkeys(_touched_gadgets)
        failures: list[GadgetFailure] = []
        budget = self.step_budget
        steps = 0
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
                    if kind[dst] == _ACCEPT_LAST:
                        if s > stamps[dst] or (
                            ties and s == stamps[dst] and self._tie_follows(src, dst)
                        ):
                            if dst not in changed:
                                changed[dst] = values[dst]
                            if feeds[dst] and _differs(values[dst], v):
                                pending_gadgets.update(dict.fromkeys(feeds[dst]))
                            values[dst] = v
                            stamps[dst] = s
                            append(dst)
                    elif offer(dst, v, s, ids[src], changed, contradictions):
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
        """Whether ``dst``, holding ``src``'s stamp, should take ``src``'s value across a wire.

        Only when ``src`` lost a value to a replica's equal-stamp value in this run and
        ``dst`` holds that lost value: ``dst`` is a wired copy of it. Any other value at
        an equal stamp stays (a derived value never overwrites the write it came from).
        """
        replaced = self._ties.get(src)
        if replaced is None:
            return False
        cur, incoming = self._values[dst], self._values[src]
        if cur is incoming or not any(cur is r or values_equal(cur, r) for r in replaced):
            return False
        if not _tie_wins(incoming, cur):
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
                if not _plainly_encodable(value):
                    to_json(value, f"<{port}>")
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
        premise = max(
            (self._stamps[ci] for _, ci in inst.inputs if values[ci] is not ABSENT),
            default=INITIAL_STAMP,
        )
        source = f"gadget:{inst.group}"
        for port, value in outputs.items():
            ci = ports[port]
            stamp = _derived_stamp(premise, self._stamps[ci])
            self.clock.observe(stamp)
            if self._offer(ci, value, stamp, source, changed, contradictions):
                queue.append(ci)

    def _port_inputs(self, inst: _GadgetInstance, inputs: Mapping[str, Any]) -> PortInputs:
        """What a gadget with two-way ports sees: contents, write order, accept-last ports."""
        kind = self._kind
        replaced = frozenset(p for p, ci in inst.two_way if kind[ci] == _ACCEPT_LAST)
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
        if len(changed) == 1:
            ((only, old),) = changed.items()
            raw = ([ids[only]], [old], [values[only]], [stamps[only]])
        else:
            raw = (
                [ids[i] for i in changed],
                list(changed.values()),
                [values[i] for i in changed],
                [stamps[i] for i in changed],
            )
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
