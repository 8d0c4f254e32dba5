"""The Python builder: parts and specs written with handles, never with id strings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bassline import Network, SpecError, load_spec
from bassline.lattices import Interval
from bassline.spec import Part, SpecBuilder

EXAMPLES = Path(__file__).parents[2] / "examples"


def c_to_f() -> Part:
    """The part of examples/rooms.json, written in Python."""
    part = Part("c-to-f")
    celsius, fahrenheit = part.port("celsius"), part.port("fahrenheit")
    ratio = part.contact("ratio", content=1.8)
    offset = part.contact("offset", content=32)
    times = part.gadget("multiply", "c-times", a=celsius, b=ratio, product=None)
    plus = part.gadget("add", "plus-32", a=times["product"], b=offset, sum=fahrenheit)
    minus = part.gadget("subtract", "minus-32", a=fahrenheit, b=offset, difference=None)
    part.gadget("divide", "over", a=minus["difference"], b=ratio, quotient=celsius)
    assert plus["sum"].id == "plus-32.sum"
    return part


def rooms() -> tuple[SpecBuilder, dict[str, object]]:
    description = (
        "One Celsius <-> Fahrenheit part, defined once and used for three rooms; "
        "set either side of any room."
    )
    spec = SpecBuilder("rooms", metadata={"description": description})
    part = c_to_f()
    starts = {"kitchen": (20, None), "hall": (None, 50), "attic": (None, None)}
    contacts = {}
    for room, (c, f) in starts.items():
        contacts[f"{room}-c"] = spec.contact(f"{room}-c", **({"content": c} if c else {}))
        contacts[f"{room}-f"] = spec.contact(f"{room}-f", **({"content": f} if f else {}))
    instances = {
        room: spec.use(part, room, celsius=contacts[f"{room}-c"], fahrenheit=contacts[f"{room}-f"])
        for room in starts
    }
    return spec, instances


def test_the_builder_writes_the_same_spec_as_the_json_example() -> None:
    builder, _ = rooms()
    built = builder.build()
    assert built.hash == load_spec(EXAMPLES / "rooms.json").hash
    assert json.loads(json.dumps(builder.to_data()))["parts"]["c-to-f"]["ports"][0] == {
        "id": "celsius"
    }


def test_handles_carry_the_ids_of_the_built_spec() -> None:
    builder, instances = rooms()
    attic = instances["attic"]
    assert attic.id == "attic" and attic.part == "c-to-f"
    assert attic["fahrenheit"].id == "attic/fahrenheit"
    assert list(attic) == ["celsius", "fahrenheit"]
    net = Network(builder.build())
    net.update_contact(attic["fahrenheit"].id, 212)
    assert net.value(attic["celsius"].id) == 100
    with pytest.raises(KeyError, match=r"'attic' \(part 'c-to-f'\) has no port 'kelvin'"):
        attic["kelvin"]


def test_ports_with_names_that_are_not_identifiers_go_in_a_mapping() -> None:
    part = Part("p")
    part.port("in-1", boundary="input")
    part.port("sum")
    spec = SpecBuilder()
    a, b = spec.contact("a"), spec.contact("b")
    made = spec.use(part, "k", {"in-1": a}, sum=b)
    assert made["in-1"].id == "k/in-1"
    assert {w.id for w in spec.build().wires} == {"a->k/in-1", "b->k/sum"}
    with pytest.raises(SpecError, match=r"port\(s\) sum given both in the mapping and as keywords"):
        spec.use(part, "k2", {"in-1": a, "sum": b}, sum=b)


def test_contents_are_written_as_json() -> None:
    spec = SpecBuilder()
    spec.contact("range", lattice="interval", content=Interval(1, 2))
    data = spec.to_data()
    assert json.loads(json.dumps(data))["contacts"][0]["content"] == {
        "$type": "interval",
        "value": [1, 2],
    }
    assert spec.build().contact("range").content == Interval(1, 2)


def test_mistakes_the_builder_can_see_are_raised_at_the_call() -> None:
    part = Part("adder")
    a = part.port("a")
    part.port("b")
    with pytest.raises(
        SpecError, match=r"\$\.parts\.adder\.contacts\[0\]\.id: 'a' is already used"
    ):
        part.contact("a")
    with pytest.raises(SpecError, match=r"ports\[2\]\.boundary: unknown boundary 'in'"):
        part.port("c", boundary="in")
    spec = SpecBuilder("s")
    x = spec.contact("x")
    with pytest.raises(SpecError, match="contact 'a' belongs to part 'adder', not to spec 's'"):
        spec.use(part, "k", a=a, b=x)
    with pytest.raises(SpecError, match=r"\$\.uses\[0\] \(part 'adder'\): missing port\(s\) b"):
        spec.use(part, "k", a=x)
    with pytest.raises(SpecError, match=r"no port\(s\) c \(ports: a, b\)"):
        spec.use(part, "k", a=x, b=None, c=x)
    with pytest.raises(TypeError, match="expected a ContactRef"):
        spec.use(part, "k", a="x", b=None)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="unknown gadget 'addd'; did you mean 'add'"):
        spec.gadget("addd", "g")
    with pytest.raises(SpecError, match=r"gadget 'add'\): missing port\(s\) sum"):
        spec.gadget("add", "g", a=x, b=x)
    k = spec.use(part, "k", a=x, b=None)
    with pytest.raises(SpecError, match="'k' is an instance of part 'adder': contacts go in"):
        spec.contact("inside", group=k)
    with pytest.raises(SpecError, match=r"\$\.groups\[0\]\.id: 'k' is already used in spec 's'"):
        spec.group("k")
    with pytest.raises(SpecError, match="'k/a' is already used"):
        spec.contact("k/a")
    spec.contact("k2/b")
    with pytest.raises(SpecError, match=r"\$\.uses\[1\]\.id: 'k2/b' is already used"):
        spec.use(part, "k2", a=None, b=None)
    assert len(spec.to_data()["uses"]) == 1  # nothing of the refused use was added
    spec.use(part, "k3", a=None, b=None)  # and the builder goes on
    adder = spec.gadget("add", "g", a=x, b=None, sum=None)
    with pytest.raises(SpecError, match="group 'g' is a gadget and cannot contain contacts"):
        spec.contact("y", group=adder)


def test_a_part_cannot_use_itself() -> None:
    a, b = Part("a"), Part("b")
    with pytest.raises(
        SpecError, match=r"\$\.parts\.a\.uses\[0\]\.part: part 'a' would use itself: a -> a"
    ):
        a.use(a, "again")
    b.use(a, "x")
    with pytest.raises(SpecError, match="part 'a' would use itself: a -> b -> a"):
        a.use(b, "y")


def test_two_parts_with_one_name_are_refused() -> None:
    spec = SpecBuilder()
    spec.use(Part("p"), "one")
    spec.use(Part("p"), "two")
    with pytest.raises(SpecError, match="two different parts are named 'p'"):
        spec.to_data()


def test_build_reports_what_the_loader_finds_with_paths_in_to_data() -> None:
    part = Part("p")
    part.contact("c", lattice="maxx")
    spec = SpecBuilder()
    spec.use(part, "one")
    spec.use(part, "two")
    with pytest.raises(SpecError) as caught:
        spec.build()
    assert [p.path for p in caught.value.problems] == ["$.parts.p.contacts[0].lattice"]


def test_nested_parts_and_groups() -> None:
    inner = Part("inner")
    port = inner.port("v", boundary="output")
    inner.contact("seed", content=5)
    inner.wire(inner.contact("src", content=7), port, directed=True)
    outer = Part("outer", attributes={"bassline.tags": ["demo"]})
    out = outer.port("out", boundary="output")
    box = outer.group("box")
    outer.use(inner, "in", v=out, parent=None)
    outer.contact("note", group=box)
    spec = SpecBuilder()
    result = spec.contact("result")
    top = spec.use(outer, "o", out=result)
    spec.endpoint(top, "node-1", "ws://127.0.0.1:1")
    built = spec.build()
    assert built.group("o").attributes == {"bassline.tags": ["demo"], "bassline.part": "outer"}
    assert built.group("o/box").parent == "o"
    assert built.contact("o/note").group == "o/box"  # ids are flat inside a part
    assert built.endpoints["o"].node == "node-1"
    net = Network(built)
    assert net.value("result") == 7


def test_gadget_ports_get_a_lattice_and_a_constraint_narrows() -> None:
    spec = SpecBuilder("narrow")
    a, b, c = (spec.contact(n, lattice="interval") for n in "abc")
    spec.gadget("sum", "s", a=a, b=b, c=c, lattice="interval")
    built = spec.build()
    assert {built.contact(f"s.{p}").lattice for p in "abc"} == {"interval"}
    net = Network(built)
    net.update_many({"a": Interval(1, 2), "b": Interval(3, 4)})
    assert net.value("c") == Interval(4, 6)
    net.update_many({"c": Interval(4, 4)})  # only a = 1, b = 3 sum to 4: both narrow
    assert (net.value("a"), net.value("b")) == (Interval(1, 1), Interval(3, 3))
    assert net.value("s.a") == Interval(1, 1)


def test_a_mapping_gives_a_lattice_to_some_ports() -> None:
    spec = SpecBuilder("conv")
    celsius = spec.contact("celsius", lattice="interval")
    fahrenheit = spec.contact("fahrenheit", lattice="interval")
    k, m = spec.contact("k", content=1.8), spec.contact("m", content=32)
    ports = {"x": "interval", "y": "interval"}
    spec.gadget("linear", "conv", x=celsius, y=fahrenheit, k=k, m=m, lattice=ports)
    built = spec.build()
    assert [(c.id, c.lattice) for c in built.contacts if c.group == "conv"] == [
        ("conv.k", None),
        ("conv.m", None),
        ("conv.x", "interval"),
        ("conv.y", "interval"),
    ]
    net = Network(built)
    net.update_many({"celsius": Interval(0, 100)})
    f = net.value("fahrenheit")  # rounded outward: it holds 32 and 212, barely more
    assert f.lo <= 32 <= 212 <= f.hi and (f.lo, f.hi) == pytest.approx((32, 212))
    net.update_many({"fahrenheit": Interval(50, 59)})  # and celsius narrows to fit
    c = net.value("celsius")
    assert c.lo <= 10 <= 15 <= c.hi and (c.lo, c.hi) == pytest.approx((10, 15))


def test_a_gadget_lattice_the_builder_can_check_is_refused_at_the_call() -> None:
    spec = SpecBuilder("s")
    x = spec.contact("x")
    with pytest.raises(SpecError, match=r"\(gadget 'add'\): lattice: unknown lattice 'intervl'"):
        spec.gadget("add", "g", a=x, b=x, sum=None, lattice="intervl")
    with pytest.raises(SpecError, match=r"lattice: no port\(s\) total \(ports: a, b, sum\)"):
        spec.gadget("add", "g", a=x, b=x, sum=None, lattice={"total": "interval"})
    with pytest.raises(TypeError, match="expected a lattice name or a mapping"):
        spec.gadget("add", "g", a=x, b=x, sum=None, lattice=3)  # type: ignore[arg-type]
    assert "groups" not in spec.to_data()  # nothing of the refused calls was added


@pytest.mark.parametrize("directed", ["yes", 1, None, "false"])
def test_a_wire_is_directed_by_true_or_false_only(directed: Any) -> None:
    builder = SpecBuilder("d")
    a, b = builder.contact("a"), builder.contact("b")
    with pytest.raises(TypeError, match=r"^directed is True or False, not "):
        builder.wire(a, b, directed=directed)
    builder.wire(a, b, directed=True)
    assert builder.build().wires[0].type.value == "directed"
