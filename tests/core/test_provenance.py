"""Network.explain: each kind of justification, contradictions, cycles, bad input, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bassline import INITIAL_STAMP, Network, Stamp, UnknownContact
from bassline.engine import CONTRIBUTION_LIMIT, Cut, Explanation, Kind
from bassline.lattices import GrowSet

EXAMPLES = Path(__file__).parents[2] / "examples"


def adder(total: dict[str, Any] | None = None) -> dict[str, Any]:
    """a + b -> add -> total (directed wires)."""
    return {
        "id": "adder",
        "groups": [{"id": "add", "gadget": "add"}],
        "contacts": [
            {"id": "a"},
            {"id": "b"},
            {"id": "total", **(total or {})},
            {"id": "add.a", "group": "add", "name": "a", "boundary": "input"},
            {"id": "add.b", "group": "add", "name": "b", "boundary": "input"},
            {"id": "add.sum", "group": "add", "name": "sum", "boundary": "output"},
        ],
        "wires": [
            {"from": "a", "to": "add.a", "type": "directed"},
            {"from": "b", "to": "add.b", "type": "directed"},
            {"from": "add.sum", "to": "total", "type": "directed"},
        ],
    }


def premises(e: Explanation) -> list[tuple[str, Any, str]]:
    return [(p.contact, p.value, p.via) for p in e.premises()]


# ---------------------------------------------------------------- writes


def test_a_write_names_how_it_came_in_its_node_and_stamp() -> None:
    net = Network({"id": "w", "contacts": [{"id": "x"}]}, node_id="n1")
    net.update_contact("x", 5, via="http")
    e = net.explain("x")
    j = e.justification
    assert j is not None and j.kind is Kind.WRITE
    assert (j.value, j.via, j.local, j.stamp) == (5, "http", True, net.stamp("x"))
    assert j.stamp.node == "n1"
    assert premises(e) == [("x", 5, "http")] and e.complete


def test_the_default_way_in_is_python_and_update_many_and_submit_take_via() -> None:
    net = Network({"id": "w", "contacts": [{"id": "x"}, {"id": "y"}, {"id": "z"}]})
    net.update_contact("x", 1)
    net.update_many({"y": 2}, via="cli")
    net.submit("z", 3, via="import")
    net.flush()
    assert [net.explain(c).premises()[0].via for c in ("x", "y", "z")] == [
        "python",
        "cli",
        "import",
    ]


def test_a_value_applied_from_elsewhere_names_the_origin_node_and_its_stamp() -> None:
    net = Network({"id": "w", "contacts": [{"id": "x"}]}, node_id="here")
    stamp = Stamp(net.clock.tick().hlc + 5, "there")
    net.apply([("x", 7, stamp)], source="gossip")
    (p,) = net.explain("x").premises()
    assert (p.value, p.stamp, p.stamp.node, p.via, p.local) == (7, stamp, "there", "gossip", False)


def test_initial_content_is_a_premise_written_by_the_spec() -> None:
    net = Network({"id": "w", "contacts": [{"id": "x", "content": 3}]})
    (p,) = net.explain("x").premises()
    assert (p.contact, p.value, p.stamp, p.via) == ("x", 3, INITIAL_STAMP, "spec")


def test_a_bad_via_is_refused_before_anything_changes() -> None:
    net = Network({"id": "w", "contacts": [{"id": "x"}]})
    with pytest.raises(ValueError, match="via must be a non-empty string"):
        net.update_contact("x", 1, via="")
    assert not net.values()


@pytest.mark.parametrize("via", ["v" * 201, "a\x00b", "line\n", "\ud800"])
def test_a_via_gossip_or_storage_could_not_keep_is_refused(via: str) -> None:
    """A 2 MB label was once taken, then refused by storage for good: the runtime's
    breaker opened and every later write failed. Gossip carries at most 200 characters."""
    net = Network({"id": "w", "contacts": [{"id": "x"}]})
    for write in (
        lambda: net.update_contact("x", 1, via=via),
        lambda: net.update_many({"x": 1}, via=via),
        lambda: net.submit("x", 1, via=via),
        lambda: net.apply([("x", 1, Stamp(5, "p"))], source=via),
    ):
        with pytest.raises(ValueError, match="via must be at most 200 characters, none of them"):
            write()
    assert not net.values()
    net.update_contact("x", 2, via="v" * 200)  # 200 is the most
    # a stored form naming such a label (an older release) restores without it
    fresh = Network({"id": "w", "contacts": [{"id": "x"}]}, apply_initial=False)
    text = json.dumps({"kind": "write", "via": via, "local": True})
    fresh.restore([("x", 3, Stamp(9, "p"), text)])
    assert fresh.value("x") == 3 and fresh.stored_justification("x") is None


# ---------------------------------------------------------------- wires and gadgets


def test_a_wire_chain_explains_back_to_the_write() -> None:
    spec = {
        "id": "chain",
        "contacts": [{"id": f"c{i}"} for i in range(3)],
        "wires": [{"from": "c0", "to": "c1"}, {"from": "c1", "to": "c2"}],
    }
    net = Network(spec)
    net.update_contact("c0", "hi")
    e = net.explain("c2")
    assert e.justification is not None and e.justification.kind is Kind.WIRE
    (via_c1,) = e.justification.inputs
    assert (via_c1.contact, via_c1.value, via_c1.holds) == ("c1", "hi", True)
    assert via_c1.explanation is not None and via_c1.explanation.justification is not None
    assert via_c1.explanation.justification.inputs[0].contact == "c0"
    assert premises(e) == [("c0", "hi", "python")] and e.complete


def test_a_gadget_output_names_its_group_and_the_inputs_it_used_with_their_stamps() -> None:
    net = Network(adder())
    net.update_contact("a", 2)
    net.update_contact("b", 3)
    e = net.explain("add.sum")
    j = e.justification
    assert j is not None and j.kind is Kind.GADGET
    assert (j.group, j.gadget, j.value) == ("add", "add", 5)
    assert [(i.port, i.contact, i.value, i.stamp, i.holds) for i in j.inputs] == [
        ("a", "add.a", 2, net.stamp("a"), True),
        ("b", "add.b", 3, net.stamp("b"), True),
    ]
    assert sorted(premises(net.explain("total"))) == [("a", 2, "python"), ("b", 3, "python")]


def test_an_input_that_no_longer_holds_the_value_used_is_flagged() -> None:
    # total is a 'defined' merge contact: the second sum is refused, so the kept 5 rests
    # on a sum that has changed since
    net = Network(adder({"lattice": "defined"}))
    net.update_many({"a": 2, "b": 3})
    net.update_contact("a", 10)
    assert (net.value("total"), net.value("add.sum")) == (5, 13)
    e = net.explain("total")
    (kept,) = e.justification.contributions  # type: ignore[union-attr]
    (used,) = kept.inputs
    assert (used.contact, used.value, used.holds) == ("add.sum", 5, False)
    assert used.explanation is not None and used.explanation.value == 13  # why it holds 13 now
    assert not e.complete
    assert "total: input add.sum no longer holds the value used" in e.gaps()


# ---------------------------------------------------------------- merge contacts


def test_a_merge_contact_lists_the_contributions_joined_into_its_value() -> None:
    net = Network({"id": "m", "contacts": [{"id": "s", "lattice": "grow-set"}]})
    net.update_contact("s", [1])
    net.update_contact("s", [2])
    net.update_contact("s", [1, 2])  # adds nothing: not recorded
    e = net.explain("s")
    j = e.justification
    assert j is not None and j.kind is Kind.MERGE
    assert [c.value for c in j.contributions] == [GrowSet([1]), GrowSet([2])]
    assert all(c.kind is Kind.WRITE for c in j.contributions) and j.omitted == 0


def test_a_write_that_subsumes_earlier_contributions_replaces_them() -> None:
    net = Network({"id": "m", "contacts": [{"id": "hi", "lattice": "max"}]})
    for v in (3, 1, 8):
        net.update_contact("hi", v)
    (only,) = net.explain("hi").justification.contributions  # type: ignore[union-attr]
    assert only.value == 8


def test_contributions_beyond_the_bound_are_counted_and_reported_as_a_gap() -> None:
    net = Network({"id": "m", "contacts": [{"id": "s", "lattice": "grow-set"}]})
    for v in range(CONTRIBUTION_LIMIT + 3):
        net.update_contact("s", [v])
    e = net.explain("s")
    j = e.justification
    assert j is not None and len(j.contributions) == CONTRIBUTION_LIMIT and j.omitted == 3
    assert j.contributions[0].value == GrowSet([3])
    assert not e.complete and "s: 3 older contribution(s) dropped" in e.gaps()[0]


# ---------------------------------------------------------------- contradictions


def test_a_contradiction_explains_the_value_kept_and_the_value_refused() -> None:
    spec = {
        "id": "c",
        "contacts": [{"id": "left"}, {"id": "right"}, {"id": "d", "lattice": "defined"}],
        "wires": [
            {"from": "left", "to": "d", "type": "directed"},
            {"from": "right", "to": "d", "type": "directed"},
        ],
    }
    net = Network(spec, node_id="n1")
    net.update_contact("left", 1, via="http")
    net.update_contact("right", 2, via="cli")
    e = net.explain("d")
    assert e.value == 1 and premises(e) == [("left", 1, "http")]
    refusal = e.contradiction
    assert refusal is not None
    assert (refusal.value, refusal.source) == (2, "right")
    assert refusal.justification.kind is Kind.WIRE
    assert [(p.contact, p.value, p.via) for p in refusal.premises()] == [("right", 2, "cli")]
    data = e.to_json()
    assert data["steps"][0]["contradiction"]["premises"][0]["contact"] == "right"


# ---------------------------------------------------------------- cycles


def test_a_loop_that_settled_explains_without_looping_and_keeps_the_users_write() -> None:
    net = Network(EXAMPLES / "temperature.json")
    net.update_contact("fahrenheit", 32)
    e = net.explain("celsius")
    assert e.value == 0 and e.complete
    assert sorted(premises(e)) == [
        ("fahrenheit", 32, "python"),
        ("offset", 32, "spec"),
        ("ratio", 1.8, "spec"),
    ]
    # and the other way: fahrenheit's own value is the write, not the echo around the loop
    assert premises(net.explain("fahrenheit")) == [("fahrenheit", 32, "python")]


def test_an_echo_of_the_same_value_keeps_the_write_it_came_from() -> None:
    # the max contact's join steps its stamp past the spec's; the copy that comes back
    # to c1 is its own value, so c1 is still explained by its write
    spec = {
        "id": "echo",
        "contacts": [{"id": "c0", "lattice": "max", "content": 0}, {"id": "c1", "content": 1}],
        "wires": [{"from": "c0", "to": "c1"}],
    }
    net = Network(spec)
    assert net.stamp("c1") > INITIAL_STAMP  # the echo arrived
    e = net.explain("c1")
    assert e.justification is not None and e.justification.kind is Kind.WRITE
    assert e.justification.stamp == INITIAL_STAMP
    assert sorted(premises(net.explain("c0"))) == [("c0", 0, "spec"), ("c1", 1, "spec")]


def test_a_value_brought_again_and_again_keeps_the_stamp_it_first_came_with() -> None:
    net = Network({"contacts": [{"id": "a"}, {"id": "b"}], "wires": [{"from": "a", "to": "b"}]})
    net.update_contact("a", 1)
    first = net.stamp("b")
    for _ in range(3):  # the same value, newer each time: b keeps the wire that first brought it
        net.update_contact("a", 1)
    assert net.stamp("b") > first
    e = net.explain("b")
    assert e.justification is not None and e.justification.kind is Kind.WIRE
    assert e.justification.stamp == first
    assert json.loads(net.stored_justification("b") or "") == {
        "kind": "wire",
        "from": "a",
        "stamp": [first.hlc, first.node],
    }


def test_a_value_equal_only_to_python_is_a_new_value_across_a_wire() -> None:
    # True == 1 in Python but not as content: b takes a's 1 over the wire and is
    # explained by the wire, not by the write of True it held. A tuple written is held as
    # the list it stands for (D61), so it is b's own value: b keeps its write
    spec = {"id": "eq", "contacts": [{"id": "a"}, {"id": "b"}], "wires": [{"from": "a", "to": "b"}]}
    net = Network(spec)
    net.update_contact("b", True)
    net.update_contact("a", 1)
    e = net.explain("b")
    assert net.value("b") == 1 and type(net.value("b")) is int
    assert e.justification is not None and e.justification.kind is Kind.WIRE
    net.update_contact("b", [1, 2])
    net.update_contact("a", (1, 2))
    e = net.explain("b")
    assert e.justification is not None and e.justification.kind is Kind.WRITE
    assert premises(e) == [("b", [1, 2], "python")] and net.value("a") == [1, 2]


def test_a_cycle_of_justifications_is_cut_and_reported() -> None:
    # a + step fed back into a: settled at first (the sum's stamp is a's, so a keeps its
    # write), but a newer step makes the sum newer than a, and from then every value of a
    # comes from the gadget, whose input is a again, until the step budget
    spec = {
        "id": "loop",
        "groups": [{"id": "inc", "gadget": "add"}],
        "contacts": [
            {"id": "a"},
            {"id": "step", "content": 1},
            {"id": "inc.a", "group": "inc", "name": "a", "boundary": "input"},
            {"id": "inc.b", "group": "inc", "name": "b", "boundary": "input"},
            {"id": "inc.sum", "group": "inc", "name": "sum", "boundary": "output"},
        ],
        "wires": [
            {"from": "a", "to": "inc.a", "type": "directed"},
            {"from": "step", "to": "inc.b", "type": "directed"},
            {"from": "inc.sum", "to": "a", "type": "directed"},
        ],
    }
    net = Network(spec, step_budget=200)
    assert net.update_contact("a", 0).settled
    assert not net.update_contact("step", 2).settled
    e = net.explain("inc.sum")
    cuts = [
        i.cut
        for node in e.walk()
        if node.justification is not None
        for i in node.justification.inputs
    ]
    assert Cut.CYCLE in cuts
    assert not e.complete
    assert any("cycle of justifications" in g for g in e.gaps())


def test_a_cycle_of_merge_contacts_keeps_every_premise() -> None:
    spec = {
        "id": "m",
        "contacts": [{"id": "m1", "lattice": "grow-set"}, {"id": "m2", "lattice": "grow-set"}],
        "wires": [{"from": "m1", "to": "m2"}],
    }
    net = Network(spec)
    net.update_contact("m1", [1])
    net.update_contact("m2", [2])
    for contact in ("m1", "m2"):
        e = net.explain(contact)
        assert e.complete
        assert sorted(p.contact for p in e.premises()) == ["m1", "m2"]


def test_a_contact_used_twice_is_explained_once_and_shared() -> None:
    spec = adder()
    spec["wires"] = [
        {"from": "a", "to": "add.a", "type": "directed"},
        {"from": "a", "to": "add.b", "type": "directed"},
        {"from": "add.sum", "to": "total", "type": "directed"},
    ]
    net = Network(spec)
    net.update_contact("a", 4)
    j = net.explain("add.sum").justification
    assert j is not None
    first, second = j.inputs
    assert first.cut is None and first.explanation is not None
    # add.b's wire source is a, which add.a's branch already explained
    a_again = second.explanation.justification.inputs[0]  # type: ignore[union-attr]
    assert a_again.cut is Cut.REPEAT
    assert a_again.explanation is first.explanation.justification.inputs[0].explanation  # type: ignore[union-attr]


# ---------------------------------------------------------------- bad input and limits


def test_an_unknown_contact_is_refused_with_a_suggestion() -> None:
    net = Network({"id": "w", "contacts": [{"id": "total"}]})
    with pytest.raises(UnknownContact, match="did you mean 'total'"):
        net.explain("totl")


def test_a_contact_with_no_value_is_explained_as_empty() -> None:
    net = Network({"id": "w", "contacts": [{"id": "x"}]})
    e = net.explain("x")
    assert not e.present and e.justification is None and e.premises() == ()
    (step,) = e.to_json()["steps"]
    assert step["present"] is False and step["value"] is None and step["justification"] is None


@pytest.mark.parametrize("depth", [0, -1, 1.5, "2", True])
def test_a_depth_that_is_not_a_whole_number_from_one_is_refused(depth: Any) -> None:
    net = Network({"id": "w", "contacts": [{"id": "x"}]})
    with pytest.raises(ValueError, match="depth must be a whole number >= 1"):
        net.explain("x", depth=depth)


def test_the_depth_limit_cuts_inputs_and_says_so() -> None:
    spec = {
        "id": "chain",
        "contacts": [{"id": f"c{i}"} for i in range(4)],
        "wires": [{"from": f"c{i}", "to": f"c{i + 1}"} for i in range(3)],
    }
    net = Network(spec)
    net.update_contact("c0", 1)
    e = net.explain("c3", depth=2)
    (to_c2,) = e.justification.inputs  # type: ignore[union-attr]
    (to_c1,) = to_c2.explanation.justification.inputs  # type: ignore[union-attr]
    assert to_c1.cut is Cut.DEPTH and to_c1.explanation is None
    assert e.premises() == () and e.gaps() == ("c2: input c1 not explained (depth limit)",)
    assert not net.explain("c3", depth=3).complete  # c3, c2, c1: c0 is a fourth level
    assert net.explain("c3", depth=4).complete


def test_a_long_chain_explains_without_recursion() -> None:
    n = 3000
    spec = {
        "id": "long",
        "contacts": [{"id": f"c{i}"} for i in range(n)],
        "wires": [{"from": f"c{i}", "to": f"c{i + 1}", "type": "directed"} for i in range(n - 1)],
    }
    net = Network(spec)
    net.update_contact("c0", 1)
    e = net.explain(f"c{n - 1}")
    assert premises(e) == [("c0", 1, "python")] and e.complete
    data = json.loads(json.dumps(e.to_json()))  # flat: no depth overflows an encoder
    assert len(data["steps"]) == n and data["steps"][0]["contact"] == f"c{n - 1}"


def _chain(n: int, via: str = "python") -> Network:
    spec = {
        "id": "long",
        "contacts": [{"id": f"c{i}"} for i in range(n)],
        "wires": [{"from": f"c{i}", "to": f"c{i + 1}", "type": "directed"} for i in range(n - 1)],
    }
    net = Network(spec, node_id="n")
    net.clock._physical = lambda: 1_700_000_000_000  # type: ignore[method-assign]
    net.update_contact("c0", 1, via=via)
    return net


def test_a_long_chain_prints_compares_and_hashes_without_recursion() -> None:
    net = _chain(3000)
    e, again = net.explain("c2999"), net.explain("c2999")
    assert e is not again and e == again and hash(e) == hash(again)
    assert repr(e).count("Explanation(") == 1  # an input names the contact it explains
    assert "explanation=<explanation of 'c2998'>" in repr(e)
    # the same stamps, values and wires: only the write at the far end differs
    other = _chain(3000, via="cli").explain("c2999")
    assert e != other and e.to_json() != other.to_json()
    assert e.justification != other.justification  # the difference is far below it


def test_an_explanation_shared_at_every_level_prints_in_one_step() -> None:
    """x(i+1) = x(i) + x(i): each input is explained once and shared; printing it drew
    the shared tree again for every use, twice as long with every level."""
    groups: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = [{"id": "x0"}]
    wires: list[dict[str, Any]] = []
    for i in range(12):
        groups.append({"id": f"g{i}", "gadget": "add"})
        contacts += [
            {"id": f"g{i}.a", "group": f"g{i}", "name": "a", "boundary": "input"},
            {"id": f"g{i}.b", "group": f"g{i}", "name": "b", "boundary": "input"},
            {"id": f"x{i + 1}", "group": f"g{i}", "name": "sum", "boundary": "output"},
        ]
        wires += [{"from": f"x{i}", "to": f"g{i}.{p}", "type": "directed"} for p in "ab"]
    net = Network({"id": "ladder", "groups": groups, "contacts": contacts, "wires": wires})
    net.update_contact("x0", 1)
    e = net.explain("x12")
    assert e.value == 2**12 and len(repr(e)) < 2000
    assert e == net.explain("x12")


def test_restored_content_says_its_justification_was_not_kept() -> None:
    net = Network({"id": "w", "contacts": [{"id": "x"}]})
    net.restore([("x", 1, Stamp(5, "n"))])
    e = net.explain("x")
    assert e.justification is not None and e.justification.kind is Kind.RESTORED
    assert e.gaps() == ("x: restored from storage without its justification",)


# ---------------------------------------------------------------- JSON


def test_the_json_form_is_plain_data_with_premises_gaps_and_complete() -> None:
    net = Network(adder(), node_id="n1")
    net.update_many({"a": 2, "b": 3})
    data = net.explain("total").to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["contact"] == "total" and data["complete"] is True
    steps = data["steps"]
    assert steps[0]["contact"] == "total" and steps[0]["value"] == 5
    assert steps[0]["justification"]["kind"] == "wire"
    (wire_input,) = steps[0]["justification"]["inputs"]
    assert wire_input["contact"] == "add.sum" and wire_input["holds"] is True
    gadget = steps[wire_input["explained"]]["justification"]
    assert (gadget["kind"], gadget["group"], gadget["gadget"]) == ("gadget", "add", "add")
    assert [i["port"] for i in gadget["inputs"]] == ["a", "b"]
    assert {p["contact"] for p in data["premises"]} == {"a", "b"}
    assert data["premises"][0]["node"] == "n1" and data["gaps"] == []


def test_apply_takes_a_stored_form_for_values_another_process_stored() -> None:
    spec = {
        "id": "s",
        "contacts": [{"id": "a"}, {"id": "b"}, {"id": "m", "lattice": "grow-set"}],
        "wires": [{"from": "a", "to": "b"}],
    }
    writer, reader = Network(spec, node_id="w"), Network(spec, node_id="r")
    writer.update_contact("a", 1, via="http")
    writer.update_contact("m", ["x"])
    items = [
        (cid, writer.value(cid), writer.stamp(cid), writer.stored_justification(cid))
        for cid in ("a", "b", "m")
    ]
    reader.apply(items, source="storage", stored=True)
    a = reader.explain("a").justification
    assert a is not None and (a.kind, a.via, a.local) == (Kind.WRITE, "http", False)
    b = reader.explain("b").justification
    assert b is not None and b.kind is Kind.WIRE and b.inputs[0].contact == "a"
    # a merge contact's one contribution: the writer's write, applied here
    m = reader.explain("m").justification
    assert m is not None and m.kind is Kind.MERGE
    assert [(c.kind, c.via, c.local) for c in m.contributions] == [(Kind.WRITE, "python", False)]
    # unusable text: a write applied from storage, as without one
    reader.apply([("a", 2, writer.clock.tick(), "not json")], source="storage", stored=True)
    a = reader.explain("a").justification
    assert a is not None and (a.kind, a.via, a.local) == (Kind.WRITE, "storage", False)


WIRED_ADDER = {
    "id": "s",
    "groups": [{"id": "g", "gadget": "add"}],
    "contacts": [
        {"id": "a"},
        {"id": "b"},
        {"id": "c"},
        {"id": "g.a", "group": "g", "name": "a", "boundary": "input"},
        {"id": "g.b", "group": "g", "name": "b", "boundary": "input"},
        {"id": "g.sum", "group": "g", "name": "sum", "boundary": "output"},
    ],
    "wires": [{"from": "a", "to": "b", "type": "directed"}],
}


@pytest.mark.parametrize(
    ("contact", "text"),
    [
        ("b", '{"kind":"wire","from":"c"}'),  # c is wired to nothing (a spec replaced since)
        ("b", '{"kind":"wire","from":"b"}'),
        ("a", '{"kind":"wire","from":"b"}'),  # the wire goes the other way
        ("a", '{"kind":"gadget","group":"g","inputs":[]}'),  # a is no output of g
        ("g.sum", '{"kind":"gadget","group":"g","inputs":[["a","c",1,[1,"w"]]]}'),
        ("g.sum", '{"kind":"gadget","group":"g","inputs":[["zz","g.a",1,[1,"w"]]]}'),
        (
            "g.sum",
            '{"kind":"gadget","group":"g","inputs":[["a","g.a",1,[1,"w"]],["a","g.a",1,[1,"w"]]]}',
        ),
        ("a", '{"kind":"write","via":"http","stamp":[99999999999999999,"w"]}'),  # kept: newer
    ],
)
def test_a_stored_form_that_does_not_fit_the_contact_is_no_justification(
    contact: str, text: str
) -> None:
    """A wire or gadget run the spec does not have (any longer) is not shown as one."""
    stamp = Stamp(1000 << 16, "w")
    net = Network(WIRED_ADDER)
    net.restore([(contact, 5, stamp, text)])
    restored = net.explain(contact)
    assert restored.justification is not None
    assert restored.justification.kind is Kind.RESTORED and not restored.complete
    net = Network(WIRED_ADDER)
    net.apply([(contact, 5, stamp, text)], source="storage", stored=True)
    applied = net.explain(contact).justification
    assert applied is not None and (applied.kind, applied.via) == (Kind.WRITE, "storage")


@pytest.mark.parametrize(
    ("contact", "text", "kind"),
    [
        ("b", '{"kind":"wire","from":"a"}', Kind.WIRE),
        ("g.sum", '{"kind":"gadget","group":"g","inputs":[["a","g.a",1,[1,"w"]]]}', Kind.GADGET),
        ("a", '{"kind":"write","via":"http","stamp":[1,"w"]}', Kind.WRITE),
    ],
)
def test_a_stored_form_that_fits_is_kept(contact: str, text: str, kind: Kind) -> None:
    for stored in (False, True):
        net = Network(WIRED_ADDER)
        if stored:
            net.apply([(contact, 5, Stamp(1000 << 16, "w"), text)], stored=True)
        else:
            net.restore([(contact, 5, Stamp(1000 << 16, "w"), text)])
        got = net.explain(contact).justification
        assert got is not None and got.kind is kind
