"""Compound parts in the spec: defined once, used many times, expanded when the spec loads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bassline.spec.expand
from bassline import Network, SpecError, load_spec, validate_spec
from bassline.lattices import Interval
from bassline.spec import PART_ATTRIBUTE, Boundary, WireType, parse_spec
from bassline.storage import open_storage, stored_spec_hash

EXAMPLES = Path(__file__).parents[2] / "examples"


def problems(data: Any) -> list[str]:
    return [str(p) for p in validate_spec(data)]


def only_problem(data: Any) -> str:
    found = problems(data)
    assert len(found) == 1, found
    with pytest.raises(SpecError):  # and nothing is loaded
        load_spec(data)
    return found[0]


def adder_part() -> dict[str, Any]:
    """sum = a + b, with one port of each direction."""
    return {
        "ports": [
            {"id": "a", "boundary": "input"},
            {"id": "b"},
            {"id": "sum", "boundary": "output", "lattice": "max"},
        ],
        "groups": [{"id": "add", "gadget": "add"}],
        "contacts": [
            {"id": "add.a", "group": "add", "name": "a", "boundary": "input"},
            {"id": "add.b", "group": "add", "name": "b", "boundary": "input"},
            {"id": "add.sum", "group": "add", "name": "sum", "boundary": "output"},
        ],
        "wires": [
            {"from": "a", "to": "add.a", "type": "directed"},
            {"from": "b", "to": "add.b", "type": "directed"},
            {"id": "out", "from": "add.sum", "to": "sum", "type": "directed"},
        ],
    }


def two_adders() -> dict[str, Any]:
    return {
        "format": "bassline/1",
        "id": "adders",
        "parts": {"adder": adder_part()},
        "contacts": [{"id": "x", "content": 1}, {"id": "y"}, {"id": "z"}, {"id": "t"}],
        "uses": [
            {"id": "first", "part": "adder", "ports": {"a": "x", "b": "y", "sum": "z"}},
            {
                "id": "second",
                "part": "adder",
                "name": "Second adder",
                "attributes": {"bassline.tags": ["b"]},
                "ports": {"a": "z", "b": "y", "sum": "t"},
            },
        ],
    }


# ------------------------------------------------------------------ expansion


def test_each_use_expands_into_an_ordinary_group_with_namespaced_ids() -> None:
    spec = load_spec(two_adders())
    first = spec.group("first")
    assert (first.parent, first.name, first.gadget) == ("root", "first", None)
    assert first.attributes == {PART_ATTRIBUTE: "adder"}
    second = spec.group("second")
    assert second.name == "Second adder"
    assert second.attributes == {"bassline.tags": ["b"], PART_ATTRIBUTE: "adder"}
    inner = spec.group("first/add")
    assert (inner.parent, inner.gadget, inner.name) == ("first", "add", "add")
    # ports are boundary contacts of the instance's group, named by the port
    port = spec.contact("first/sum")
    assert (port.group, port.name, port.boundary, port.lattice) == (
        "first",
        "sum",
        Boundary.OUTPUT,
        "max",
    )
    assert spec.contact("first/b").boundary is Boundary.BOTH  # the default direction
    assert spec.contact("second/add.a").name == "a"  # the gadget port keeps its name
    wires = {w.id: w for w in spec.wires}
    # a wire without an id gets FROM->TO of its expanded ends; an id is prefixed
    assert wires["first/a->first/add.a"].type is WireType.DIRECTED
    assert wires["first/out"].source == "first/add.sum"
    # a port is wired to the contact it is bound to, the way its direction says
    assert wires["x->first/a"].type is WireType.DIRECTED  # input: from outside in
    assert wires["first/sum->z"].type is WireType.DIRECTED  # output: from inside out
    assert wires["y->first/b"].type is WireType.BIDIRECTIONAL  # both
    assert len(spec.groups) == 1 + 2 * 2
    assert len(spec.contacts) == 4 + 2 * 6


def test_instances_compute_each_on_their_own() -> None:
    net = Network(two_adders())
    net.update_contact("y", 2)
    assert (net.value("z"), net.value("t")) == (3, 5)
    net.update_contact("x", 10)
    assert (net.value("z"), net.value("t")) == (12, 14)


def test_the_rooms_example_converts_both_ways_in_every_room() -> None:
    net = Network(EXAMPLES / "rooms.json")
    assert net.value("kitchen-f") == 68
    assert net.value("hall-c") == 10
    net.update_contact("attic-f", 212)
    assert net.value("attic-c") == 100
    assert net.value("kitchen-c") == 20  # the rooms do not share anything
    assert {g.attributes.get(PART_ATTRIBUTE) for g in net.spec.groups if "/" not in g.id} == {
        "c-to-f",
        None,
    }


def test_parts_use_other_parts_and_their_ids_nest() -> None:
    data = {
        "parts": {
            "adder": adder_part(),
            "sum3": {
                "ports": [{"id": "p"}, {"id": "q"}, {"id": "r"}, {"id": "total"}],
                "contacts": [{"id": "partial"}],
                "uses": [
                    {"id": "one", "part": "adder", "ports": {"a": "p", "b": "q", "sum": "partial"}},
                    {
                        "id": "two",
                        "part": "adder",
                        "ports": {"a": "partial", "b": "r", "sum": "total"},
                    },
                ],
            },
        },
        "contacts": [
            {"id": "a", "content": 1},
            {"id": "b", "content": 2},
            {"id": "c"},
            {"id": "s"},
        ],
        "uses": [
            {"id": "s3", "part": "sum3", "ports": {"p": "a", "q": "b", "r": "c", "total": "s"}}
        ],
    }
    spec = load_spec(data)
    assert spec.group("s3/two").parent == "s3"
    assert spec.group("s3/two/add").parent == "s3/two"
    assert spec.group("s3/two").attributes[PART_ATTRIBUTE] == "adder"
    assert "s3/partial->s3/two/a" in {w.id for w in spec.wires}
    net = Network(spec)
    net.update_contact("c", 4)
    assert net.value("s") == 7


def test_a_port_bound_to_null_is_left_unconnected() -> None:
    data = two_adders()
    data["uses"][0]["ports"]["sum"] = None
    spec = load_spec(data)
    assert [w.id for w in spec.wires if "first/sum" in (w.source, w.target)] == ["first/out"]
    net = Network(spec)
    net.update_contact("y", 2)
    assert net.value("first/sum") == 3 and net.value("z", None) is None


def test_uses_can_sit_in_a_group_and_ports_can_join_sibling_instances() -> None:
    data = two_adders()
    data["groups"] = [{"id": "box"}]
    data["contacts"].append({"id": "inside", "group": "box"})
    data["uses"] = [
        {
            "id": "p1",
            "part": "adder",
            "parent": "box",
            "ports": {"a": "inside", "b": None, "sum": None},
        },
        {
            "id": "p2",
            "part": "adder",
            "parent": "box",
            "ports": {"a": "p1/sum", "b": None, "sum": None},
        },
    ]
    spec = load_spec(data)
    assert spec.group("p2").parent == "box"
    assert "p1/sum->p2/a" in {w.id for w in spec.wires}  # output to input, one way


def test_endpoints_can_name_an_instance_or_a_group_inside_one() -> None:
    data = two_adders()
    data["endpoints"] = {"first": {"node": "n1"}, "second/add": {"node": "n2"}}
    spec = load_spec(data)
    assert spec.endpoints["second/add"].node == "n2"


# ------------------------------------------------------------------ canonical form and hash


def test_the_hash_is_the_hash_of_the_expansion() -> None:
    spec = load_spec(two_adders())
    written_out = json.loads(spec.canonical_json())  # the expansion, by hand as it were
    assert "parts" not in written_out and "uses" not in written_out
    again = parse_spec(written_out)
    assert again == spec and again.hash == spec.hash
    reordered = two_adders()
    reordered["uses"].reverse()
    reordered["parts"]["adder"]["contacts"].reverse()
    assert load_spec(reordered).hash == spec.hash
    changed = two_adders()
    changed["parts"]["adder"]["ports"][1]["lattice"] = "max"
    assert load_spec(changed).hash != spec.hash


def reference_expand(data: dict[str, Any]) -> dict[str, Any]:
    """A naive expansion written from docs/spec-format.md's rules, to check the loader's."""
    parts = data.get("parts", {})

    def level(
        body: dict[str, Any], pre: str, own: str, top: bool
    ) -> tuple[list[Any], list[Any], list[Any]]:
        def group_of(local: str | None) -> str:
            return own if local in (None, "root") else pre + local

        groups = [
            {
                **g,
                "id": pre + g["id"],
                "parent": group_of(g.get("parent")),
                "name": g.get("name", g["id"]),
            }
            for g in body.get("groups", [])
        ]
        contacts = [
            {
                **p,
                "id": pre + p["id"],
                "group": own,
                "name": p["id"],
                "boundary": p.get("boundary") or "both",
            }
            for p in body.get("ports", [])
        ]
        for c in body.get("contacts", []):
            item = {**c, "id": pre + c["id"], "group": group_of(c.get("group"))}
            if not top:
                item["name"] = c.get("name") or c["id"]
            contacts.append(item)
        wires = []
        for w in body.get("wires", []):
            src, dst = pre + w["from"], pre + w["to"]
            wires.append(
                {**w, "id": pre + w["id"] if "id" in w else f"{src}->{dst}", "from": src, "to": dst}
            )
        for use in body.get("uses", []):
            part = parts[use["part"]]
            uid = pre + use["id"]
            attributes = {**part.get("attributes", {}), **use.get("attributes", {})}
            groups.append(
                {
                    "id": uid,
                    "parent": group_of(use.get("parent")),
                    "name": use.get("name") or use["id"],
                    "attributes": {**attributes, "bassline.part": use["part"]},
                }
            )
            g, c, w = level(part, uid + "/", uid, top=False)
            groups += g
            contacts += c
            wires += w
            direction = {p["id"]: p.get("boundary") or "both" for p in part.get("ports", [])}
            for port, target in use.get("ports", {}).items():
                if target is None:
                    continue
                inner, outer = f"{uid}/{port}", pre + target
                src, dst = (inner, outer) if direction[port] == "output" else (outer, inner)
                kind = "bidirectional" if direction[port] == "both" else "directed"
                wires.append({"id": f"{src}->{dst}", "from": src, "to": dst, "type": kind})
        return groups, contacts, wires

    groups, contacts, wires = level(data, "", "root", top=True)
    rest = {k: v for k, v in data.items() if k not in ("parts", "uses")}
    return {**rest, "groups": groups, "contacts": contacts, "wires": wires}


_NAMES = st.sampled_from(["a", "b", "c", "x.y", "n/m", "ü"])


@st.composite
def _level(draw: st.DrawFn, parts: dict[str, Any], *, top: bool) -> dict[str, Any]:
    """One level (a part's definition or the top): ports, contacts, a gadget, wires, uses."""
    body: dict[str, Any] = {}
    local: list[str] = []  # contacts of the level's own group, which anything may wire to
    if not top:
        ports = draw(st.lists(_NAMES, min_size=1, max_size=3, unique=True))
        body["ports"] = []
        for p in ports:
            port: dict[str, Any] = {"id": f"p{p}"}
            boundary = draw(st.sampled_from([None, "input", "output", "both"]))
            if boundary:
                port["boundary"] = boundary
            if draw(st.booleans()):
                port["lattice"] = "max"
            body["ports"].append(port)
            local.append(f"p{p}")
    contacts = []
    for name in draw(st.lists(_NAMES, max_size=3, unique=True)):
        contact: dict[str, Any] = {"id": f"c{name}"}
        kind = draw(st.sampled_from(["plain", "max", "set", "named"]))
        if kind == "max":
            contact |= {"lattice": "max", "content": draw(st.integers(-5, 5))}
        elif kind == "set":
            contact |= {"lattice": "grow-set", "content": draw(st.lists(st.integers(0, 3)))}
        elif kind == "named":
            contact["name"] = "label"
        contacts.append(contact)
        local.append(contact["id"])
    wires: list[dict[str, Any]] = []
    if draw(st.booleans()) and local:
        body["groups"] = [{"id": "g", "gadget": "abs"}]
        contacts += [
            {"id": "g.value", "group": "g", "name": "value", "boundary": "input"},
            {"id": "g.result", "group": "g", "name": "result", "boundary": "output"},
        ]
        wires.append({"from": draw(st.sampled_from(local)), "to": "g.value", "type": "directed"})
    body["contacts"] = contacts
    if len(local) >= 2:
        pairs = draw(
            st.lists(st.tuples(st.sampled_from(local), st.sampled_from(local)), max_size=3)
        )
        seen = set()
        for i, (a, b) in enumerate(pairs):
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                wire: dict[str, Any] = {"from": a, "to": b}
                if draw(st.booleans()):
                    wire["id"] = f"w{i}"
                if draw(st.booleans()):
                    wire["type"] = "directed"
                wires.append(wire)
    body["wires"] = wires
    uses = []
    siblings: list[str] = []  # ports of earlier uses at this level
    if parts:
        for i, name in enumerate(draw(st.lists(st.sampled_from(sorted(parts)), max_size=3))):
            uid = f"u{i}"
            targets = local + siblings
            ports = {}
            for port in parts[name]["ports"]:
                if targets and draw(st.booleans()):
                    ports[port["id"]] = draw(st.sampled_from(targets))
                else:
                    ports[port["id"]] = None
            use: dict[str, Any] = {"id": uid, "part": name, "ports": ports}
            if draw(st.booleans()):
                use["attributes"] = {"k": i}
            uses.append(use)
            siblings += [f"{uid}/{p['id']}" for p in parts[name]["ports"]]
    body["uses"] = uses
    if not top and draw(st.booleans()):
        body["attributes"] = {"bassline.tags": ["part"], "k": "part"}  # a use's "k" wins
    return body


@st.composite
def specs_with_parts(draw: st.DrawFn) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 3))):
        parts[f"part{i}"] = draw(_level(dict(parts), top=False))  # uses only earlier parts
    return {"id": "n", "parts": parts, **draw(_level(parts, top=True))}


@given(specs_with_parts())
def test_loading_a_spec_with_parts_equals_loading_its_expansion_written_out(
    data: dict[str, Any],
) -> None:
    spec = load_spec(copy.deepcopy(data))
    expected = load_spec(reference_expand(data))
    assert spec.canonical_json() == expected.canonical_json()
    assert spec.hash == expected.hash


# ------------------------------------------------------------------ bad input


def test_a_part_that_uses_itself_is_refused_with_the_path_of_the_use() -> None:
    data = {"parts": {"loop": {"uses": [{"id": "again", "part": "loop"}]}}}
    assert only_problem(data) == "$.parts.loop.uses[0].part: part 'loop' uses itself: loop -> loop"


def test_parts_that_use_each_other_are_refused_once_per_cycle() -> None:
    data = {
        "parts": {
            "a": {"ports": [{"id": "x"}], "uses": [{"id": "b1", "part": "b", "ports": {"y": "x"}}]},
            "b": {"ports": [{"id": "y"}], "uses": [{"id": "c1", "part": "c", "ports": {}}]},
            "c": {"uses": [{"id": "a1", "part": "a", "ports": {"x": None}}]},
        },
        "contacts": [{"id": "top"}],
        "uses": [{"id": "k", "part": "a", "ports": {"x": "top"}}],
        "wires": [{"from": "k/x", "to": "top", "id": "w"}],  # a port of it is still known
    }
    assert only_problem(data) == "$.parts.c.uses[0].part: part 'a' uses itself: a -> b -> c -> a"


def test_a_use_must_bind_every_port_and_only_ports() -> None:
    data = two_adders()
    data["uses"][0]["ports"] = {"a": "x", "summ": "z"}
    found = problems(data)
    assert found == [
        "$.uses[0].ports: missing port(s) b, sum of part 'adder' (bind every port to a "
        "contact id, or to null to leave it unconnected)",
        "$.uses[0].ports.summ: part 'adder' has no port 'summ' (ports: a, b, sum); "
        "did you mean 'sum'?",
    ]
    with pytest.raises(SpecError):
        load_spec(data)
    no_ports = two_adders()
    del no_ports["uses"][1]["ports"]
    assert only_problem(no_ports).startswith("$.uses[1].ports: missing port(s) a, b, sum")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (  # a contact written out by hand where an instance puts one
            lambda d: d["contacts"].append({"id": "first/add.a"}),
            "$.uses[0].id: this instance of part 'adder' expands to ids that are already taken:"
            " contact 'first/add.a' (already at $.contacts[4])",
        ),
        (  # an instance id that is already a group
            lambda d: d.setdefault("groups", []).append({"id": "second"}),
            "$.uses[1].id: this instance of part 'adder' expands to ids that are already taken:"
            " group 'second' (already at $.groups[0])",
        ),
        (  # two uses with one id
            lambda d: d["uses"][1].update(id="first"),
            "$.uses[1].id: this instance of part 'adder' expands to ids that are already taken:"
            " group 'first' (already at $.uses[0]), group 'first/add' (already at $.uses[0]),"
            " contact 'first/a' (already at $.uses[0]), and 8 more",
        ),
        (  # a wire written by hand with the id an instance gives one of its wires
            lambda d: d["wires"].append({"id": "first/out", "from": "x", "to": "y"}),
            "$.wires[0].id: duplicate wire id 'first/out' (first at $.uses[0])",
        ),
        (  # a contact whose id is an instance's group
            lambda d: d["contacts"].append({"id": "second"}),
            "$.contacts[4].id: contact id 'second' is also a group id",
        ),
    ],
)
def test_an_expanded_id_that_collides_with_another_is_refused(change: Any, expected: str) -> None:
    data = two_adders()
    data.setdefault("wires", [])
    change(data)
    assert only_problem(data) == expected


def test_instances_whose_expansions_meet_are_refused() -> None:
    # "a" holds "b/c" (its own contact) and "a/b" holds "c": both are "a/b/c"
    data = {
        "parts": {"one": {"contacts": [{"id": "b/c"}]}, "two": {"contacts": [{"id": "c"}]}},
        "uses": [{"id": "a", "part": "one"}, {"id": "a/b", "part": "two"}],
    }
    assert only_problem(data) == (
        "$.uses[1].id: this instance of part 'two' expands to ids that are already taken:"
        " contact 'a/b/c' (already at $.uses[0])"
    )


def test_a_problem_inside_a_definition_is_reported_once_at_its_path() -> None:
    data = two_adders()
    data["parts"]["adder"]["contacts"][0]["lattice"] = "maxx"
    data["parts"]["adder"]["wires"][0]["to"] = "add.c"
    data["uses"].append(
        {"id": "third", "part": "adder", "ports": {"a": None, "b": None, "sum": None}}
    )
    found = problems(data)
    assert len(found) == 2, found
    assert found[0].startswith(
        "$.parts.adder.contacts[0].lattice: unknown lattice 'maxx'; did you mean 'max'?"
    )
    assert found[1].startswith("$.parts.adder.wires[0].to: unknown contact 'add.c'")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["uses"][0].update(part="addr"),
            "$.uses[0].part: unknown part 'addr'; did you mean 'adder'?",
        ),
        (
            lambda d: d["uses"][0].pop("part"),
            "$.uses[0]: missing 'part' (the name of the part to use)",
        ),
        (
            lambda d: d["uses"][0].update(parent="nowhere"),
            "$.uses[0].parent: unknown group 'nowhere'",
        ),
        (
            lambda d: d["uses"][0].update(ports=["x"]),
            "$.uses[0].ports: expected an object (port name -> contact id or null), got array",
        ),
        (
            lambda d: d["uses"][0]["ports"].update(a="ghost"),
            "$.uses[0].ports.a: unknown contact 'ghost'",
        ),
        (
            lambda d: d["uses"][0]["ports"].update(a=5),
            "$.uses[0].ports.a: expected a string id, got integer",
        ),
        (lambda d: d["uses"][0].update(colour="red"), "$.uses[0].colour: unknown field"),
        (lambda d: d["parts"]["adder"].update(colour="red"), "$.parts.adder.colour: unknown field"),
        (
            lambda d: d["parts"]["adder"]["ports"][0].update(group="add"),
            "$.parts.adder.ports[0].group: unknown field",
        ),
        (
            lambda d: d["parts"]["adder"]["groups"].append({"id": "root"}),
            "$.parts.adder.groups[1].id: inside a part, 'root' is the part's own group",
        ),
        (
            lambda d: d.update(parts=[]),
            "$.parts: expected an object (part name -> definition), got array",
        ),
        (
            lambda d: d["parts"].update(broken=5),
            "$.parts.broken: expected an object (a part definition)",
        ),
        (lambda d: d["parts"].update({"": {}}), "$.parts.: id must not be empty"),
        (  # encapsulation: from outside, only an instance's ports can be wired
            lambda d: d["wires"].append({"from": "x", "to": "first/add.a"}),
            "$.wires[0]: a wire from group 'root' to group 'first/add' crosses more than one level",
        ),
        (  # nor can something be put inside an instance from outside
            lambda d: d["contacts"].append({"id": "extra", "group": "first"}),
            "$.contacts[4].group: unknown group 'first'",
        ),
        (  # a port is bound to a contact of the instance's parent group or a sibling's port
            lambda d: (
                d.setdefault("groups", []).append({"id": "box"}),
                d["contacts"].append({"id": "inside", "group": "box"}),
                d["uses"][0]["ports"].update(a="inside"),
            ),
            "$.uses[0].ports.a: wires between sibling groups join boundary contacts; ['inside']",
        ),
        (
            lambda d: (
                d.setdefault("groups", []).extend([{"id": "box"}, {"id": "in", "parent": "box"}]),
                d["contacts"].append({"id": "deep", "group": "in", "boundary": "both"}),
                d["uses"][0]["ports"].update(a="deep"),
            ),
            "$.uses[0].ports.a: a wire from group 'in' to group 'first' crosses more than one level",
        ),
        (
            lambda d: d["parts"]["adder"]["wires"][2].update(id="w" * 400),
            "$.uses[0].id: wire ids inside this instance of part 'adder' would be up to 406",
        ),
        (  # a port is bound at the use's level, never to a contact inside the instance
            lambda d: d["uses"][0]["ports"].update(a="first/add.a"),
            "$.uses[0].ports.a: contact 'first/add.a' is inside this instance",
        ),
        (
            lambda d: d["uses"][0]["ports"].update(a="first/b"),
            "$.uses[0].ports.a: contact 'first/b' is inside this instance",
        ),
        (
            lambda d: d["uses"][0].update(id="i" * 195),
            "$.uses[0].id: ids inside this instance of part 'adder' would be up to 203 characters",
        ),
    ],
)
def test_use_and_definition_problems_name_their_path(change: Any, expected: str) -> None:
    data = two_adders()
    data.setdefault("wires", [])
    change(data)
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found
    with pytest.raises(SpecError):
        load_spec(data)


def test_a_long_instance_id_fits_until_an_expanded_id_is_too_long() -> None:
    data = two_adders()
    data["uses"][0]["id"] = "i" * (200 - len("/add.sum"))  # the longest inner id is add.sum
    assert problems(data) == []
    data["uses"][0]["id"] += "i"
    assert problems(data)[0].startswith("$.uses[0].id: ids inside this instance")


def test_definitions_that_double_at_every_level_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bassline.spec.expand, "MAX_EXPANDED", 1000)
    parts: dict[str, Any] = {"p0": {"contacts": [{"id": "c"}]}}
    for i in range(1, 12):
        parts[f"p{i}"] = {
            "uses": [{"id": "l", "part": f"p{i - 1}"}, {"id": "r", "part": f"p{i - 1}"}]
        }
    data = {"parts": parts, "uses": [{"id": "top", "part": "p11"}]}
    found = problems(data)
    assert found[0].startswith(
        "$.parts.p9.uses[1]: the uses of parts here expand to more than 1,000"
    )
    assert len(found) == 1


def test_parts_need_the_native_format() -> None:
    data = {"contacts": {"a": {}}, "parts": {}, "uses": []}
    assert problems(data) == [
        '$.parts: parts need the native format (groups, contacts and wires as arrays, "format": '
        '"bassline/1")',
        '$.uses: parts need the native format (groups, contacts and wires as arrays, "format": '
        '"bassline/1")',
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (["low", 2], "not a valid interval value: lo must be a number or null, got 'low'"),
        ([True, 2], "not a valid interval value: lo must be a number or null, got True"),
        ([3, 1], "not a valid interval value: the interval [3, 1] is empty"),
        ([float("nan"), 1], "nan is not valid JSON (only finite numbers) at [0]"),
        ({"lo": 1, "hi": float("nan")}, "nan is not valid JSON (only finite numbers) at .hi"),
        ({"$type": "interval", "value": [3, 1]}, "the interval [3, 1] is empty (lo > hi)"),
        ({"$type": "interval", "value": [1, "x"]}, "malformed interval value: hi must be a number"),
    ],
)
@pytest.mark.parametrize("where", ["top", "contact in part", "port"])
def test_interval_bounds_are_checked_with_their_path(
    content: Any, message: str, where: str
) -> None:
    item = {"id": "i", "lattice": "interval", "content": content}
    if where == "top":
        data: dict[str, Any] = {"contacts": [item]}
        path = "$.contacts[0].content"
    elif where == "contact in part":
        data = {"parts": {"p": {"contacts": [item]}}}
        path = "$.parts.p.contacts[0].content"
    else:
        data = {"parts": {"p": {"ports": [item]}}}
        path = "$.parts.p.ports[0].content"
    assert only_problem(data).startswith(f"{path}: {message}")


def test_an_empty_interval_is_refused_as_content_of_any_contact() -> None:
    tagged = {"$type": "interval", "value": [3, 1]}
    found = problems({"contacts": [{"id": "i"}, {"id": "j", "content": {"k": [1, tagged]}}]})
    assert found == ["$.contacts[1].content: the interval [3, 1] is empty (lo > hi) at .k[1]"]
    spec = load_spec({"contacts": [{"id": "i", "content": Interval(1, 1)}]})
    assert spec.contact("i").content == Interval(1, 1)


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["memory", "file"])
async def test_storage_keeps_the_expansion_and_its_hash(scheme: str, tmp_path: Path) -> None:
    spec = load_spec(EXAMPLES / "rooms.json")
    url = f"memory://parts-{tmp_path.name}" if scheme == "memory" else f"file://{tmp_path}"
    async with open_storage(url) as storage:
        (await storage.save_network(spec)).unwrap()
        back = (await storage.load_network(spec.id)).unwrap()
        assert (await stored_spec_hash(storage, spec.id)).unwrap() == spec.hash
    assert back == spec and back.hash == spec.hash
    assert back.group("attic").attributes[PART_ATTRIBUTE] == "c-to-f"
