"""What the engine shares with its callers: content, and the runs its listeners hear.

A network keeps its own copy of each list or dict written to it and hands out copies from
its reads (``value``, ``values``, ``state``, ``contact``): a caller changing either changes
nothing in the network, where a change would bypass propagation. A listener that raises
keeps no other listener or change stream from a run; the first exception reaches the
caller of the verb that ran.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import anyio
import pytest

from bassline import Network, register_gadget
from bassline.clock import Stamp
from bassline.content import copied
from bassline.gadgets import Inputs, Outputs, gadget
from bassline.lattices import GrowMap, GrowSet, Interval
from bassline.spec import parse_spec

SPEC: dict[str, Any] = {
    "id": "shared",
    "contacts": [{"id": "a"}, {"id": "b"}, {"id": "alone"}],
    "wires": [{"from": "a", "to": "b"}],
}


def test_a_written_list_or_dict_is_copied() -> None:
    net = Network(SPEC)
    items = [1, 2]
    net.update_contact("a", items)
    items.append(3)  # the caller reuses its list
    nested = {"k": [1]}
    net.update_contact("alone", nested)
    nested["k"].append(2)
    assert net.value("a") == [1, 2] and net.value("b") == [1, 2]
    assert net.value("alone") == {"k": [1]}
    # written again after the change: news, which propagates
    net.update_contact("a", items)
    assert net.value("b") == [1, 2, 3]


def test_update_many_and_submit_copy_too() -> None:
    net = Network(SPEC)
    flat, nested = [1], {"k": [1]}
    net.update_many({"a": flat, "alone": nested})
    flat.append(2)
    nested["k"].append(2)
    assert net.values() == {"a": [1], "b": [1], "alone": {"k": [1]}}
    pairs = [("alone", [{"x": 1}])]
    net.update_many(pairs)
    pairs[0][1][0]["x"] = 2
    queued = [5]
    net.submit("a", queued)
    queued.append(6)
    net.flush()
    assert net.value("alone") == [{"x": 1}] and net.value("b") == [5]


def test_a_written_tuple_is_held_as_the_list_it_stands_for() -> None:
    """Content is JSON, and a tuple is written as an array: kept as a tuple, the contact
    held ``(1, 2)`` where storage, a peer and a restart give ``[1, 2]``, which ``!=`` it
    (and a tuple after the equal list counted as a new value on a wire step, D45)."""
    net = Network(SPEC)
    net.update_contact("a", (1, 2))
    net.update_many({"alone": {"k": ((1,), "x")}})
    assert net.value("a") == [1, 2] and net.value("b") == [1, 2]
    assert net.value("alone") == {"k": [[1], "x"]}
    net.update_many([("a", (3,))])
    net.submit("alone", ("queued",))
    net.flush()
    for cid, (value, _) in {c: net.stamped(c) for c in ("a", "b", "alone")}.items():
        assert value in ([3], ["queued"]) and type(value) is list, (cid, value)


@gadget(inputs=["x"], outputs=["y"], id="test-sharing-pair", register=False)
def _pair(inputs: Inputs) -> Outputs:
    return {"y": (inputs["x"], {"k": (inputs["x"],)})}


PAIRED: dict[str, Any] = {
    "id": "paired",
    "groups": [{"id": "g", "gadget": "test-sharing-pair"}],
    "contacts": [
        {"id": "x"},
        {"id": "y"},
        {"id": "z"},
        {"id": "g.x", "group": "g", "name": "x", "boundary": "input"},
        {"id": "g.y", "group": "g", "name": "y", "boundary": "output"},
    ],
    "wires": [
        {"from": "x", "to": "g.x", "type": "directed"},
        {"from": "g.y", "to": "y", "type": "directed"},
    ],
}


def _tuple_free(value: Any) -> bool:
    if isinstance(value, tuple):
        return False
    if isinstance(value, list):
        return all(map(_tuple_free, value))
    if isinstance(value, dict):
        return all(map(_tuple_free, value.values()))
    return True


def test_tuples_a_gadget_returns_or_apply_and_restore_take_are_held_as_lists() -> None:
    """D69 for the paths that keep values uncopied (D61): a gadget's outputs, the rows
    of ``apply``, ``restore`` and ``restore_stored`` are held (``stamped``, what a node
    gossips and a runtime stores) and heard (a run's changes) as the lists they stand for."""
    register_gadget(_pair, replace=True)
    net = Network(PAIRED)
    result = net.update_contact("x", 1)
    heard = {change.contact: change.value for change in result.changes}
    assert heard["g.y"] == heard["y"] == [1, {"k": [1]}]
    assert _tuple_free(heard["g.y"]) and _tuple_free(heard["y"])
    assert _tuple_free(net.stamped("g.y")[0]) and _tuple_free(net.stamped("y")[0])
    stamp = Stamp(10**15, "n2")
    result = net.apply([("z", (1, (2,)), stamp), ("x", {"k": (3,)}, stamp, None)])
    assert all(_tuple_free(change.value) for change in result.changes)
    assert net.stamped("z")[0] == [1, [2]] and _tuple_free(net.stamped("z")[0])
    assert _tuple_free(net.contents_of(["x", "g.y", "y"])[0])
    later = Stamp(10**15 + 1, "n2")
    net.restore([("z", {"k": ((1,),)}, later)])
    assert net.stamped("z")[0] == {"k": [[1]]} and _tuple_free(net.stamped("z")[0])
    net.restore_stored(["x", "z"], [(5,), ("a",)], [later, later], [None, None], ["", ""])
    assert _tuple_free(net.contents_of(["x", "z"])[0])


def test_a_tuple_in_a_spec_s_content_is_the_list_it_stands_for() -> None:
    """A spec given as a Python dict held ``(1, (2,))`` as it was, in the spec and in the
    network; the same spec read from JSON holds ``[1, [2]]``."""
    given = {"id": "t", "contacts": [{"id": "a", "content": (1, (2,))}, {"id": "b"}]}
    net = Network({**given, "wires": [{"from": "a", "to": "b"}]})
    assert _tuple_free(net.stamped("a")[0]) and _tuple_free(net.stamped("b")[0])
    assert net.stamped("b")[0] == [1, [2]]
    assert _tuple_free(net.spec.contacts[0].content)
    from_json = parse_spec({"id": "t", "contacts": [{"id": "a", "content": [1, [2]]}, {"id": "b"}]})
    assert parse_spec(given) == from_json


def test_reads_hand_out_copies() -> None:
    net = Network(SPEC)
    net.update_contact("a", {"k": [1]})
    read = net.value("a")
    assert isinstance(read, dict)
    read["k"].append(2)
    read["new"] = 1
    listed = net.values()["b"]
    assert isinstance(listed, dict)
    listed["k"].append(3)
    state = dict((cid, v) for cid, v, _ in net.state())["a"]
    assert isinstance(state, dict)
    state.clear()
    contact = net.contact("b").value
    assert isinstance(contact, dict)
    contact["k"].clear()
    assert net.value("a") == {"k": [1]} and net.value("b") == {"k": [1]}


def test_copied_keeps_scalars_and_copies_to_any_depth() -> None:
    value: Any = {"a": [1, {"b": [2]}], "t": (1, [2])}
    twin = copied(value)
    assert twin == {"a": [1, {"b": [2]}], "t": [1, [2]]}  # a tuple is the list it stands for
    assert twin["a"][1]["b"] is not value["a"][1]["b"]
    assert twin["t"][1] is not value["t"][1]
    text = "x" * 100
    assert copied(text) is text


LATTICES: dict[str, Any] = {
    "id": "lattices",
    "contacts": [
        {"id": "m", "blend": "merge", "lattice": "grow-map"},
        {"id": "m2", "blend": "merge", "lattice": "grow-map"},
        {"id": "s", "blend": "merge", "lattice": "grow-set"},
        {"id": "i", "blend": "merge", "lattice": "interval"},
    ],
    "wires": [{"from": "m", "to": "m2"}],
}


def test_lattice_values_share_no_list_or_dict_with_callers() -> None:
    net = Network(LATTICES)
    net.update_contact("m", {"k": [1]})
    read = net.value("m")
    assert isinstance(read, GrowMap)
    read["k"].append(2)  # a grow-map's entry, read
    net.values()["m2"]["k"].append(3)
    entry = [1]
    net.update_contact("m", GrowMap({"z": entry}))  # a grow-map the caller built
    entry.append(2)
    assert net.value("m") == GrowMap({"k": [1], "z": [1]})
    assert net.value("m2") == GrowMap({"k": [1], "z": [1]})
    element = [1]
    net.update_contact("s", GrowSet([element]))
    element.append(2)
    held = net.contact("s").value
    assert isinstance(held, GrowSet)
    held.values[0].append(3)
    assert net.value("s") == GrowSet([[1]])
    assert copied(GrowSet([1, "x"])) == GrowSet([1, "x"])  # scalars only: the set itself
    flat = GrowSet([1])
    assert copied(flat) is flat


def test_an_interval_is_immutable() -> None:
    net = Network(LATTICES)
    net.update_contact("i", [0, 10])
    read = net.value("i")
    assert isinstance(read, Interval)
    with pytest.raises(AttributeError, match="immutable"):
        read.lo = 5
    with pytest.raises(AttributeError, match="immutable"):
        del read.hi
    assert net.value("i") == Interval(0, 10)
    assert copy.deepcopy(read) == read and pickle.loads(pickle.dumps(read)) == read


def _net_with_listeners(heard: list[str]) -> Network:
    net = Network(SPEC)

    def first(_: object) -> None:
        heard.append("first")
        raise RuntimeError("a bug in the first listener")

    def second(_: object) -> None:
        heard.append("second")
        raise ValueError("a bug in the second listener")

    net.add_listener(first)
    net.add_listener(second)
    net.add_listener(lambda _: heard.append("third"))
    return net


@pytest.mark.parametrize("contact", ["alone", "a"])  # the one-step fast path and a run
def test_a_listener_that_raises_keeps_no_other_from_the_run(
    contact: str, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[str] = []
    net = _net_with_listeners(heard)

    async def main() -> list[object]:
        async with net.changes() as stream:
            with pytest.raises(RuntimeError, match="a bug in the first listener"):
                net.update_contact(contact, 1)
            with anyio.fail_after(5):
                return [await stream.__anext__()]

    streamed = anyio.run(main)
    assert heard == ["first", "second", "third"]
    assert len(streamed) == 1 and net.value(contact) == 1
    logged = [r for r in caplog.records if r.name == "bassline.engine"]
    assert [r.exc_info[1].args for r in logged if r.exc_info] == [("a bug in the second listener",)]
