"""The propagation engine: cells, wires and gadget propagators run to a fixpoint."""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import compress, filterfalse, repeat
from operator import and_, attrgetter, is_not, ne
from typing import Any, TypeVar, overload

from bassline.clock import INITIAL_STAMP, HybridLogicalClock, Stamp
from bassline.content import ABSENT, Absent, Content, copied
from bassline.engine.carried import Carried
from bassline.engine.carrier import Carrier
from bassline.engine.checks import (
    all_plainly_encodable,
    check_engine_options,
    checked_batch,
    checked_item,
    gadget_groups,
    plain_applied,
    plainly_encodable,
)
from bassline.engine.compare import differs
from bassline.engine.explain import check_depth, explain
from bassline.engine.explanation import Explanation
from bassline.engine.justify import SPEC, Kept, Reference, write_ref
from bassline.engine.propagation import Listener, Propagator
from bassline.engine.restoring import Restored, restore_rows, restore_stored
from bassline.engine.results import (
    ContactState,
    ContradictionRecord,
    GadgetFailure,
    PropagationResult,
)
from bassline.engine.stored import StoredForms
from bassline.engine.stream import ChangeStream
from bassline.engine.unwired import run_lone
from bassline.engine.wiring import ACCEPT_LAST, MERGE, compile_gadgets, compile_wiring
from bassline.lattices import Changed, Contradiction
from bassline.lattices.values import COPIED_TYPES
from bassline.spec import Bassline, load_spec

__all__ = ["Network"]

_PYTHON = write_ref("python")
_APPLY_ITEM = "(contact, value, stamp) or (contact, value, stamp, justification)"
_D = TypeVar("_D")
_CONTENT = attrgetter("content")
_SHARED = COPIED_TYPES  # content copied() copies, on the way in and out


class Network(Propagator):
    """A running propagation network built from a :class:`~bassline.spec.Bassline`.

    ``update_contact(contact, value)`` writes a value with a fresh stamp and runs the network to
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
        check_engine_options(node_id, step_budget)
        self.node_id = node_id
        super().__init__(
            compile_wiring(
                self.spec, None if run_groups is None else gadget_groups(self.spec, run_groups)
            ),
            clock or HybridLogicalClock(node_id),
            step_budget,
        )
        self._pending: dict[int, tuple[Any, Stamp, Reference]] = {}
        self._pending_extra: list[tuple[int, Any, Stamp, Reference]] = []
        instances = {inst.group: inst for inst in self._gadgets}
        if len(instances) < sum(1 for g in self.spec.groups if g.gadget):
            every = compile_gadgets(self.spec, self._index, None).gadgets
            instances = {inst.group: inst for inst in every}
        self._stored = StoredForms(self, instances)
        self._carrier = Carrier(self, instances)
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

    @overload
    def value(self, contact_id: str) -> Content | Absent: ...
    @overload
    def value(self, contact_id: str, default: _D) -> Content | _D: ...
    def value(self, contact_id: str, default: object = ABSENT) -> object:
        """A contact's content (lists and dicts copied), or ``default`` (ABSENT) if none."""
        v = self._values[self._idx(contact_id)]
        if type(v) in _SHARED:
            return copied(v)
        return default if v is ABSENT else v

    def stamp(self, contact_id: str) -> Stamp:
        """The stamp of a contact's current content."""
        return self._stamps[self._idx(contact_id)]

    def stamped(self, contact_id: str) -> tuple[Content | Absent, Stamp]:
        """A contact's content (ABSENT when it has none) and its stamp, in one lookup: the
        network's own object, not a copy (read it, never change it)."""
        try:  # inline: a node reads what it gossips through here, several times per item
            i = self._index[contact_id]
        except (KeyError, TypeError):
            i = self._idx(contact_id)  # raises UnknownContact
        return self._values[i], self._stamps[i]

    def contents_of(self, contact_ids: Sequence[str]) -> tuple[list[Content | Absent], list[Stamp]]:
        """The content (ABSENT when none) and stamp of each of ``contact_ids``, in order,
        read in C loops (a node reads those of every delta it sends or receives);
        UnknownContact for an unknown id. The network's own objects, not copies (read them,
        never change them)."""
        at = self._indexes(contact_ids)
        return list(map(self._values.__getitem__, at)), list(map(self._stamps.__getitem__, at))

    def contact(self, contact_id: str) -> ContactState:
        """Value (a copy of a list or dict), stamp, last contradiction and gadget failure of
        one contact."""
        i = self._idx(contact_id)
        return ContactState(
            id=contact_id,
            value=copied(self._values[i]),
            stamp=self._stamps[i],
            contradiction=self._contradictions.get(i),
            failure=self._failures.get(i),
        )

    def explain(self, contact_id: str, depth: int | None = None) -> Explanation:
        """Why ``contact_id`` holds its current value: the derivation back to its premises.

        Each step is the current value's immediate justification (a write, a wire, a
        gadget run, or a merge contact's contributions); each input used says whether
        its contact still holds that value, and is explained in turn, ``depth`` levels
        deep (None: no limit; an int >= 1, else :class:`ValueError`). A standing
        contradiction also explains the refused value. A contact with no value gives an
        explanation with no justification. :class:`~bassline.errors.UnknownContact` for
        an unknown id (with the closest ids).
        """
        limit = check_depth(depth)
        return explain(self, self._idx(contact_id), limit)

    def stored_justification(self, contact_id: str) -> str | None:
        """The stored form of ``contact_id``'s current justification: compact JSON text
        (:mod:`bassline.engine.stored`), or None when it has none to keep (no value, or
        restored without one). What a runtime writes to storage with the content."""
        i = self._index.get(contact_id) if type(contact_id) is str else None
        if i is None:
            i = self._idx(contact_id)
        # StoredForms.text's cache of write and wire texts, looked up here first: a
        # runtime asks on every change it stores
        text = self._stored.known.get(self._why[i])  # type: ignore[arg-type]
        return text if text is not None else self._stored.text(i)

    def stored_justifications(self, contact_ids: Sequence[str]) -> list[str | None]:
        """:meth:`stored_justification` of each of ``contact_ids``, in order: what a
        runtime stores with the contents a run changed, looked up together."""
        at = self._indexes(contact_ids)
        # the cached write and wire texts at C speed; StoredForms.text for the rest
        texts = list(map(self._stored.known.get, map(self._why.__getitem__, at)))  # type: ignore[arg-type]
        if None in texts:
            text = self._stored.text
            return [t if t is not None else text(i) for t, i in zip(texts, at, strict=True)]
        return texts

    def carried_justification(self, contact_id: str) -> Carried | None:
        """What ``contact_id``'s current justification says to another node: a write,
        a wire or a gadget run as a :mod:`bassline.engine.carried` reference (None when
        it has none to send). A node gossips it with the content; the receiver passes it
        to :meth:`apply`."""
        return self._carrier.carried(self._idx(contact_id))

    def carried_justifications(self, contact_ids: Sequence[str]) -> list[Carried | None]:
        """:meth:`carried_justification` of each of ``contact_ids`` (a node reads those of
        every delta it sends); UnknownContact for an unknown id."""
        return self._carrier.carried_all(self._indexes(contact_ids))

    def values(self) -> dict[str, Content]:
        """Every contact that has content, by id (lists and dicts copied)."""
        return {
            cid: copied(v)
            for cid, v in zip(self._ids, self._values, strict=True)
            if v is not ABSENT
        }

    def state(self) -> Iterator[tuple[str, Content, Stamp]]:
        """``(contact, value, stamp)`` for every contact that has content (lists and dicts
        copied)."""
        for cid, v, s in zip(self._ids, self._values, self._stamps, strict=True):
            if v is not ABSENT:
                yield cid, copied(v), s

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
        """Call ``listener(result)`` after every run that changed something; returns an
        unsubscribe. TypeError for anything not callable. A listener that raises keeps no
        other listener or change stream from the result; the first exception raised is
        raised again from the verb that ran, once all have it (any later one is logged on
        ``bassline.engine``). The result's contents are the network's own: never change
        them."""
        if not callable(listener):
            raise TypeError(f"a listener is called with each run's result, not {listener!r:.80}")
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def changes(self, max_buffer: int = 1024) -> ChangeStream:
        """A bounded async stream of run results; see :class:`ChangeStream`."""
        stream = ChangeStream(max_buffer, on_close=self._streams.remove)
        self._streams.append(stream)
        return stream

    # ------------------------------------------------------------------ writing

    def validate(self, contact_id: str, value: object) -> None:
        """Raise unless ``value`` could be written to ``contact_id``; change nothing.

        :class:`~bassline.errors.UnknownContact` for an unknown id;
        :class:`~bassline.errors.ContentError` for content that cannot be stored (not
        JSON-encodable, NaN, ABSENT) or, on a merge contact, a value that is not an element
        of its lattice (a ``max`` contact given a string, a grow-set given a number).
        """
        i = self._idx(contact_id)
        if not plainly_encodable(value):
            self._check_content(i, value)
        self._check_kind(i, value)

    def update_contact(
        self, contact_id: str, value: Content, *, via: str = "python"
    ) -> PropagationResult:
        """Write ``value`` with a fresh stamp and run to the fixpoint.

        ``via`` says how the write came in (``"python"``, ``"http"``, ``"cli"``,
        ``"import"``, or any other non-empty label); :meth:`explain` reports it. Raises
        :class:`~bassline.errors.ContentError`, changing nothing, for content that cannot
        be stored or that is of the wrong kind for a merge contact's lattice. The network
        keeps a copy of a list or dict: changing ``value`` afterwards changes nothing here."""
        i = self._index.get(contact_id) if type(contact_id) is str else None
        if i is None:
            i = self._idx(contact_id)
        why = _PYTHON if via == "python" else write_ref(via)
        if not plainly_encodable(value):
            self._check_content(i, value)  # the full check, for anything but plain data
            value = copied(value)
        elif type(value) is list:
            value = value[:]  # plain: scalars only, so a shallow copy is a full one
        if self._kind[i] != ACCEPT_LAST:
            self._check_kind(i, value)
            return self._run_from([(i, value, self.clock.tick(), why)])
        stamp = self.clock.tick()
        # a fresh tick is newer than every stamp this node holds: accept-last takes it as is
        old = self._values[i]
        self._values[i] = value
        self._stamps[i] = stamp
        self._why[i] = why
        feeds = self._feeds[i]
        if not feeds and not self._out[i]:
            # a contact nothing reads from (no wires out, no gadget): the run is this one step
            result = PropagationResult._single(self._ids[i], old, value, stamp)
            listeners = self._listeners
            if self._streams or len(listeners) > 1:
                self._notify(result)
            elif listeners:  # one: no other listener for its exception to keep out
                listeners[0](result)
            return result
        gadgets = list(feeds) if feeds and differs(old, value) else []
        return self._propagate(deque((i,)), {i: old}, [], _touched_gadgets=gadgets)

    def update_many(
        self, items: Mapping[str, Content] | Iterable[tuple[str, Content]], *, via: str = "python"
    ) -> PropagationResult:
        """Write several values (each with its own fresh stamp, in the items' order, from
        one clock reading: :meth:`~bassline.clock.HybridLogicalClock.ticks`) and run once
        to the fixpoint.

        All or nothing: an unknown contact, or content :meth:`update_contact` would refuse, raises
        before anything changes. ``via`` and copies as for :meth:`update_contact`.
        """
        why = write_ref(via)
        index, lattices = self._index, self._lattice
        if type(items) is dict and items:
            # every check at C speed when all pass (known ids, plain values, no merge
            # contact); else the loop below, which names the first item that fails
            try:
                at = list(map(index.__getitem__, items))
            except (KeyError, TypeError):
                at = []
            new = list(items.values())
            if at and all_plainly_encodable(new) and not any(map(self._kind.__getitem__, at)):
                if list in set(map(type, new)):  # plain: flat lists of scalars
                    new = [v[:] if type(v) is list else v for v in new]
                return self._run_writes(at, new, why)
        pairs = items.items() if isinstance(items, Mapping) else items
        indexes: list[int] = []
        values: list[Any] = []
        for pair in pairs:  # every item is checked before anything changes
            if type(pair) is not tuple or len(pair) != 2:
                checked_item(pair, 2, 2, "a (contact, value) pair")
            cid, value = pair
            i = index.get(cid) if type(cid) is str else None
            if i is None:
                i = self._idx(cid)  # raises UnknownContact
            # update_contact's checks: quick for plain data, the lattice's on merge contacts
            if not (type(value) is str and value.isascii()) and not plainly_encodable(value):
                self._check_content(i, value)
            if lattices[i] is not None:
                self._check_kind(i, value)
            indexes.append(i)
            values.append(copied(value))
        return self._run_writes(indexes, values, why)

    def apply(
        self,
        items: Iterable[
            tuple[str, Content, Stamp] | tuple[str, Content, Stamp, Carried | str | None]
        ],
        *,
        source: str = "remote",
        stored: bool = False,
    ) -> PropagationResult:
        """Apply several stamped values (from a peer or from storage) in one run.

        Each item is ``(contact, value, stamp)`` or ``(contact, value, stamp, carried)``,
        the last what :meth:`carried_justification` gave on the node the value came from
        (or None); with ``stored=True``, the stored form instead (:meth:`stored_justification`'s
        text, as another process stored it: the change feed), a write there explained as
        applied here, a merge contact's contributions or unusable text as without one.
        All or nothing: an unknown contact, a bad stamp, content :meth:`update_contact`
        would refuse (a value of the wrong kind for a merge contact included), or a
        justification that cannot describe its content (:class:`~bassline.errors.JustificationError`)
        raises before anything changes. A node drops values of the wrong kind from a
        peer's delta one by one before applying it (see :meth:`validate`). :meth:`explain`
        reports a value without a justification as written elsewhere and come in via
        ``source``, at its stamp (the stamp names the writing node); with one, as that
        write, wire or gadget run. The values are kept as they are, not copied (they come
        decoded, from a peer or storage): change none of them afterwards."""
        fallback = write_ref(source, local=False)
        batch: list[Any] = items if type(items) is list else list(items)
        plain = plain_applied(batch, self._index, self._lattice)
        if plain is not None:  # each justification checked before anything changes
            at, values, stamps, _, newest = plain
            whys = self._carrier.resolve_columns(plain[:4], source, fallback, stored, self._stored)
            try:  # the newest first: when the clock takes it, it takes every one
                self.clock.observe(newest)
            except ValueError:
                self.clock.observe_all(stamps)  # in order: raises for the first too new
            lone = run_lone(self, at, values, stamps, whys, remote=True)
            if lone is not None:  # no step can follow any of these offers
                return lone
            return self._run_from(list(zip(at, values, stamps, whys, strict=True)), remote=True)  # type: ignore[arg-type]
        checked = checked_batch(self, batch, _APPLY_ITEM)
        whys = [fallback] * len(checked)
        if any(item[3] is not None for item in checked):  # each checked before anything changes
            whys = self._carrier.resolve_all(checked, source, fallback, stored, self._stored)
        offers: list[tuple[int, Any, Stamp, Reference | Kept]] = [
            (i, value, stamp, why) for (i, value, stamp, _), why in zip(checked, whys, strict=True)
        ]
        if offers:
            self.clock.observe_all([offer[2] for offer in offers])
        # a Kept only ever comes for an accept-last contact, which keeps it as it is
        return self._run_from(offers, remote=True)  # type: ignore[arg-type]

    def update(self, contact_id: str, value: Content) -> PropagationResult:
        """Deprecated since 0.4 (removed in 0.5): the name of :meth:`update_contact`."""
        warnings.warn(
            "Network.update is deprecated; use Network.update_contact (the runtime's and "
            "the node's name too)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.update_contact(contact_id, value)

    def apply_many(
        self, items: Iterable[tuple[str, Content, Stamp]], *, source: str = "remote"
    ) -> PropagationResult:
        """Deprecated since 0.4 (removed in 0.5): the name of :meth:`apply`."""
        warnings.warn(
            "Network.apply_many is deprecated; use Network.apply (the runtime's name too)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.apply(items, source=source)

    def submit(self, contact_id: str, value: Content, *, via: str = "python") -> None:
        """Queue a write for the next :meth:`flush` (the batch scheduler); writes coalesce.

        Content :meth:`update_contact` would refuse raises :class:`~bassline.errors.ContentError`
        here, and nothing is queued. Writes to a merge contact that coalesce are explained
        as one write of their join, at the newest one's stamp and ``via``; copies as there.
        """
        why = write_ref(via)
        i = self._idx(contact_id)
        self._check_content(i, value)
        self._check_kind(i, value)
        value = copied(value)
        stamp = self.clock.tick()
        prev = self._pending.get(i)
        if prev is not None and self._kind[i] == MERGE:
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
                self._pending_extra.append((i, value, stamp, why))
                return
        self._pending[i] = (value, stamp, why)

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
        """Propagate from every contact that has content (after a restore, say). A gadget
        output that already holds what its gadget computes keeps its stamp."""
        return self._settle()

    def set_run_groups(self, groups: Iterable[str]) -> PropagationResult:
        """Run exactly the gadget groups in ``groups`` from now on (ownership moved).

        A group no longer run stops at once: no later run computes it. A group newly run
        computes its outputs from the inputs the network holds now (it catches up) in the
        run this returns; groups run before and after are left as they are.
        :class:`ValueError` for an id that is not a gadget group of the spec.
        """
        wanted = gadget_groups(self.spec, groups)
        added = wanted - self.run_groups
        if wanted == self.run_groups:
            return PropagationResult()
        wiring = compile_gadgets(self.spec, self._index, wanted)
        self.run_groups = wiring.run_groups
        self._gadgets = wiring.gadgets
        self._feeds = wiring.feeds
        seeds = [k for k, inst in enumerate(self._gadgets) if inst.group in added]
        if not seeds:
            return PropagationResult()
        return self._propagate(deque(), {}, [], _touched_gadgets=seeds)

    def restore(
        self,
        items: Iterable[tuple[str, Content, Stamp] | tuple[str, Content, Stamp, str | None]],
    ) -> None:
        """Set contents and stamps directly (recovery from storage), without propagating.

        Each item is ``(contact, value, stamp)`` or ``(contact, value, stamp,
        justification)``, the last the stored form :meth:`stored_justification` gave
        (None, or text naming a contact, gadget group or wire this spec lacks: the value
        is explained as restored without its justification). All or nothing: a row with an
        unknown contact, content that cannot be stored or a stamp too far in the future
        raises before any contact changes. Call :meth:`settle` afterwards to bring the
        network back to its fixpoint. The values are kept as they are, not copied (as by
        :meth:`apply`).
        """
        restore_rows(self, items)

    def restore_stored(
        self,
        contacts: Sequence[str],
        values: Sequence[Content],
        stamps: Sequence[Stamp],
        justifications: Sequence[str | None],
        groups: Sequence[str],
    ) -> Restored:
        """:meth:`restore` of the records storage loaded, as columns of one length
        (``groups``: the group each is stored under), checked and set a column at a time
        (:mod:`bassline.engine.restoring`), leaving out rows of contacts this network
        lacks: what a runtime restores. The same checks and errors as :meth:`restore`.
        Call :meth:`settle` next; then the result's ``differing()`` and ``ignored`` say
        what :meth:`differing` and :meth:`missing` would."""
        return restore_stored(self, contacts, values, stamps, justifications, groups)

    def differing(self, stamps: Mapping[str, Stamp]) -> list[str]:
        """The contacts holding content whose stamp is not the one ``stamps`` gives them
        (contacts ``stamps`` lacks included), in spec order."""
        ids = self._ids
        held = map(is_not, self._values, repeat(ABSENT))
        other = map(ne, map(stamps.get, ids), self._stamps)
        return list(compress(ids, map(and_, held, other)))

    def missing(self, contact_ids: Iterable[str]) -> list[str]:
        """The ids in ``contact_ids`` this network has no contact for, in their order."""
        return list(filterfalse(self._index.__contains__, contact_ids))

    def _apply_initial(self) -> PropagationResult:
        contacts = self.spec.contacts  # those with content found in C loops
        contents = list(map(_CONTENT, contacts))
        offers: list[tuple[int, Any, Stamp, Reference]] = [
            (i, contents[i], INITIAL_STAMP, SPEC)
            for i in compress(range(len(contents)), map(is_not, contents, repeat(ABSENT)))
        ]
        return self._run_from(offers, initial=True)

    # ------------------------------------------------------------------ the engine
