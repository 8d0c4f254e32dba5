"""The run of a batch of lone contacts (``bassline.engine.unwired.run_lone``: accept-last,
no wire out, no gadget run here reading them) must end exactly as the general run does:
whatever the spec, the state before and the batch, ``apply`` and ``update_many`` give the
same result, listeners hear the same, and every contact ends with the same content,
stamp and explanation with the fast path as without it."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Network, Stamp
from bassline.clock import HybridLogicalClock
from bassline.engine import network, propagation, unwired
from bassline.engine.carried import CarriedWrite
from bassline.engine.results import PropagationResult
from bassline.spec import parse_spec

NOW = 10**15
PLAIN = ["a", "b", "c", "d", "e"]
CONTACTS = [*PLAIN, "g.a", "g.b", "g.sum"]  # what a batch writes (a gadget's ports among them)


class StepClock(HybridLogicalClock):
    """A clock whose ticks count up from ``NOW`` and whose wall clock stands at ``NOW``:
    two networks given the same verbs stamp alike."""

    def __init__(self) -> None:
        super().__init__("n0")
        self._last = NOW

    @staticmethod
    def _physical() -> int:
        return NOW

    def tick(self) -> Stamp:
        self._last += 1
        return Stamp(self._last, self.node)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A few contacts (some merge contacts), random wires among them, and a gadget group
    ``g`` (``a + b -> g.sum``) that a node may or may not run."""
    merge = {"id": "", "blend": "merge", "lattice": "max"}
    contacts: list[dict[str, Any]] = [
        {**merge, "id": c} if draw(st.integers(0, 3)) == 0 else {"id": c} for c in PLAIN
    ]
    contacts += [
        {"id": "g.a", "group": "g", "name": "a", "boundary": "input"},
        {"id": "g.b", "group": "g", "name": "b", "boundary": "input"},
        {"id": "g.sum", "group": "g", "name": "sum", "boundary": "output"},
    ]
    pairs = [(x, y) for x in PLAIN for y in PLAIN if x != y]
    wires = [
        {"from": x, "to": y, "type": "directed"}
        for x, y in draw(st.lists(st.sampled_from(pairs), max_size=3, unique=True))
    ]
    if draw(st.booleans()):
        wires += [
            {"from": "a", "to": "g.a", "type": "directed"},
            {"from": "b", "to": "g.b", "type": "directed"},
        ]
    return {
        "id": "lone",
        "groups": [{"id": "g", "gadget": "add"}],
        "contacts": contacts,
        "wires": wires,
    }


value = st.integers(0, 3)
# few stamps: a batch often brings the stamp a contact holds (with another value: a tie)
stamp = st.builds(Stamp, st.integers(NOW, NOW + 1), st.sampled_from(["n1", "n2"]))
why = st.sampled_from([None, CarriedWrite("http"), CarriedWrite("cli")])
applied_item = st.one_of(
    st.tuples(st.sampled_from(CONTACTS), value, stamp),
    st.tuples(st.sampled_from(CONTACTS), value, stamp, why),
)
applied = st.one_of(
    st.lists(applied_item, max_size=4, unique_by=itemgetter(0)),  # what the lone path takes
    st.lists(applied_item, max_size=4),  # a contact twice, now and then
)
written = st.one_of(
    st.dictionaries(st.sampled_from(CONTACTS), value, max_size=4),
    st.lists(st.tuples(st.sampled_from(CONTACTS), value), max_size=4),  # a contact twice
)
verb = st.one_of(
    st.tuples(st.just("apply"), applied),
    st.tuples(st.just("apply"), applied),
    st.tuples(st.just("update_many"), written),
    st.tuples(st.just("run_groups"), st.sampled_from([[], ["g"]])),
    st.tuples(st.just("resend"), st.integers(1, 3)),  # the last batch, other values: ties
)


def _general(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the fast path off: every batch takes the general run."""
    monkeypatch.setattr(network, "run_lone", lambda *a, **k: None)
    monkeypatch.setattr(propagation, "run_lone", lambda *a, **k: None)


def _result(result: PropagationResult) -> object:
    return (
        result.touched,
        result.changes,
        result.contradictions,
        result.failures,
        result.steps,
        result.settled,
        result.unsettled,
    )


def _outcome(spec: dict[str, Any], run_groups: list[str], budget: int | None, verbs: Any) -> object:
    net = Network(
        parse_spec(spec),
        node_id="n0",
        clock=StepClock(),
        run_groups=run_groups,
        step_budget=budget,
    )
    heard: list[object] = []
    net.add_listener(lambda result: heard.append(_result(result)))
    seen: list[object] = []
    last: list[Any] = []
    for name, arg in verbs:
        try:
            if name == "resend":  # as another replica would send it: the same stamps
                seen.append(_result(net.apply([(c, (v + arg) % 4, *r) for c, v, *r in last])))
            elif name == "apply":
                last = arg
                seen.append(_result(net.apply(arg)))
            elif name == "update_many":
                seen.append(_result(net.update_many(arg, via="cli")))
            else:
                seen.append(_result(net.set_run_groups(arg)))
        except Exception as exc:  # the exact error is compared
            seen.append(("raised", type(exc), str(exc)))
    ids = net.contact_ids
    return (
        seen,
        heard,
        net.values(),
        [net.stamped(c) for c in ids],
        [net.stored_justification(c) for c in ids],
        [net.explain(c).to_json() for c in ids],
        net.contradictions,
        net.failures,
    )


@settings(max_examples=1000, deadline=None)
@given(
    spec=specs(),
    run_groups=st.sampled_from([[], ["g"]]),
    budget=st.sampled_from([None, 1, 2, 3]),
    verbs=st.lists(verb, min_size=1, max_size=5),
)
def test_a_batch_run_by_the_lone_path_ends_as_the_general_run_ends(
    spec: dict[str, Any], run_groups: list[str], budget: int | None, verbs: Any
) -> None:
    fast = _outcome(spec, run_groups, budget, verbs)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _general(monkeypatch)
        slow = _outcome(spec, run_groups, budget, verbs)
    assert repr(fast) == repr(slow)


FLAT = {"id": "flat", "contacts": [{"id": f"c{i}"} for i in range(4)]}


def _counting_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many offers each general run took (one entry per run)."""
    runs: list[int] = []
    general = propagation.Propagator._propagate

    def counted(self: Any, queue: Any, *args: Any, **kwargs: Any) -> PropagationResult:
        runs.append(len(queue))
        return general(self, queue, *args, **kwargs)

    monkeypatch.setattr(propagation.Propagator, "_propagate", counted)
    return runs


def test_a_flat_batch_takes_the_lone_path(monkeypatch: pytest.MonkeyPatch) -> None:
    net = Network(parse_spec(FLAT))
    runs = _counting_runs(monkeypatch)
    write = CarriedWrite("http")
    result = net.apply([(f"c{i}", i, Stamp(NOW + i, "n1"), write) for i in range(3)])
    assert result.touched == (
        ["c0", "c1", "c2"],
        [0, 1, 2],
        [Stamp(NOW + i, "n1") for i in range(3)],
    )
    assert result.steps == 3 and result.settled
    net.update_many({"c3": "x", "c0": "y"})
    assert net.values() == {"c0": "y", "c1": 1, "c2": 2, "c3": "x"}
    assert runs == []  # neither went through the general run
    # an older stamp is refused, as by the general run; the newer one is taken
    result = net.apply([("c1", 9, Stamp(NOW - 1, "n1")), ("c2", 9, Stamp(NOW + 9, "n1"))])
    assert result.touched == (["c2"], [9], [Stamp(NOW + 9, "n1")]) and result.steps == 1
    assert runs == []


@pytest.mark.parametrize(
    "items",
    [
        [("c0", 1, Stamp(NOW + 5, "n1")), ("c0", 2, Stamp(NOW + 6, "n1"))],  # a contact twice
        [("c0", 7, Stamp(NOW, "n1"))],  # the stamp held, with another value: a tie
    ],
)
def test_a_batch_the_lone_path_cannot_order_takes_the_general_run(
    monkeypatch: pytest.MonkeyPatch, items: list[Any]
) -> None:
    net = Network(parse_spec(FLAT))
    net.apply([("c0", 3, Stamp(NOW, "n1"))])
    runs = _counting_runs(monkeypatch)
    net.apply(items)
    assert len(runs) == 1


def test_a_batch_longer_than_the_step_budget_stops_as_the_general_run_does() -> None:
    net = Network(parse_spec(FLAT), step_budget=2)
    result = net.apply([(f"c{i}", i, Stamp(NOW, "n1")) for i in range(3)])
    assert not result.settled and result.steps == 3 and result.unsettled == ("c2",)


def test_a_contact_read_by_a_gadget_started_later_is_no_longer_lone() -> None:
    spec = {
        "id": "one",
        "groups": [{"id": "g", "gadget": "add"}],
        "contacts": [
            {"id": "a"},
            {"id": "b"},
            {"id": "g.a", "group": "g", "name": "a", "boundary": "input"},
            {"id": "g.b", "group": "g", "name": "b", "boundary": "input"},
            {"id": "g.sum", "group": "g", "name": "sum", "boundary": "output"},
        ],
        "wires": [
            {"from": "a", "to": "g.a", "type": "directed"},
            {"from": "b", "to": "g.b", "type": "directed"},
        ],
    }
    net = Network(parse_spec(spec), run_groups=[])
    assert unwired.lone_contacts(net)[net._index["g.a"]]  # no gadget run here reads it
    net.set_run_groups(["g"])
    assert not unwired.lone_contacts(net)[net._index["g.a"]]
    net.apply([("g.a", 1, Stamp(NOW, "n1")), ("g.b", 2, Stamp(NOW, "n1"))])
    assert net.value("g.sum") == 3
