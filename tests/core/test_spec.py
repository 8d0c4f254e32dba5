"""Loading and validating specs, both formats; hashing; the JSON Schema."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from bassline import SpecError, load_spec, validate_spec
from bassline.spec import MAX_SPEC_BYTES, Bassline, Boundary, WireType, parse_spec
from bassline.spec.load import read_at_most
from bassline.testing import strategies as bst

EXAMPLES = Path(__file__).parents[2] / "examples"


def problems(data: Any) -> list[str]:
    return [str(p) for p in validate_spec(data)]


def test_prototype_calculator_loads_and_converts() -> None:
    spec = load_spec(EXAMPLES / "calculator.json")
    assert spec.id == "calculator"
    assert spec.group("add-gadget").gadget == "add"
    assert spec.contact("add-sum").boundary is Boundary.OUTPUT
    assert spec.contact("result").has_content is False  # null meant "nothing yet"
    assert {w.type for w in spec.wires} == {WireType.DIRECTED}


@given(bst.specs())
def test_canonical_form_round_trips_with_the_same_hash(spec: Bassline) -> None:
    again = parse_spec(json.loads(spec.canonical_json()))
    assert again == spec
    assert again.hash == spec.hash


def test_hash_ignores_declaration_order() -> None:
    a = {"contacts": [{"id": "x"}, {"id": "y"}], "wires": [{"from": "x", "to": "y"}]}
    b = {"contacts": [{"id": "y"}, {"id": "x"}], "wires": [{"from": "x", "to": "y"}]}
    assert load_spec(a).hash == load_spec(b).hash
    c = {"contacts": [{"id": "y"}, {"id": "x", "content": 1}], "wires": [{"from": "x", "to": "y"}]}
    assert load_spec(c).hash != load_spec(a).hash


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    found = problems(
        {
            "id": "",
            "groups": [
                {"id": "g", "gadget": "addd"},
                {"id": "g"},
                {"id": "h", "parent": "nowhere"},
            ],
            "contacts": [
                {"id": "x", "group": "missing", "blend": "mrg"},
                {"id": "x"},
                {"id": "y", "lattice": "grow-sett"},
                {"id": "z", "blend": "accept-last", "lattice": "max"},
                {"id": "n", "content": float("nan")},
            ],
            "wires": [{"from": "x", "to": "ghost"}, {"from": "y", "to": "y"}, {"to": "x"}],
            "colour": "blue",
        }
    )
    expected = [
        "$.colour: unknown field",
        "$.id: id must not be empty",
        "$.groups[0].gadget: unknown gadget 'addd'; did you mean 'add'?",
        "$.groups[1].id: duplicate group id 'g'",
        "$.groups[2].parent: unknown group 'nowhere'",
        "$.contacts[0].group: unknown group 'missing'",
        "$.contacts[0].blend: unknown value 'mrg'",
        "$.contacts[1].id: duplicate contact id 'x'",
        "$.contacts[2].lattice: unknown lattice 'grow-sett'; did you mean 'grow-set'?",
        "$.contacts[3].lattice: a lattice needs blend 'merge'",
        "$.contacts[4].content: nan is not valid JSON",
        "$.wires[0].to: unknown contact 'ghost'",
        "$.wires[1]: wire connects contact 'y' to itself",
        "$.wires[2]: missing 'from'",
    ]
    for item in expected:
        assert any(p.startswith(item) for p in found), f"missing {item!r} in {found}"


def test_gadget_ports_must_match_by_name_exactly_once() -> None:
    found = problems(
        {
            "groups": [{"id": "adder", "gadget": "add"}],
            "contacts": [
                {"id": "p1", "group": "adder", "name": "a", "boundary": "input"},
                {"id": "p2", "group": "adder", "name": "a", "boundary": "input"},
                {"id": "p3", "group": "adder", "name": "summ", "boundary": "output"},
                {"id": "p4", "group": "adder", "name": "b", "boundary": "output"},
            ],
        }
    )
    assert any("already used by 'p1'" in p for p in found)
    assert any(
        "'summ' is not a port of gadget 'add'" in p and "did you mean 'sum'" in p for p in found
    )
    assert any("port 'b' of gadget 'add' must have boundary 'input'" in p for p in found)
    assert any("has no contact for port(s) sum" in p for p in found)


def test_group_cycles_are_reported() -> None:
    found = problems({"groups": [{"id": "a", "parent": "b"}, {"id": "b", "parent": "a"}]})
    assert any("groups form a cycle: a -> b -> a" in p for p in found)


def test_wires_must_respect_group_boundaries() -> None:
    base = {
        "groups": [{"id": "g1"}, {"id": "g2"}, {"id": "inner", "parent": "g1"}],
        "contacts": [
            {"id": "top"},
            {"id": "g1.in", "group": "g1", "boundary": "input"},
            {"id": "g1.private", "group": "g1"},
            {"id": "g2.in", "group": "g2", "boundary": "input"},
            {"id": "deep", "group": "inner", "boundary": "both"},
        ],
    }
    ok = [("top", "g1.in"), ("g1.in", "g2.in"), ("g1.private", "deep")]
    for a, b in ok:
        assert problems({**base, "wires": [{"from": a, "to": b}]}) == [], (a, b)
    bad = [("top", "g1.private"), ("g1.private", "g2.in"), ("top", "deep")]
    for a, b in bad:
        assert problems({**base, "wires": [{"from": a, "to": b}]}), (a, b)


def test_unknown_lattice_lists_installed_ones() -> None:
    found = problems({"contacts": [{"id": "x", "lattice": "nope"}]})
    assert "installed: defined, grow-map, grow-set, interval, max, min, shrink-set" in found[0]


def test_content_is_coerced_by_the_lattice_and_checked() -> None:
    spec = load_spec({"contacts": [{"id": "s", "lattice": "grow-set", "content": [2, 1]}]})
    from bassline.lattices import GrowSet

    assert spec.contact("s").content == GrowSet([1, 2])
    found = problems({"contacts": [{"id": "i", "lattice": "interval", "content": [3, 1]}]})
    assert found == [
        "$.contacts[0].content: not a valid interval value: the interval [3, 1] is empty"
    ]


def test_prototype_format_problems_use_the_files_own_paths() -> None:
    found = problems(
        {
            "groups": {"g": {"id": "g", "primitiveId": "add"}},
            "contacts": {"c": {"id": "c", "groupId": "g", "name": "a", "blendMode": "bad"}},
            "wires": {},
        }
    )
    assert "$.contacts[\"c\"].blendMode: unknown value 'bad'" in found[0]


def test_an_unknown_prototype_field_lists_the_fields_in_the_prototypes_names() -> None:
    """The list once named the native fields (blend, group, ...), as if the file's own
    blendMode and groupId were not allowed."""
    found = problems(
        {
            "groups": {"g": {"id": "g", "colour": 1}},
            "contacts": {"c": {"id": "c", "blendMode": "merge", "colour": 1}, "d": {}},
            "wires": {"w": {"fromId": "c", "toId": "d", "weight": 2}},
        }
    )
    assert found == [
        '$.groups["g"].colour: unknown field (allowed: attributes, id, name, parentId, '
        "primitiveId)",
        '$.contacts["c"].colour: unknown field (allowed: attributes, blendMode, '
        "boundaryDirection, content, groupId, id, isBoundary, lattice, name)",
        '$.wires["w"].weight: unknown field (allowed: fromId, id, toId, type)',
    ]


def test_file_errors_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{ nope")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(broken)
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(SpecError, match="expected an object, got array"):
        load_spec(array)


def test_a_spec_file_is_read_up_to_max_bytes(tmp_path: Path) -> None:
    """``load_spec`` read a file whole, whatever it was: ``/dev/zero`` until memory ran
    out. It reads at most ``max_bytes`` (default 1 GiB) and says so."""
    hint = "the most load_spec reads of a spec (raise it with max_bytes=N)"
    with pytest.raises(SpecError) as endless:
        load_spec("/dev/zero", max_bytes=3_000_000)
    assert [str(p) for p in endless.value.problems] == [f"$: more than 3,000,000 bytes, {hint}"]
    assert endless.value.source == "/dev/zero"
    spec = tmp_path / "n.json"
    spec.write_text('{"contacts": [{"id": "a"}]}')
    size = spec.stat().st_size
    with pytest.raises(SpecError, match=f"more than {size - 1} bytes"):
        load_spec(spec, max_bytes=size - 1)
    assert load_spec(spec, max_bytes=size).id == "n"
    assert [str(p) for p in validate_spec(spec, max_bytes=size - 1)] == [
        f"$: more than {size - 1} bytes, {hint}"
    ]
    assert MAX_SPEC_BYTES == 1 << 30


class _Counted(io.RawIOBase):
    """Endless zeros, counting what is read (no file descriptor: read, not sized)."""

    def __init__(self) -> None:
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = len(buffer)
        buffer[:n] = bytes(n)
        self.given += n
        return n


def test_read_at_most_reads_no_more_than_one_byte_past_the_limit(tmp_path: Path) -> None:
    stream = _Counted()
    assert read_at_most(stream, 3_000_000) is None  # type: ignore[arg-type]
    assert stream.given == 3_000_001
    assert read_at_most(io.BytesIO(b"12345"), 5) == b"12345"
    assert read_at_most(io.BytesIO(b"12345"), 4) is None
    big = tmp_path / "big"
    big.write_bytes(b"x" * 100)
    with open(big, "rb") as f:  # a regular file over the limit: refused by its size, unread
        assert read_at_most(f, 99) is None
        assert f.tell() == 0
    with pytest.raises(ValueError, match="0 or more"):
        read_at_most(io.BytesIO(b""), -1)


def test_an_integer_beyond_64_bits_in_a_file_is_named_not_rounded(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(
        '{"id": "n", "contacts": [{"id": "a", "content": 123456789012345678901234567890}]}'
    )
    with pytest.raises(
        SpecError, match=r"contacts\[0\]\.content: integer 1234567890123456789012345678"
    ):
        load_spec(path)


def test_endpoints_are_validated() -> None:
    found = problems(
        {
            "groups": [{"id": "g"}],
            "endpoints": {"g": {"node": "n1", "url": "ftp://x"}, "ghost": {"node": "n2"}},
        }
    )
    assert any("expected a ws://" in p for p in found)
    assert any("$.endpoints.ghost: unknown group 'ghost'" in p for p in found)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ws://[::1", "Invalid IPv6 URL"),
        ("ws://h:99999", "Port out of range"),
        ("ws://h:port", "Port could not be cast"),
        ("ws://:8455", "no host"),
        (" ws://h", "expected a ws://"),
        ("ws://h\n", "expected a ws://"),
        ("ws://h/a b", "expected a ws://"),
        ("WS://h", "expected a ws://"),
        # these passed, and the node refused to dial them (it logged an error and went on)
        ("https://u@h", "a node's URL has no query, fragment or credentials"),
        ("ws://h:1/?q=1", "a node's URL has no query, fragment or credentials"),
        ("ws://h:1#top", "a node's URL has no query, fragment or credentials"),
        ("ws://a..b:1", "its host 'a..b' is malformed: label empty or too long"),
        (f"ws://{'x' * 64}.example", "is malformed: label empty or too long"),
        # 2048 characters as written, 2051 with the port the node writes out: it validated,
        # and the node refused to dial it (every peer refuses a hello carrying it)
        ("ws://h/" + "a" * 2041, "at most 2048 characters in its ws:// form, with the port"),
        ("https://h/" + "a" * 2038, "as a node dials it; this one is 2050"),
    ],
)
def test_endpoint_urls_that_do_not_parse_are_spec_problems(url: str, why: str) -> None:
    spec = {"groups": [{"id": "g"}], "endpoints": {"g": {"node": "n", "url": url}}}
    found = problems(spec)  # never a ValueError from urllib
    assert len(found) == 1 and found[0].startswith("$.endpoints.g.url: ")
    assert why in found[0]


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ws://h",
        "wss://h:8455/x",
        "http://[::1]:80",
        "ws://h.example.:1",
        "ws://例え.jp",
        "ws://h:1/" + "a" * 2039,  # 2048 characters with its port
        "ws://h/" + "a" * 2038 + "/gossip/",  # the node dials ws://h:80/aaa...
    ],
)
def test_endpoint_urls_that_are_fine(url: str) -> None:
    assert problems({"groups": [{"id": "g"}], "endpoints": {"g": {"node": "n", "url": url}}}) == []


@pytest.mark.parametrize(("data", "kind"), [([], "array"), (None, "null"), (5, "integer")])
def test_load_spec_of_data_that_is_not_an_object_is_a_spec_error(data: Any, kind: str) -> None:
    with pytest.raises(SpecError, match=f"expected an object, got {kind}"):
        load_spec(data)
    assert problems(data) == [f"$: expected an object, got {kind}"]


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"contacts": [{"id": "a\ud800"}]}, "$.contacts[0].id"),
        ({"contacts": [{"id": "a", "name": "\udfff"}]}, "$.contacts[0].name"),
        ({"contacts": [{"id": "a", "content": ["\ud800"]}]}, "$.contacts[0].content"),
        ({"contacts": [{"id": "a", "content": {"\ud800": 1}}]}, "$.contacts[0].content"),
        ({"metadata": {"note": "\ud800"}}, "$.metadata"),
        ({"version": "\ud800"}, "$.version"),
    ],
)
def test_lone_surrogates_are_spec_problems_not_specs_that_cannot_be_hashed(
    spec: dict[str, Any], path: str
) -> None:
    found = problems(spec)
    assert len(found) == 1 and found[0].startswith(f"{path}: ")
    assert "surrogate" in found[0]


def test_a_prototype_item_whose_id_is_not_its_key_is_reported() -> None:
    found = problems({"contacts": {"a": {"id": "b"}, "c": {"id": "c"}}, "wires": {}})
    assert found == ["$.contacts[\"a\"].id: id 'b' does not match its key 'a'"]


@pytest.mark.parametrize(("version", "expected"), [(2, "2"), (2.0, "2"), ("2.0", "2.0")])
def test_an_integer_version_may_be_written_as_a_whole_number(version: Any, expected: str) -> None:
    # JSON Schema's "integer" accepts 2.0, so the loader does too
    assert load_spec({"version": version}).version == expected
    assert problems({"version": 2.5}) == ["$.version: expected a string, got number"]


def test_an_empty_version_is_refused_not_taken_as_the_default() -> None:
    """``"version": ""`` silently became version "1" (left out, or null, still does)."""
    assert problems({"version": ""}) == [
        '$.version: must not be empty (leave it out, or null, for the default version "1")'
    ]
    assert load_spec({}).version == load_spec({"version": None}).version == "1"


def test_a_derived_wire_id_longer_than_an_id_round_trips_through_the_canonical_form() -> None:
    a, b = "a" * 200, "b" * 200
    spec = load_spec({"contacts": [{"id": a}, {"id": b}], "wires": [{"from": a, "to": b}]})
    assert len(spec.wires[0].id) == 402
    again = parse_spec(json.loads(spec.canonical_json()))  # every wire's id written out
    assert again == spec and again.hash == spec.hash
    found = problems(
        {
            "contacts": [{"id": "a"}, {"id": "b"}],
            "wires": [{"id": "w" * 403, "from": "a", "to": "b"}],
        }
    )
    assert found == ["$.wires[0].id: id is 403 characters long (at most 402)"]


# Specs in both formats touching every field, and their hashes as release 0.3.0 computed
# them: a spec written before compound parts must keep its hash (peers and stored networks
# compare it).
_PINNED_NATIVE: dict[str, Any] = {
    "format": "bassline/1",
    "id": "n",
    "version": 2,
    "metadata": {"author": "ada"},
    "groups": [
        {"id": "g", "name": "G", "parent": "root", "attributes": {"bassline.tags": ["t"]}},
        {"id": "adder", "parent": "g", "gadget": "add"},
    ],
    "contacts": [
        {"id": "a", "name": "a", "content": 1, "attributes": {"k": [1]}},
        {"id": "b", "group": "g", "boundary": "input", "lattice": "max", "content": 3},
        {"id": "s", "lattice": "grow-set", "content": ["y", "x"]},
        {"id": "i", "lattice": "interval", "content": [1, 2.5]},
        {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
        {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
        {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
    ],
    "wires": [
        {"id": "w", "from": "a", "to": "b", "type": "directed"},
        {"from": "b", "to": "adder.a"},
    ],
    "endpoints": {"adder": {"node": "n1", "url": "ws://h:1"}},
}
_PINNED_PROTOTYPE: dict[str, Any] = {
    "id": "proto",
    "groups": {"add-gadget": {"id": "add-gadget", "name": "Adder", "primitiveId": "add"}},
    "contacts": {
        "x": {"id": "x", "groupId": "root", "blendMode": "accept-last", "content": 5},
        "y": {"id": "y", "content": None},
        "add-a": {
            "id": "add-a",
            "groupId": "add-gadget",
            "name": "a",
            "isBoundary": True,
            "boundaryDirection": "input",
        },
        "add-b": {
            "id": "add-b",
            "groupId": "add-gadget",
            "name": "b",
            "isBoundary": True,
            "boundaryDirection": "input",
        },
        "add-sum": {
            "id": "add-sum",
            "groupId": "add-gadget",
            "name": "sum",
            "isBoundary": True,
            "boundaryDirection": "output",
        },
    },
    "wires": {"w1": {"id": "w1", "fromId": "x", "toId": "add-a", "type": "directed"}},
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_PINNED_NATIVE, "67f4ca35934139594caf279b37354f21c208f63b58e131498455d7ed39a2688e"),
        (_PINNED_PROTOTYPE, "ac950aa1f0aa16c4e72ad39154174a52b15f04700be6b54184e4669061729596"),
    ],
)
def test_specs_written_before_parts_keep_their_hash(data: dict[str, Any], expected: str) -> None:
    assert load_spec(data).hash == expected


def test_each_cycle_of_parents_is_reported_once_from_wherever_it_is_reached() -> None:
    groups = [
        {"id": "x", "parent": "b"},  # leads into the cycle a -> b -> c -> a
        {"id": "b", "parent": "c"},
        {"id": "a", "parent": "b"},
        {"id": "c", "parent": "a"},
        {"id": "y", "parent": "x"},
        {"id": "p", "parent": "q"},  # a second cycle
        {"id": "q", "parent": "p"},
        {"id": "fine"},
        {"id": "under", "parent": "fine"},
    ]
    problems = [f"{p.path}: {p.message}" for p in validate_spec({"groups": groups})]
    assert problems == [
        "$.groups[2].parent: groups form a cycle: b -> c -> a -> b",
        "$.groups[5].parent: groups form a cycle: p -> q -> p",
    ]


class _CountingGroups(dict[str, Any]):
    """The parsed groups, counting each lookup of one."""

    lookups = 0

    def __getitem__(self, key: str) -> Any:
        type(self).lookups += 1
        return super().__getitem__(key)


def test_a_deep_chain_of_groups_is_checked_in_steps_linear_in_its_length() -> None:
    """Each group's ancestry was walked to the root with a list as the visited set:
    ``n * depth**2`` steps, 14 s to load 1,600 nested groups (and hours for 20,000)."""
    from bassline.spec.checker import Checker
    from bassline.spec.items import _check_tree
    from bassline.spec.model import GroupSpec

    n = 2_000
    chain = _CountingGroups(
        {
            f"g{i}": (f"$.groups[{i}]", GroupSpec(id=f"g{i}", parent=f"g{i - 1}" if i else None))
            for i in range(n)
        }
    )
    ck = Checker()
    _check_tree(ck, chain)
    assert ck.problems == [] and chain.lookups <= 2 * n


def test_did_you_mean_hints_compare_a_bounded_number_of_ids_in_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each hint compares the unknown id with every known one: 5,000 wires to unknown
    contacts among 5,000 contacts took 67 s to report. The first hints are still given."""
    from bassline.spec import checker

    compared: list[int] = []
    real = checker.closest

    def counting(name: str, candidates: list[str]) -> str | None:
        compared.append(len(candidates))
        return real(name, candidates)

    monkeypatch.setattr(checker, "closest", counting)
    n = 1_000
    spec = {
        "contacts": [{"id": f"contact-{i}"} for i in range(n)],
        "wires": [{"from": f"contact-{i}", "to": f"contakt-{i}"} for i in range(n)],
    }
    problems = validate_spec(spec)
    assert len(problems) == n
    assert problems[0].message == "unknown contact 'contakt-0'; did you mean 'contact-0'?"
    assert problems[-1].message == f"unknown contact 'contakt-{n - 1}'"
    assert sum(compared) <= checker.SUGGESTION_BUDGET
