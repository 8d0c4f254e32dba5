"""What a run reports, field by field: contradictions, changes, and equal-stamp ties.

A contradiction names the contact, the reason, both values, where the refused value came
from and its stamp; a run lists a contact as changed only when its content differs from
before; a replica's equal-stamp value that wins the tie carries along its wired copies; a
gadget failure names the group, gadget, error, inputs, outputs and the unusable port, is
counted, and is cleared by the gadget's next good run.
"""

from __future__ import annotations

from typing import Any

from bassline import ABSENT, Gadget, register_gadget
from bassline.clock import INITIAL_STAMP, Stamp
from bassline.codec import encode
from bassline.engine import Network
from bassline.engine.results import Change, ContradictionRecord, GadgetFailure
from bassline.gadgets import gadgets
from bassline.lattices.values import GrowSet, ShrinkSet
from bassline.spec import parse_spec


def network() -> Network:
    return Network(
        parse_spec(
            {
                "id": "n",
                "contacts": [
                    {"id": "s", "lattice": "shrink-set"},
                    {"id": "d", "lattice": "defined"},
                    {"id": "a"},
                    {"id": "b"},
                ],
                "wires": [{"id": "w", "from": "a", "to": "b"}],
            }
        )
    )


def test_a_refused_value_is_recorded_with_where_it_came_from_and_its_stamp() -> None:
    net = network()
    net.update_contact("s", [1, 2])
    local = net.update_contact("s", [3])
    (record,) = local.contradictions
    assert record == ContradictionRecord(
        contact="s",
        reason="no value is in both sets",
        current=ShrinkSet([1, 2]),
        incoming=ShrinkSet([3]),  # the shrink-set's form, as current is
        source="update",
        stamp=record.stamp,
    )
    assert record.stamp.node == "local" and record.stamp > net.stamp("s")
    remote = net.apply([("s", [4], Stamp(5, "peer"))], source="peer-x")
    assert remote.contradictions == (
        ContradictionRecord(
            "s",
            "no value is in both sets",
            ShrinkSet([1, 2]),
            ShrinkSet([4]),
            "peer-x",
            Stamp(5, "peer"),
        ),
    )
    assert net.contradictions == {"s": remote.contradictions[0]}
    assert net.value("s") == ShrinkSet([1, 2])


def test_information_a_contact_already_holds_is_neither_a_change_nor_a_contradiction() -> None:
    net = network()
    net.update_contact("s", [1])
    result = net.apply([("s", [1], Stamp(5, "peer"))], source="peer-y")
    assert result.contradictions == () and result.changes == ()


def test_rewriting_the_same_content_is_no_change() -> None:
    net = network()
    first = net.update_contact("a", "z")
    assert [c.contact for c in first.changes] == ["a", "b"]
    again = net.update_contact("a", "z")
    assert again.changes == ()
    assert net.value("b") == "z"


def test_a_first_value_is_a_change_even_when_it_is_null() -> None:
    net = network()
    result = net.update_contact("d", None)
    assert [(c.contact, c.value) for c in result.changes] == [("d", None)]


def test_an_equal_stamp_value_that_wins_the_tie_carries_its_wired_copy() -> None:
    net = network()
    stamp = Stamp(100, "p")
    net.apply([("a", "x", stamp)])
    assert (net.value("b"), net.stamp("b")) == ("x", stamp)
    won = net.apply([("a", "y", stamp)])  # the same write seen from a replica: "y" wins the tie
    assert won.changes == (Change("a", "y", stamp), Change("b", "y", stamp))
    lost = net.apply([("a", "a0", stamp)])  # loses the tie: nothing moves
    assert lost.changes == ()
    assert (net.value("a"), net.value("b")) == ("y", "y")


def test_the_same_value_again_at_its_stamp_changes_nothing() -> None:
    # a replica's copy coming back over another link: str and int answer the tie at once
    net = Network(parse_spec({"id": "t", "contacts": [{"id": "x"}, {"id": "y"}, {"id": "z"}]}))
    stamp = Stamp(100, "p")
    net.apply([("x", "v", stamp), ("y", 7, stamp)])
    assert net.apply([("x", "v", stamp), ("y", 7, stamp)]).changes == ()
    assert net.stamped("x") == ("v", stamp) and net.stamped("y") == (7, stamp)
    # equal by == but not the same JSON: their encodings still order them
    later = Stamp(200, "p")
    net.apply([("y", 1, later)])
    assert net.apply([("y", True, later)]).changes == (Change("y", True, later),)
    assert net.apply([("y", 1, later)]).changes == ()  # b"1" sorts before b"true"
    assert net.stamped("z") == (ABSENT, net.stamp("z"))


def test_a_local_write_at_an_older_stamp_never_wins() -> None:
    net = network()
    net.apply([("a", "new", Stamp(10, "n2"))])
    assert net.apply([("a", "old", Stamp(9, "n9"))]).changes == ()
    assert net.apply([("a", "b-tie", Stamp(10, "n1"))]).changes == ()  # lower node: older
    assert net.value("a") == "new" and net.value("b") == "new"


# ---------------------------------------------------------------- gadget failures


def plus(**sum_contact: Any) -> Network:
    """``total = a + b`` through the built-in ``add`` gadget, in a group named ``plus``."""
    return Network(
        {
            "groups": [{"id": "plus", "gadget": "add"}],
            "contacts": [
                {"id": "a"},
                {"id": "b"},
                {"id": "plus.a", "group": "plus", "name": "a", "boundary": "input"},
                {"id": "plus.b", "group": "plus", "name": "b", "boundary": "input"},
                {"id": "plus.sum", "group": "plus", "name": "sum", "boundary": "output"}
                | sum_contact,
            ],
            "wires": [
                {"from": "a", "to": "plus.a", "type": "directed"},
                {"from": "b", "to": "plus.b", "type": "directed"},
            ],
        }
    )


def test_an_unusable_input_is_recorded_field_by_field_counted_and_cleared_by_a_good_run() -> None:
    net = plus()
    first = net.update_many({"a": "x", "b": 2})
    failure = GadgetFailure(
        group="plus",
        gadget="add",
        error="UnusableInput: add: port 'a' got a string ('x'); it computes with a number or "
        "an interval",
        inputs={"a": "x", "b": 2},
        outputs=("plus.sum",),
        port="a",
        kind="a string",
    )
    assert first.failures == (failure,) and not first.ok
    assert net.failures == {"plus.sum": failure} and net.contact("plus.sum").failure == failure
    assert net.failure_counts == {"add": 1} and net.value("plus.sum") is ABSENT
    net.update_contact("a", "y")
    assert net.failure_counts == {"add": 2}
    good = net.update_contact("a", 1)
    assert good.failures == () and good.ok
    assert net.failures == {} and net.contact("plus.sum").failure is None
    assert net.value("plus.sum") == 3 and net.failure_counts == {"add": 2}


def test_a_gadget_that_raises_is_recorded_with_its_error_and_no_port() -> None:
    boom = Gadget(
        id="test-records-boom",
        inputs=("x",),
        outputs=("y", "z"),
        body=lambda ins: {"y": 1, "z": ins["x"] // 0},
    )
    register_gadget(boom, replace=True)
    try:
        spec = {
            "groups": [{"id": "g", "gadget": "test-records-boom"}],
            "contacts": [
                {"id": "g.x", "group": "g", "name": "x", "boundary": "input"},
                {"id": "g.y", "group": "g", "name": "y", "boundary": "output"},
                {"id": "g.z", "group": "g", "name": "z", "boundary": "output"},
            ],
        }
        net = Network(spec)
        r = net.update_contact("g.x", 3)
        expected = GadgetFailure(
            group="g",
            gadget="test-records-boom",
            error="ZeroDivisionError: integer division or modulo by zero",
            inputs={"x": 3},
            outputs=("g.y", "g.z"),
            port=None,
            kind=None,
        )
        assert r.failures == (expected,)
        assert net.failures == {"g.y": expected, "g.z": expected}
        assert net.values() == {"g.x": 3} and r.changed == {"g.x": 3}
        assert net.failure_counts == {"test-records-boom": 1}
    finally:
        gadgets.unregister("test-records-boom")


def test_a_gadget_output_of_the_wrong_kind_for_a_merge_output_is_a_contradiction() -> None:
    net = plus(lattice="grow-set")
    r = net.update_many({"a": 5, "b": 5})
    premise = max(net.stamp("plus.a"), net.stamp("plus.b"))
    record = ContradictionRecord(
        contact="plus.sum",
        reason="number from gadget:plus is not a value of the grow-set lattice (grow-set "
        "needs a list of elements, got 10)",
        current=ABSENT,
        incoming=10,
        source="gadget:plus",
        stamp=premise,
    )
    assert r.contradictions == (record,) and r.failures == ()
    assert r.steps == 5  # a, b, the two wires into the group, the gadget: nothing after
    assert net.contradictions == {"plus.sum": record}
    assert net.value("plus.sum") is ABSENT and net.stamp("plus.sum") == Stamp(0, "")


def test_a_gadget_output_carries_its_newest_input_stamp_or_steps_past_its_own() -> None:
    net = plus()
    net.apply([("a", 1, Stamp(10, "p1")), ("b", 2, Stamp(20, "p2"))])
    assert (net.value("plus.sum"), net.stamp("plus.sum")) == (3, Stamp(20, "p2"))
    net.apply([("plus.sum", 99, Stamp(50, "p3"))])  # a newer write to the output itself
    r = net.apply([("a", 7, Stamp(30, "p4"))])  # older than the output: the result steps past
    assert (net.value("plus.sum"), net.stamp("plus.sum")) == (9, Stamp(51, "p4"))
    assert r.changed == {"a": 7, "plus.a": 7, "plus.sum": 9}
    assert net.clock.tick() > Stamp(51, "p4")


def test_a_run_stopped_by_its_budget_reports_the_steps_and_what_was_still_changing() -> None:
    inc = Gadget(
        id="test-records-inc", inputs=("x",), outputs=("y",), body=lambda i: {"y": i["x"] + 1}
    )
    register_gadget(inc, replace=True)
    try:
        spec = {
            "groups": [{"id": "g", "gadget": "test-records-inc"}],
            "contacts": [
                {"id": "level", "lattice": "max"},
                {"id": "g.x", "group": "g", "name": "x", "boundary": "input", "lattice": "max"},
                {"id": "g.y", "group": "g", "name": "y", "boundary": "output", "lattice": "max"},
            ],
            "wires": [{"from": "level", "to": "g.x"}, {"from": "g.y", "to": "level"}],
        }
        assert Network(spec).step_budget == 10_000  # the floor for a small network
        # stopped while wires were carrying g.y's value on, and while the gadget waited to run
        for budget, unsettled, level in ((50, ("g.x", "g.y"), 12), (51, ("g.y",), 12)):
            net = Network(spec, step_budget=budget)
            r = net.update_contact("level", 0)
            assert (r.steps, r.settled, r.unsettled) == (budget + 1, False, unsettled)
            assert not r.ok and bool(r) and net.value("level") == level
        for budget in range(40, 60):  # whether the step past the budget is a wire or a gadget
            assert Network(spec, step_budget=budget).update_contact("level", 0).steps == budget + 1
    finally:
        gadgets.unregister("test-records-inc")
    assert Network(chain(150)).step_budget == 15_000  # 100 steps per contact and gadget
    with_gadgets = chain(120)
    with_gadgets["groups"] = [{"id": f"g{k}", "gadget": "add"} for k in range(2)]
    with_gadgets["contacts"] += [
        {"id": f"g{k}.{port}", "group": f"g{k}", "name": port, "boundary": boundary}
        for k in range(2)
        for port, boundary in (("a", "input"), ("b", "input"), ("sum", "output"))
    ]
    assert Network(with_gadgets).step_budget == 100 * (126 + 2)
    r = Network(chain(3)).update_contact("c0", 1)
    assert (r.steps, r.settled, r.unsettled) == (3, True, ())


def chain(n: int) -> dict[str, Any]:
    return {
        "contacts": [{"id": f"c{i}"} for i in range(n)],
        "wires": [{"from": f"c{i}", "to": f"c{i + 1}", "type": "directed"} for i in range(n - 1)],
    }


def test_wired_copies_of_a_value_that_lost_a_tie_follow_the_winner_down_the_chain() -> None:
    # copies restored from storage are equal to the lost value, not the same object
    stamp = Stamp(100, "p")
    net = Network(chain(3), apply_initial=False)
    net.restore([("c0", [1], stamp), ("c1", [1], stamp), ("c2", [1], stamp)])
    r = net.apply([("c0", [2], stamp)])  # b"[2]" sorts after b"[1]": it wins the tie
    assert r.changed == {"c0": [2], "c1": [2], "c2": [2]}
    assert net.values() == {"c0": [2], "c1": [2], "c2": [2]}
    assert {net.stamp(c) for c in ("c0", "c1", "c2")} == {stamp}


def test_an_equal_stamp_tie_leaves_a_wired_contact_holding_some_other_value_alone() -> None:
    stamp = Stamp(100, "p")
    net = Network(chain(2))
    net.apply([("c0", "a0", stamp)])
    net.apply([("c1", "q", stamp)])  # c1's own replica value, at the same stamp
    assert net.values() == {"c0": "a0", "c1": "q"}
    r = net.apply([("c0", "z", stamp)])  # "z" beats "a0" and would beat "q", but c1 is no copy
    assert r.changed == {"c0": "z"} and net.value("c1") == "q"


def test_a_copy_at_an_equal_stamp_follows_only_a_tie_that_favours_it() -> None:
    # in one run: c0 loses "m" to "z" at S (a tie), then takes "b" at the newer S2, while
    # c1 (a copy of "m") is written "m" at S2 too. c0's "b" reaches c1 at c1's own stamp:
    # c1 holds a value c0 lost, but "m" sorts after "b", so c1 keeps it, as a replica
    # applying the two equal-stamp values in either order would. And a wire whose source
    # lost no tie (d0 -> d1, equal stamps, in the same run) leaves its target alone.
    s, s2 = Stamp(100, "p"), Stamp(200, "p")
    spec = chain(2)
    spec["contacts"] += [{"id": "d0"}, {"id": "d1"}]
    spec["wires"].append({"from": "d0", "to": "d1", "type": "directed"})
    net = Network(spec)
    net.apply([("c0", "m", s)])
    assert net.values() == {"c0": "m", "c1": "m"}
    net.apply([("c0", "z", s), ("c0", "b", s2), ("c1", "m", s2), ("d0", "a", s2), ("d1", "q", s2)])
    assert net.values() == {"c0": "b", "c1": "m", "d0": "a", "d1": "q"}


def test_a_gadget_output_that_cannot_be_stored_fails_the_run_naming_the_port() -> None:
    bad = Gadget(
        id="test-records-bad",
        inputs=("x",),
        outputs=("y", "z"),
        body=lambda i: {"z": 1, "y": [i["x"], {"k": "\ud800"}]},
    )
    register_gadget(bad, replace=True)
    try:
        net = Network(
            {
                "groups": [{"id": "g", "gadget": "test-records-bad"}],
                "contacts": [
                    {"id": "g.x", "group": "g", "name": "x", "boundary": "input"},
                    {"id": "g.y", "group": "g", "name": "y", "boundary": "output"},
                    {"id": "g.z", "group": "g", "name": "z", "boundary": "output"},
                ],
            }
        )
        r = net.update_contact("g.x", 3)
        (failure,) = r.failures
        assert failure.error == (
            "ContentError: string contains the lone surrogate '\\ud800', which is not valid "
            "Unicode text at <y>[1].k"
        )
        assert net.values() == {"g.x": 3}  # neither output is written, not even the good z
    finally:
        gadgets.unregister("test-records-bad")


def test_a_gadget_with_no_inputs_runs_when_the_network_is_built_at_the_initial_stamp() -> None:
    const = Gadget(id="test-records-const", inputs=(), outputs=("y",), body=lambda i: {"y": 7})
    register_gadget(const, replace=True)
    try:
        net = Network(
            {
                "groups": [{"id": "g", "gadget": "test-records-const"}],
                "contacts": [
                    {"id": "g.y", "group": "g", "name": "y", "boundary": "output"},
                    {"id": "out"},
                ],
                "wires": [{"from": "g.y", "to": "out"}],
            }
        )
        assert net.initial_result.changed == {"g.y": 7, "out": 7}
        assert net.stamp("g.y") == net.stamp("out") == INITIAL_STAMP
    finally:
        gadgets.unregister("test-records-const")


def test_a_newer_stamp_on_the_same_content_is_touched_but_no_change() -> None:
    net = network()
    net.apply([("a", "z", Stamp(10, "p"))])
    r = net.apply([("a", "z", Stamp(20, "p"))])  # replication and storage need the stamp
    assert r.changes == () and bool(r)
    assert r.touched == (["a", "b"], ["z", "z"], [Stamp(20, "p"), Stamp(20, "p")])


def test_an_offer_that_loses_runs_nothing() -> None:
    net = network()
    net.restore([("a", "x", Stamp(10, "p")), ("b", "y", Stamp(5, "p"))])  # not settled
    r = net.apply([("a", "old", Stamp(3, "p"))])
    assert (r.steps, r.touched, bool(r)) == (0, ([], [], []), False)
    assert (net.value("a"), net.value("b")) == ("x", "y")  # the refused offer carried nothing


def test_a_first_good_value_clears_the_contradiction_of_an_empty_merge_contact() -> None:
    echo = Gadget(
        id="test-records-echo", inputs=("x",), outputs=("y",), body=lambda i: {"y": i["x"]}
    )
    register_gadget(echo, replace=True)
    try:
        net = Network(
            {
                "groups": [{"id": "e", "gadget": "test-records-echo"}],
                "contacts": [
                    {"id": "e.x", "group": "e", "name": "x", "boundary": "input"},
                    {
                        "id": "e.y",
                        "group": "e",
                        "name": "y",
                        "boundary": "output",
                        "lattice": "max",
                    },
                ],
            }
        )
        refused = net.update_contact("e.x", "abc")
        assert [c.contact for c in refused.contradictions] == ["e.y"]
        assert set(net.contradictions) == {"e.y"} and net.value("e.y") is ABSENT
        good = net.update_contact("e.x", 5)
        assert good.contradictions == () and net.contradictions == {}
        assert net.contact("e.y").contradiction is None and net.value("e.y") == 5
    finally:
        gadgets.unregister("test-records-echo")


def test_each_contribution_to_a_merge_contact_keeps_its_own_stamp() -> None:
    net = Network({"contacts": [{"id": "s", "lattice": "grow-set"}]})
    net.apply([("s", [1], Stamp(5, "p"))], source="peer")
    net.apply([("s", [2], Stamp(3, "q"))], source="peer")  # older, but it adds 2
    justification = net.explain("s").justification
    assert justification is not None
    assert [(c.value, c.stamp) for c in justification.contributions] == [
        (GrowSet([1]), Stamp(5, "p")),
        (GrowSet([2]), Stamp(3, "q")),
    ]
    assert net.stamp("s") == Stamp(6, "q")  # stepped past its own, so neighbours take it


def test_a_gadget_reruns_when_a_value_written_to_its_port_changes_not_its_stamp() -> None:
    net = plus()
    net.apply([("plus.a", 1, Stamp(10, "p")), ("plus.b", 2, Stamp(11, "p"))])
    assert (net.value("plus.sum"), net.stamp("plus.sum")) == (3, Stamp(11, "p"))
    same = net.apply([("plus.a", 1, Stamp(20, "p"))])  # a newer stamp, the same value
    assert same.touched == (["plus.a"], [1], [Stamp(20, "p")]) and same.steps == 1
    assert net.stamp("plus.sum") == Stamp(11, "p")  # the sum was not recomputed
    new = net.apply([("plus.a", 5, Stamp(21, "p"))])
    assert new.touched == (["plus.a", "plus.sum"], [5, 7], [Stamp(21, "p"), Stamp(21, "p")])


def test_a_run_stopped_by_its_budget_still_reports_what_it_met_before() -> None:
    inc = Gadget(
        id="test-records-up", inputs=("x",), outputs=("y",), body=lambda i: {"y": i["x"] + 1}
    )
    fail = Gadget(
        id="test-records-fail", inputs=("x",), outputs=("y",), body=lambda i: {"y": 1 // 0}
    )
    register_gadget(inc, replace=True)
    register_gadget(fail, replace=True)
    try:
        spec = {
            "groups": [
                {"id": "f", "gadget": "test-records-fail"},
                {"id": "g", "gadget": "test-records-up"},
            ],
            "contacts": [
                {"id": "level", "lattice": "max"},
                {"id": "s", "lattice": "shrink-set", "content": [1]},
                {"id": "g.x", "group": "g", "name": "x", "boundary": "input", "lattice": "max"},
                {"id": "g.y", "group": "g", "name": "y", "boundary": "output", "lattice": "max"},
                {"id": "f.x", "group": "f", "name": "x", "boundary": "input"},
                {"id": "f.y", "group": "f", "name": "y", "boundary": "output"},
            ],
            "wires": [
                {"from": "level", "to": "g.x"},
                {"from": "g.y", "to": "level"},
                {"from": "level", "to": "f.x"},
            ],
        }
        # stopped before a gadget ran (46) and while wires carried values on (49)
        for budget, unsettled in ((46, ("f.y", "g.y")), (49, ("level",))):
            net = Network(spec, step_budget=budget)
            r = net.update_many({"s": [2], "level": 0})
            assert (r.settled, r.unsettled) == (False, unsettled)
            assert [c.contact for c in r.contradictions] == ["s"]
            assert r.failures and {f.gadget for f in r.failures} == {"test-records-fail"}
    finally:
        gadgets.unregister("test-records-up")
        gadgets.unregister("test-records-fail")


def test_an_echo_of_null_is_no_change_and_does_not_rerun_the_gadget_it_feeds() -> None:
    echo = Gadget(
        id="test-records-null", inputs=("x",), outputs=("y",), body=lambda i: {"y": i["x"]}
    )
    register_gadget(echo, replace=True)
    try:
        net = Network(
            {
                "groups": [{"id": "e", "gadget": "test-records-null"}],
                "contacts": [
                    {"id": "src"},
                    {"id": "e.x", "group": "e", "name": "x", "boundary": "input"},
                    {"id": "e.y", "group": "e", "name": "y", "boundary": "output"},
                ],
                "wires": [{"from": "src", "to": "e.x"}],
            }
        )
        net.update_contact("src", None)
        first = net.stamp("e.y")
        again = net.update_contact("src", None)  # the same null, newer: e.x only restamped
        assert again.touched[0] == ["src", "e.x"] and again.changes == ()
        assert net.values() == {"src": None, "e.x": None, "e.y": None}
        assert net.stamp("e.y") == first
    finally:
        gadgets.unregister("test-records-null")


def test_a_value_that_differs_only_in_its_json_reaches_the_gadget_it_feeds() -> None:
    # 1 and true are equal in Python, but different content: each must rerun the gadget;
    # an equal list (another object) is the same content and must not, nor 1.0 after 1
    # (numbers compare by value)
    echo = Gadget(
        id="test-records-same", inputs=("x",), outputs=("y",), body=lambda i: {"y": i["x"]}
    )
    register_gadget(echo, replace=True)
    try:
        net = Network(
            {
                "groups": [{"id": "e", "gadget": "test-records-same"}],
                "contacts": [
                    {"id": "src"},
                    {"id": "e.x", "group": "e", "name": "x", "boundary": "input"},
                    {"id": "e.y", "group": "e", "name": "y", "boundary": "output"},
                ],
                "wires": [{"from": "src", "to": "e.x"}],
            }
        )
        # and the same in a list: [1] and [true] are equal in Python, different content
        for value in (1, True, 1, True, [1], [True], [1], [1.5], ["a"], [1, 2]):
            net.update_contact("src", value)
            out = net.value("e.y")
            assert out == value and type(out) is type(value), (value, out)
            assert encode(out) == encode(value), (value, out)
        before = net.stamp("e.y")
        again = net.update_contact("src", [1, 2])  # equal, but not the same object
        assert again.changes == () and net.stamp("e.y") == before
        net.update_contact("src", 1)
        before = net.stamp("e.y")
        assert net.update_contact("src", 1.0).changes == () and net.stamp("e.y") == before
    finally:
        gadgets.unregister("test-records-same")
