"""The propagation engine: fixpoints, wires, gadgets, contradictions, budgets, schedulers."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bassline import (
    ABSENT,
    ChangeStreamOverflow,
    ContentError,
    Gadget,
    Network,
    Stamp,
    UnknownContact,
    register_gadget,
)
from bassline.gadgets import gadgets
from bassline.lattices import GrowSet
from bassline.spec import Bassline
from bassline.testing import strategies as bst

EXAMPLES = Path(__file__).parents[2] / "examples"


def chain(n: int, wire_type: str = "bidirectional", **contact: Any) -> dict[str, Any]:
    return {
        "contacts": [{"id": f"c{i}", **contact} for i in range(n)],
        "wires": [{"from": f"c{i}", "to": f"c{i + 1}", "type": wire_type} for i in range(n - 1)],
    }


def adder(
    extra_contacts: list[dict[str, Any]] | None = None, wires: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "groups": [{"id": "add", "gadget": "add"}],
        "contacts": [
            {"id": "a"},
            {"id": "b"},
            {"id": "total"},
            {"id": "add.a", "group": "add", "name": "a", "boundary": "input"},
            {"id": "add.b", "group": "add", "name": "b", "boundary": "input"},
            {"id": "add.sum", "group": "add", "name": "sum", "boundary": "output"},
            *(extra_contacts or []),
        ],
        "wires": [
            {"from": "a", "to": "add.a", "type": "directed"},
            {"from": "b", "to": "add.b", "type": "directed"},
            {"from": "add.sum", "to": "total", "type": "directed"},
            *(wires or []),
        ],
    }


# ---------------------------------------------------------------- the calculator


def test_prototype_calculator_computes_at_load_and_on_update() -> None:
    net = Network(EXAMPLES / "calculator.json")
    assert net.value("result") == 30
    result = net.update_contact("input-a", 5)
    assert net.value("result") == 25
    assert result.changed == {"input-a": 5, "add-a": 5, "add-sum": 25, "result": 25}
    assert result.settled and result.ok


def test_gadget_waits_for_both_inputs() -> None:
    net = Network(adder())
    assert net.value("total") is ABSENT
    net.update_contact("a", 4)
    assert net.value("total") is ABSENT
    net.update_contact("b", 7)
    assert net.value("total") == 11


def test_chained_gadgets() -> None:
    spec = adder(
        extra_contacts=[
            {"id": "c"},
            {"id": "final"},
            {"id": "add2.a", "group": "add2", "name": "a", "boundary": "input"},
            {"id": "add2.b", "group": "add2", "name": "b", "boundary": "input"},
            {"id": "add2.sum", "group": "add2", "name": "sum", "boundary": "output"},
        ],
        wires=[
            {"from": "total", "to": "add2.a", "type": "directed"},
            {"from": "c", "to": "add2.b", "type": "directed"},
            {"from": "add2.sum", "to": "final", "type": "directed"},
        ],
    )
    spec["groups"].append({"id": "add2", "gadget": "add"})
    net = Network(spec)
    net.update_many({"a": 2, "b": 3, "c": 5})
    assert net.value("final") == 10


def test_temperature_converter_answers_both_ways_and_keeps_the_users_value() -> None:
    net = Network(EXAMPLES / "temperature.json")
    assert (net.value("celsius"), net.value("fahrenheit")) == (100, 212)
    net.update_contact("fahrenheit", 32)
    assert net.value("celsius") == 0
    net.update_contact("celsius", 37)
    assert net.value("celsius") == 37  # the echo 37.00000000000001 does not overwrite it
    assert math.isclose(net.value("fahrenheit"), 98.6)
    r = net.update_contact("celsius", -40)
    assert net.value("fahrenheit") == -40 and r.settled


# ---------------------------------------------------------------- wires


def test_chain_propagates_and_directed_wires_do_not_flow_back() -> None:
    net = Network(chain(3))
    r = net.update_contact("c0", "x")
    assert [c.contact for c in r.changes] == ["c0", "c1", "c2"]
    net = Network(chain(3, "directed"))
    net.update_contact("c2", "y")
    assert net.value("c0") is ABSENT and net.value("c1") is ABSENT
    net.update_contact("c0", "z")
    assert net.value("c2") == "z"


def test_three_cycle_terminates_with_one_change_each() -> None:
    spec = chain(3)
    spec["wires"].append({"from": "c2", "to": "c0"})
    r = Network(spec).update_contact("c1", 1)
    assert sorted(c.contact for c in r.changes) == ["c0", "c1", "c2"]
    assert r.settled


def test_unchanged_value_changes_nothing() -> None:
    net = Network(chain(2))
    net.update_contact("c0", 5)
    assert net.update_contact("c0", 5).changes == ()


@st.composite
def two_wired_contacts_anywhere(draw: st.DrawFn) -> tuple[Bassline, str, str]:
    """A random group tree with a bidirectional wire in a random legal place and direction."""
    from bassline.spec import parse_spec

    n_groups = draw(st.integers(1, 5))
    parents = {"root": None}
    for i in range(n_groups):
        parents[f"g{i}"] = draw(st.sampled_from(sorted(parents)))
    kind = draw(st.sampled_from(["same", "parent-child", "siblings"]))
    groups = sorted(parents)
    if kind == "same":
        ga = gb = draw(st.sampled_from(groups))
    elif kind == "parent-child":
        gb = draw(st.sampled_from([g for g in groups if parents[g] is not None]))
        ga = parents[gb]
    else:
        families = {}
        for g, p in parents.items():
            if p is not None:
                families.setdefault(p, []).append(g)
        pairs = [(x, y) for kids in families.values() for x in kids for y in kids if x < y]
        if not pairs:
            ga = gb = "root"
        else:
            ga, gb = draw(st.sampled_from(pairs))
    a = {"id": "a", "group": ga, **({"boundary": "both"} if ga != "root" else {})}
    b = {"id": "b", "group": gb, **({"boundary": "both"} if gb != "root" else {})}
    ends = ["a", "b"]
    if draw(st.booleans()):
        ends.reverse()  # declare the wire from either end
    spec = parse_spec(
        {
            "groups": [{"id": g, "parent": p} for g, p in parents.items() if p is not None],
            "contacts": [a, b],
            "wires": [{"from": ends[0], "to": ends[1]}],
        }
    )
    return spec, "a", "b"


@settings(max_examples=60)
@given(two_wired_contacts_anywhere(), st.integers(-(2**63), 2**63 - 1), st.text())
def test_a_bidirectional_wire_carries_values_both_ways_wherever_it_is_declared(
    case: tuple[Bassline, str, str], x: int, y: str
) -> None:
    spec, a, b = case
    net = Network(spec)
    net.update_contact(a, x)
    assert net.value(b) == x
    net.update_contact(b, y)
    assert net.value(a) == y


def test_bidirectional_wires_across_sibling_and_parent_child_boundaries() -> None:
    spec = {
        "groups": [{"id": "left"}, {"id": "right"}],
        "contacts": [
            {"id": "top"},
            {"id": "left.port", "group": "left", "boundary": "both"},
            {"id": "right.port", "group": "right", "boundary": "both"},
        ],
        # declared in the child-to-parent direction, and sibling to sibling
        "wires": [{"from": "left.port", "to": "top"}, {"from": "left.port", "to": "right.port"}],
    }
    net = Network(spec)
    net.update_contact("top", 1)
    assert net.value("right.port") == 1
    net.update_contact("right.port", 2)
    assert net.value("top") == 2


# ---------------------------------------------------------------- contradictions


def test_a_contradiction_keeps_the_value_reports_both_and_is_not_forwarded() -> None:
    spec = {
        "contacts": [
            {"id": "A"},
            {"id": "B", "blend": "merge", "content": 5},
            {"id": "C"},
        ],
        "wires": [
            {"from": "A", "to": "B", "type": "directed"},
            {"from": "B", "to": "C", "type": "directed"},
        ],
    }
    net = Network(spec)
    assert net.value("C") == 5
    seen: list[Any] = []
    net.add_listener(lambda r: seen.extend(c.value for c in r.changes if c.contact == "C"))
    r = net.update_contact("A", 7)
    assert net.value("B") == 5
    assert net.value("C") == 5
    assert 7 not in seen
    (record,) = r.contradictions
    assert (record.contact, record.current, record.incoming, record.source) == ("B", 5, 7, "A")
    assert net.contact("B").contradiction == record
    net.update_contact("A", 5)  # agreeing information clears nothing but adds no contradiction
    assert net.value("C") == 5


def test_contradiction_clears_when_the_contact_changes_again() -> None:
    net = Network({"contacts": [{"id": "s", "lattice": "shrink-set", "content": ["a", "b"]}]})
    net.update_contact("s", ["c"])
    assert "s" in net.contradictions
    net.update_contact("s", ["a"])
    assert "s" not in net.contradictions and net.value("s") == net.spec.contact(
        "s"
    ).content.__class__(["a"])


def test_incompatible_value_for_a_lattice_is_a_contradiction_not_a_crash() -> None:
    net = Network(
        {
            "contacts": [{"id": "src"}, {"id": "m", "lattice": "max"}],
            "wires": [{"from": "src", "to": "m"}],
        }
    )
    r = net.update_contact("src", "not a number")
    assert net.value("m") is ABSENT
    # across a wire the network itself disagrees with itself: that stays a contradiction
    assert r.contradictions[0].reason == (
        "string from src is not a value of the max lattice (max needs a number, got 'not a number')"
    )


_WRONG_KINDS = [
    ("m", "str", "this string is not a value of the max lattice (max needs a number"),
    ("g", 5, "this number is not a value of the grow-set lattice (grow-set needs a list"),
    ("i", {"x": 1}, "this object is not a value of the interval lattice"),
    ("i", [5, 1], "this list is not a value of the interval lattice (the interval [5, 1] is"),
]


@pytest.mark.parametrize("filled", [False, True], ids=["empty", "filled"])
@pytest.mark.parametrize("write", ["update", "update_many", "submit", "apply"])
def test_a_value_of_the_wrong_kind_is_refused_and_changes_nothing(write: str, filled: bool) -> None:
    """An input error, not a contradiction: refused at the door, the contact as it was."""
    spec = {
        "contacts": [
            {"id": "m", "lattice": "max"},
            {"id": "g", "lattice": "grow-set"},
            {"id": "i", "lattice": "interval"},
        ]
    }
    net = Network(spec, node_id="n1")
    if filled:
        net.update_many({"m": 3, "g": ["a"], "i": [0, 10]})
    for contact, value, message in _WRONG_KINDS:
        before = net.contact(contact)
        with pytest.raises(ContentError) as caught:
            if write == "update":
                net.update_contact(contact, value)
            elif write == "update_many":
                net.update_many({"m": 4, contact: value})
            elif write == "submit":
                net.submit(contact, value)
            else:
                net.apply([("m", 9, Stamp(5, "peer")), (contact, value, Stamp(6, "peer"))])
        assert str(caught.value).startswith(f"contact {contact!r}: {message}")
        assert caught.value.contact == contact
        assert net.contact(contact) == before and net.contradictions == {}
        assert net.value("m") == (3 if filled else ABSENT) and net.pending == 0
        with pytest.raises(ContentError):
            net.validate(contact, value)
    net.validate("m", 7)  # a value of the right kind passes, and changes nothing
    assert net.value("m") == (3 if filled else ABSENT)


def test_a_value_of_the_right_kind_that_disagrees_is_still_a_contradiction() -> None:
    net = Network({"contacts": [{"id": "i", "lattice": "interval", "content": [0, 1]}]})
    r = net.update_contact("i", [5, 6])
    assert [c.reason for c in r.contradictions] == ["[0, 1] and [5, 6] do not overlap"]
    assert "i" in net.contradictions


# ---------------------------------------------------------------- gadgets


def test_a_gadget_that_raises_is_reported_and_propagation_continues() -> None:
    boom = Gadget(id="test-boom", inputs=("x",), outputs=("y",), body=lambda ins: {"y": 1 / 0})
    register_gadget(boom, replace=True)
    try:
        spec = {
            "groups": [{"id": "g", "gadget": "test-boom"}],
            "contacts": [
                {"id": "x"},
                {"id": "other"},
                {"id": "g.x", "group": "g", "name": "x", "boundary": "input"},
                {"id": "g.y", "group": "g", "name": "y", "boundary": "output"},
            ],
            "wires": [{"from": "x", "to": "g.x"}, {"from": "x", "to": "other"}],
        }
        net = Network(spec)
        r = net.update_contact("x", 3)
        assert net.value("other") == 3
        (failure,) = r.failures
        assert failure.gadget == "test-boom" and "ZeroDivisionError" in failure.error
        assert failure.inputs == {"x": 3} and failure.outputs == ("g.y",)
        assert net.contact("g.y").failure == failure
    finally:
        gadgets.unregister("test-boom")


def test_gadget_output_that_cannot_be_encoded_is_a_failure() -> None:
    net = Network(adder())
    r = net.update_many({"a": 1e308, "b": 1e308})
    assert r.failures and "finite" in r.failures[0].error
    assert net.value("total") is ABSENT


def test_gadget_outputs_go_through_the_output_contacts_blend_mode() -> None:
    spec = adder()
    spec["contacts"][5] = {
        "id": "add.sum",
        "group": "add",
        "name": "sum",
        "boundary": "output",
        "lattice": "max",
    }
    net = Network(spec)
    net.update_many({"a": 5, "b": 5})
    net.update_contact("a", 1)  # 1 + 5 = 6 < 10: the max lattice keeps 10
    assert net.value("add.sum") == 10


def test_only_the_groups_this_node_runs_execute_gadgets() -> None:
    net = Network(adder(), run_groups=[])
    assert net.run_groups == frozenset()
    net.update_many({"a": 1, "b": 2})
    assert net.value("total") is ABSENT
    assert net.value("add.a") == 1
    assert Network(adder()).run_groups == frozenset({"add"})  # by default: every group


def test_step_budget_stops_a_network_that_never_settles_and_names_the_contacts() -> None:
    inc = Gadget(id="test-inc", inputs=("x",), outputs=("y",), body=lambda ins: {"y": ins["x"] + 1})
    register_gadget(inc, replace=True)
    try:
        spec = {
            "groups": [{"id": "g", "gadget": "test-inc"}],
            "contacts": [
                {"id": "level", "lattice": "max"},
                {"id": "g.x", "group": "g", "name": "x", "boundary": "input", "lattice": "max"},
                {"id": "g.y", "group": "g", "name": "y", "boundary": "output", "lattice": "max"},
            ],
            "wires": [{"from": "level", "to": "g.x"}, {"from": "g.y", "to": "level"}],
        }
        net = Network(spec, step_budget=500)
        r = net.update_contact("level", 0)
        assert not r.settled
        assert r.steps >= 500
        assert set(r.unsettled) & {"level", "g.x", "g.y"}
    finally:
        gadgets.unregister("test-inc")


# ---------------------------------------------------------------- schedulers


def _final(
    spec: Bassline, updates: list[tuple[str, Any]], mode: str
) -> tuple[dict[str, Any], bool]:
    net = Network(spec)
    contradicted = False
    if mode == "batch":
        for cid, v in updates:
            net.submit(cid, v)
        r = net.flush()
        contradicted = bool(r.contradictions)
    else:
        for cid, v in updates:
            r = net.update_contact(cid, v)
            contradicted |= bool(r.contradictions)
            assert r.settled
    return net.values(), contradicted


@settings(max_examples=150)
@given(bst.lattice_network(), st.randoms(use_true_random=False))
def test_immediate_batch_and_every_order_reach_the_same_fixpoint(
    case: tuple[Bassline, list[tuple[str, Any]]], rnd: Any
) -> None:
    spec, updates = case
    reference, contradicted = _final(spec, updates, "immediate")
    # what the examples cover (pytest --hypothesis-show-statistics; docs/testing.md)
    event("contradiction: fixpoints not compared" if contradicted else "fixpoints compared")
    event("wires: none" if not spec.wires else "wires: some")
    event("updates: one" if len(updates) == 1 else "updates: several")
    orders = [list(reversed(updates))]
    if len(updates) <= 5:
        orders += [list(p) for p in itertools.permutations(updates)][:60]
    else:
        for _ in range(10):
            shuffled = list(updates)
            rnd.shuffle(shuffled)
            orders.append(shuffled)
    outcomes = [_final(spec, order, "immediate") for order in orders]
    outcomes.append(_final(spec, updates, "batch"))
    for values, c in outcomes:
        assert c == contradicted
        if not contradicted:
            assert values == reference


@settings(max_examples=100)
@given(bst.lattice_network())
def test_propagation_terminates_on_lattice_networks(
    case: tuple[Bassline, list[tuple[str, Any]]],
) -> None:
    spec, updates = case
    net = Network(spec)
    for cid, v in updates:
        assert net.update_contact(cid, v).settled


def test_batch_coalesces_writes_and_applies_them_in_one_run() -> None:
    net = Network(chain(3))
    net.submit("c0", 1)
    net.submit("c0", 2)
    assert net.pending == 1 and net.value("c2") is ABSENT
    r = net.flush()
    assert net.value("c2") == 2 and r.steps > 0
    net2 = Network({"contacts": [{"id": "s", "lattice": "grow-set"}]})
    net2.submit("s", [1])
    net2.submit("s", [2])
    net2.flush()
    assert net2.value("s") == GrowSet([1, 2])


# ---------------------------------------------------------------- stamps and replicas


def test_remote_values_with_older_stamps_are_ignored_and_ties_break_the_same_everywhere() -> None:
    net = Network(chain(2), node_id="n1")
    net.apply([("c0", "new", Stamp(10, "n2"))])
    net.apply([("c0", "old", Stamp(5, "n3"))])
    assert net.value("c1") == "new"
    a, b = Network(chain(1)), Network(chain(1))
    a.apply([("c0", "x", Stamp(7, "n"))])
    a.apply([("c0", "y", Stamp(7, "n"))])
    b.apply([("c0", "y", Stamp(7, "n"))])
    b.apply([("c0", "x", Stamp(7, "n"))])
    assert a.value("c0") == b.value("c0")


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("x", "y"),
        (12, 9),  # canonical JSON bytes, not numbers: b"9" sorts after b"12"
        ("a", 1),  # b"1" sorts after b'"a"'
        ([1, 2], {"k": 0}),  # b"{" sorts after b"["
        (False, True),
    ],
)
def test_an_equal_stamp_tie_is_won_by_the_higher_canonical_json_in_either_order(
    low: Any, high: Any
) -> None:
    # D3 names the winner; agreeing replicas are not enough (a reversed tie-break agrees too)
    stamp = Stamp(7, "n")
    for first, second in ((low, high), (high, low)):
        net = Network(chain(2), node_id="replica")
        net.apply([("c0", first, stamp)])
        r = net.apply([("c0", second, stamp)])
        assert net.value("c0") == net.value("c1") == high and net.stamp("c0") == stamp
        assert r.changed == ({"c0": high, "c1": high} if second is high else {})


def test_restore_then_settle_recovers_values_and_stamps() -> None:
    net = Network(EXAMPLES / "calculator.json")
    net.update_contact("input-a", 1)
    saved = list(net.state())
    fresh = Network(EXAMPLES / "calculator.json", apply_initial=False)
    fresh.restore(saved)
    fresh.settle()
    assert fresh.values() == net.values()
    assert fresh.stamp("input-a") == net.stamp("input-a")
    assert fresh.clock.tick() > max(stamp for _, _, stamp in saved)


def test_missing_and_differing_name_the_contacts_a_restart_must_skip_and_queue() -> None:
    net = Network(chain(3), apply_initial=False)
    assert net.missing(["c2", "x", "c0", "y"]) == ["x", "y"]
    net.restore([("c0", 1, Stamp(5, "n")), ("c2", 3, Stamp(6, "n"))])
    # c1 has no content: never listed; c2's stamp differs; c0's is the one given
    assert net.differing({"c0": Stamp(5, "n"), "c2": Stamp(7, "n")}) == ["c2"]
    assert net.differing({"c0": Stamp(5, "n")}) == ["c2"]  # c2 missing from the mapping
    assert net.differing({"c0": Stamp(5, "n"), "c2": Stamp(6, "n")}) == []


def test_restored_rows_sharing_a_justification_text_each_explain_it() -> None:
    # the text of a wire or a write is decoded once per restore and shared; each row
    # must still get the reference its text names
    net = Network(chain(3), apply_initial=False)
    wire = '{"kind":"wire","from":"c0"}'
    other = '{"kind":"wire","from":"c1"}'
    write = '{"kind":"write","via":"http","local":false}'
    stamp = Stamp(5, "n")
    net.restore([("c0", 1, stamp, write), ("c1", 1, stamp, wire), ("c2", 1, stamp, other)])
    assert net.stored_justification("c0") == '{"kind":"write","via":"http","local":false}'
    assert net.stored_justification("c1") == wire
    assert net.stored_justification("c2") == other


def test_restore_refuses_a_stamp_far_in_the_future_before_changing_anything() -> None:
    net = Network(chain(2), apply_initial=False)
    future = Stamp(net.clock.tick().hlc + (3_600_000 << 16), "n")
    with pytest.raises(ValueError, match="beyond the allowed clock drift"):
        net.restore([("c0", 1, Stamp(5, "n")), ("c1", 2, future)])
    assert net.value("c0") is ABSENT and net.value("c1") is ABSENT


def test_information_joined_from_an_older_stamp_reaches_accept_last_neighbours() -> None:
    # "m" (max) feeds the accept-last "z": a peer's older write that raises m must reach z,
    # or the network stops with m = 7 and z = 1 across a wire
    spec = {
        "contacts": [{"id": "m", "lattice": "max"}, {"id": "z"}],
        "wires": [{"from": "m", "to": "z"}],
    }
    net = Network(spec, node_id="n1")
    net.update_contact("m", 1)
    r = net.apply([("m", 7, Stamp(1, "peer"))])
    assert net.value("m") == 7 and net.value("z") == 7
    assert r.changed == {"m": 7, "z": 7}
    assert net.stamp("m") > Stamp(1, "peer") and net.clock.tick() > net.stamp("m")
    # the same through a gadget input port (accept-last by default)
    calc = adder(
        [{"id": "floor", "lattice": "max"}], [{"from": "floor", "to": "a", "type": "directed"}]
    )
    net = Network(calc)
    net.update_contact("b", 1)
    net.update_contact("floor", 1)
    net.apply([("floor", 10, Stamp(1, "peer"))])
    assert net.value("a") == 10 and net.value("total") == 11


def test_a_merge_contact_joined_at_its_own_stamp_still_reaches_accept_last_neighbours() -> None:
    # x feeds the max contact m twice with one stamp: along a wire (1) and through the
    # adder (1 + 10 = 11, derived with x's stamp). m grows to 11 at the stamp it already
    # holds, so it must step past it: z, wired from m, took 1 with that same stamp and only
    # a newer stamp replaces it (with "stamp >= previous" z stayed at 1)
    spec = adder(
        [{"id": "x"}, {"id": "m", "lattice": "max"}, {"id": "z"}],
        [
            {"from": "x", "to": "m", "type": "directed"},
            {"from": "x", "to": "add.a", "type": "directed"},
            {"from": "add.sum", "to": "m", "type": "directed"},
            {"from": "m", "to": "z", "type": "directed"},
        ],
    )
    spec["wires"] = [w for w in spec["wires"] if w["from"] != "a"]
    net = Network(spec)
    net.update_contact("b", 10)
    r = net.update_contact("x", 1)
    assert net.value("add.sum") == 11 and net.stamp("add.sum") == net.stamp("x")
    assert net.value("m") == 11 and net.value("z") == 11
    assert net.stamp("m") > net.stamp("x") and net.stamp("z") == net.stamp("m")
    assert r.changed == {"x": 1, "add.a": 1, "add.sum": 11, "total": 11, "m": 11, "z": 11}


def test_a_failed_restore_changes_nothing() -> None:
    net = Network({"contacts": [{"id": "a"}, {"id": "m", "lattice": "max"}]}, apply_initial=False)
    bad_rows: list[list[tuple[str, Any, Stamp]]] = [
        [("a", 1, Stamp(5, "n")), ("m", "not a number", Stamp(5, "n"))],
        [("a", 1, Stamp(5, "n")), ("nope", 1, Stamp(5, "n"))],
        [("a", 1, Stamp(5, "n")), ("m", math.inf, Stamp(5, "n"))],
    ]
    for rows in bad_rows:
        with pytest.raises((ContentError, UnknownContact)):
            net.restore(rows)
        assert net.values() == {} and net.stamp("a") == Stamp(0, "")


# ---------------------------------------------------------------- bad input


def test_unknown_contact_suggests_the_closest() -> None:
    net = Network(EXAMPLES / "calculator.json")
    with pytest.raises(UnknownContact, match="did you mean 'result'"):
        net.update_contact("resutl", 1)


def test_unencodable_content_names_the_contact() -> None:
    net = Network(chain(1))
    with pytest.raises(ContentError, match=r"contact 'c0'.*finite"):
        net.update_contact("c0", math.nan)
    with pytest.raises(ContentError, match="contact 'c0'"):
        net.update_contact("c0", {"k": object()})
    assert net.value("c0") is ABSENT


def test_writing_absent_is_refused_with_the_reason() -> None:
    net = Network(chain(1))
    for write in (
        lambda: net.update_contact("c0", ABSENT),
        lambda: net.update_many({"c0": ABSENT}),
        lambda: net.submit("c0", ABSENT),
        lambda: net.apply([("c0", ABSENT, Stamp(1, "peer"))]),
    ):
        with pytest.raises(ContentError, match="cannot write ABSENT"):
            write()


@pytest.mark.parametrize("value", ["\ud800", ["ok", "x\udfff"], {"k": ["\ud83d"]}])
def test_text_with_a_lone_surrogate_is_refused_at_the_write(value: Any) -> None:
    # it cannot be stored or sent as JSON, so it must not get into a contact
    net = Network(chain(2))
    with pytest.raises(ContentError, match=r"contact 'c0'.*lone surrogate"):
        net.update_contact("c0", value)
    with pytest.raises(ContentError, match=r"contact 'c0'.*lone surrogate"):
        net.restore([("c0", value, Stamp(1, "n"))])
    assert net.value("c0") is ABSENT and net.value("c1") is ABSENT
    net.update_contact("c0", ["é", "😀"])
    assert net.value("c1") == ["é", "😀"]


def test_content_too_deep_or_containing_itself_is_a_content_error() -> None:
    net = Network(chain(1))
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    deep: Any = 0
    for _ in range(10_000):
        deep = [deep]
    for value in (cyclic, deep):
        with pytest.raises(ContentError, match=r"contact 'c0'.*nested more than 254 levels"):
            net.update_contact("c0", value)
        with pytest.raises(ContentError, match="nested more than 254 levels"):
            net.apply([("c0", value, Stamp(1, "peer"))])
    assert net.value("c0") is ABSENT


# ---------------------------------------------------------------- change stream


@pytest.mark.anyio
async def test_change_stream_delivers_results_in_order() -> None:
    net = Network(chain(2))
    stream = net.changes(max_buffer=8)
    received: list[Any] = []

    async def consume() -> None:
        async for result in stream:
            received.append(result.changed)
            if len(received) == 2:
                return

    # a deadline, so that results that never arrive fail the test instead of hanging it
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.lowlevel.checkpoint()
            net.update_contact("c0", 1)
            net.update_contact("c1", 2)
    assert received == [{"c0": 1, "c1": 1}, {"c1": 2, "c0": 2}]
    stream.close()


@pytest.mark.anyio
async def test_a_slow_subscriber_is_cut_off_loudly_not_silently() -> None:
    net = Network(chain(1))
    stream = net.changes(max_buffer=2)
    for i in range(5):
        net.update_contact("c0", i)
    got = []
    with pytest.raises(ChangeStreamOverflow):
        async for r in stream:
            got.append(r.changed["c0"])
    assert got == [0, 1]
    assert stream.overflowed


@pytest.mark.anyio
async def test_closing_a_change_stream_ends_its_iteration() -> None:
    """``close()`` made the subscriber's ``async for`` raise anyio's bare
    ``ClosedResourceError``, in a task waiting for the next result and in a later loop."""
    net = Network(chain(1))
    stream = net.changes()
    received: list[Any] = []
    ended = anyio.Event()

    async def consume() -> None:
        async for result in stream:
            received.append(result.changed["c0"])
        ended.set()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.lowlevel.checkpoint()
            net.update_contact("c0", 1)
            while not received:
                await anyio.lowlevel.checkpoint()
            stream.close()  # while the consumer waits for the next result
            await ended.wait()
    assert received == [1]
    net.update_contact("c0", 2)  # no longer delivered
    assert [r async for r in stream] == []


@pytest.mark.parametrize(
    ("max_buffer", "error"),
    [(0, ValueError), (-1, ValueError), (math.inf, TypeError), (1.5, TypeError), ("5", TypeError)],
)
def test_a_change_stream_buffer_is_a_whole_number_from_one(
    max_buffer: Any, error: type[Exception]
) -> None:
    """inf was taken (an unbounded buffer, where the docs promise a bounded one), 1.5 failed
    with anyio's message and "5" with a bare comparison error."""
    with pytest.raises(error, match="max_buffer must be"):
        Network(chain(1)).changes(max_buffer)


@pytest.mark.parametrize(
    "stamp",
    [
        Stamp(-5, "ghost"),
        Stamp(2**63, "n"),
        Stamp(1.5, "n"),  # type: ignore[arg-type]
        Stamp(1, 7),  # type: ignore[arg-type]
        (1,),
        "t1",
        # nodes no peer takes: every later delta of this node was refused whole
        Stamp(1, "a\tb"),
        Stamp(1, "n" * 201),
        Stamp(1, "n\ud800"),
    ],
)
def test_apply_refuses_what_is_not_a_stamp_and_changes_nothing(stamp: Any) -> None:
    """Peers' stamps are checked by the protocol; a direct caller's must be checked too,
    or storage would refuse the value later, after the engine had taken it."""
    spec = {"contacts": [{"id": "s", "lattice": "grow-set", "blend": "merge"}, {"id": "c"}]}
    net = Network(spec)
    with pytest.raises(ValueError, match=r"contact 's': .* is not a stamp"):
        net.apply([("c", 1, Stamp(3, "n")), ("s", [1], stamp)])
    assert net.value("s", None) is None and net.value("c", None) is None


def test_apply_takes_a_plain_pair_as_a_stamp() -> None:
    net = Network({"contacts": [{"id": "c"}]})
    net.apply([("c", 1, (3, "n"))])  # type: ignore[list-item]
    assert net.contact("c").stamp == Stamp(3, "n") and type(net.contact("c").stamp) is Stamp


def test_apply_checks_each_node_of_a_batch_once_and_takes_the_spec_node() -> None:
    net = Network({"contacts": [{"id": f"c{i}"} for i in range(4)]})
    good = [(f"c{i}", i, Stamp(3 + i, "n" if i % 2 else "")) for i in range(3)]
    with pytest.raises(ValueError, match=r"contact 'c3': Stamp\(hlc=9, node='\\x7f'\)"):
        net.apply([*good, ("c3", 3, Stamp(9, "\x7f"))])
    assert all(net.value(f"c{i}", None) is None for i in range(4))
    net.apply(good)
    assert [net.contact(f"c{i}").stamp.node for i in range(3)] == ["", "n", ""]


def test_the_old_engine_verbs_warn_and_still_work() -> None:
    """``update`` and ``apply_many`` are deprecated names of ``update_contact`` and
    ``apply`` (one set of verbs in engine, runtime and node), kept for one release."""
    net = Network(chain(2))
    with pytest.warns(DeprecationWarning, match="use Network.update_contact"):
        result = net.update("c0", "x")
    assert [c.contact for c in result.changes] == ["c0", "c1"] and net.value("c1") == "x"
    with pytest.warns(DeprecationWarning, match="use Network.apply"):
        net.apply_many([("c0", "y", Stamp(net.stamp("c0").hlc + 10, "peer"))], source="peer")
    assert net.value("c1") == "y" and net.contact("c0").stamp.node == "peer"


def test_apply_refusing_stamps_too_far_ahead_names_the_first_of_them() -> None:
    net = Network(chain(3), apply_initial=False)
    hour = 3_600_000 << 16
    now = net.clock.tick().hlc
    items = [
        ("c0", 1, Stamp(now + 1, "n")),
        ("c1", 2, Stamp(now + 2 * hour, "early")),
        ("c2", 3, Stamp(now + 3 * hour, "later")),
    ]
    with pytest.raises(ValueError, match="from node 'early'"):
        net.apply(items)
    assert net.values() == {}
