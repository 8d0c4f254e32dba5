"""The built-in gadget catalogue, exercised through the public registry API."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.errors import PluginNotFound
from bassline.gadgets import (
    Gadget,
    UnusableInput,
    gadget,
    gadgets,
    get_gadget,
    register_gadget,
)
from bassline.gadgets.catalogue import BUILTIN_GADGETS
from bassline.lattices import get_lattice
from bassline.lattices.values import GrowSet, Interval

INACTIVE = object()
"""What :func:`run` returns when the gadget's activation does not hold."""

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
json_scalars |= st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


def run(gadget_id: str, **inputs: Any) -> Any:
    """The outputs of ``gadget_id`` on ``inputs``, or INACTIVE if it would not fire."""
    g = get_gadget(gadget_id)
    if not g.is_active(inputs):
        return INACTIVE
    return dict(g.run(inputs))


def unusable(gadget_id: str, port: str, kind: str, **inputs: Any) -> None:
    """Content on ``port`` is of a kind the gadget cannot compute with: an UnusableInput
    (what the engine records as a failure naming the port and the kind), never a no-fire."""
    g = get_gadget(gadget_id)
    with pytest.raises(UnusableInput) as caught:
        g.check(inputs)
    assert (caught.value.gadget, caught.value.port, caught.value.kind) == (gadget_id, port, kind)
    assert f"port {port!r} got {kind}" in str(caught.value)
    with pytest.raises(UnusableInput):
        g.run(inputs)  # run checks the kinds too


def fails(gadget_id: str, match: str, **inputs: Any) -> None:
    """The gadget is active on ``inputs`` but its body raises ValueError matching ``match``."""
    g = get_gadget(gadget_id)
    assert g.is_active(inputs)
    with pytest.raises(ValueError, match=match):
        g.run(inputs)


# --- the catalogue -----------------------------------------------------------------------------

EXPECTED_PORTS = {
    "add": ("math", ("a", "b"), ("sum",)),
    "subtract": ("math", ("a", "b"), ("difference",)),
    "multiply": ("math", ("a", "b"), ("product",)),
    "divide": ("math", ("a", "b"), ("quotient",)),
    "power": ("math", ("base", "exponent"), ("result",)),
    "sqrt": ("math", ("value",), ("result",)),
    "abs": ("math", ("value",), ("result",)),
    "min": ("math", ("a", "b"), ("min",)),
    "max": ("math", ("a", "b"), ("max",)),
    "negate": ("math", ("value",), ("result",)),
    "sum": ("constraint", ("a", "b", "c"), ("a", "b", "c")),
    "product": ("constraint", ("a", "b", "c"), ("a", "b", "c")),
    "square": ("constraint", ("x", "y"), ("x", "y")),
    "linear": ("constraint", ("x", "y", "k", "m"), ("x", "y")),
    "concat": ("string", ("a", "b"), ("result",)),
    "length": ("string", ("value",), ("length",)),
    "substring": ("string", ("string", "start", "end"), ("result",)),
    "toUpper": ("string", ("value",), ("result",)),
    "toLower": ("string", ("value",), ("result",)),
    "trim": ("string", ("value",), ("result",)),
    "split": ("string", ("string", "separator"), ("result",)),
    "join": ("string", ("array", "separator"), ("result",)),
    "and": ("logic", ("a", "b"), ("result",)),
    "or": ("logic", ("a", "b"), ("result",)),
    "xor": ("logic", ("a", "b"), ("result",)),
    "not": ("logic", ("value",), ("result",)),
    "equals": ("logic", ("a", "b"), ("result",)),
    "notEquals": ("logic", ("a", "b"), ("result",)),
    "greaterThan": ("logic", ("a", "b"), ("result",)),
    "lessThan": ("logic", ("a", "b"), ("result",)),
    "greaterOrEqual": ("logic", ("a", "b"), ("result",)),
    "lessOrEqual": ("logic", ("a", "b"), ("result",)),
    "gate": ("control", ("value", "condition"), ("output",)),
    "switch": ("control", ("condition", "true", "false"), ("result",)),
    "demux": ("control", ("value", "selector"), ("out0", "out1")),
    "mux": ("control", ("in0", "in1", "selector"), ("result",)),
    "latch": ("control", ("value", "enable"), ("output",)),
    "delay": ("control", ("value", "delay"), ("output",)),
    "first": ("array", ("array",), ("result",)),
    "last": ("array", ("array",), ("result",)),
    "nth": ("array", ("array", "index"), ("result",)),
    "arraySize": ("array", ("array",), ("size",)),
    "append": ("array", ("array", "value"), ("result",)),
    "prepend": ("array", ("array", "value"), ("result",)),
    "reverse": ("array", ("array",), ("result",)),
    "slice": ("array", ("array", "start", "end"), ("result",)),
    "filterEmpty": ("array", ("array",), ("result",)),
}


def test_catalogue_has_the_prototype_gadgets_and_the_constraints_in_category_order() -> None:
    assert len([g for g in BUILTIN_GADGETS]) == 47  # the prototype's 42, negate, 4 constraints
    assert [g.id for g in BUILTIN_GADGETS] == list(EXPECTED_PORTS)
    categories = [g.category for g in BUILTIN_GADGETS]
    order = ["math", "constraint", "string", "logic", "control", "array"]
    assert sorted(categories, key=order.index) == categories
    assert [c for i, c in enumerate(categories) if c not in categories[:i]] == order


@pytest.mark.parametrize("gadget_id", list(EXPECTED_PORTS))
def test_ports_category_and_registration(gadget_id: str) -> None:
    g = get_gadget(gadget_id)
    assert isinstance(g, Gadget)
    assert gadget_id in gadgets
    assert (g.category, g.inputs, g.outputs) == EXPECTED_PORTS[gadget_id]
    assert g.description and "\n" not in g.description


def test_no_inputs_never_activates_anything() -> None:
    assert [g.id for g in BUILTIN_GADGETS if g.is_active({})] == []


# --- math --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gadget_id", "a", "b", "expected"),
    [
        ("add", 2, 3, {"sum": 5}),
        ("add", 0.5, 1, {"sum": 1.5}),
        ("subtract", 2, 3, {"difference": -1}),
        ("multiply", 4, 2.5, {"product": 10.0}),
        ("divide", 1, 4, {"quotient": 0.25}),
        ("divide", 4, 2, {"quotient": 2.0}),
        ("min", 3, -1.5, {"min": -1.5}),
        ("max", 3, -1.5, {"max": 3}),
    ],
)
def test_binary_math(gadget_id: str, a: Any, b: Any, expected: dict[str, Any]) -> None:
    result = run(gadget_id, a=a, b=b)
    assert result == expected
    assert type(next(iter(result.values()))) is type(next(iter(expected.values())))


def test_integer_arithmetic_stays_exact() -> None:
    assert run("add", a=2**53, b=1) == {"sum": 2**53 + 1}
    assert run("multiply", a=3, b=7)["product"] == 21
    assert type(run("multiply", a=3, b=7)["product"]) is int


@pytest.mark.parametrize("gadget_id", ["add", "subtract", "multiply", "divide", "min", "max"])
def test_binary_math_waits_for_both_ports(gadget_id: str) -> None:
    assert run(gadget_id, a=1) is INACTIVE
    assert run(gadget_id, b=Interval(1, 2)) is INACTIVE


@pytest.mark.parametrize("gadget_id", ["add", "subtract", "multiply", "divide", "min", "max"])
@pytest.mark.parametrize(
    ("inputs", "port", "kind"),
    [
        ({"a": "1", "b": 2}, "a", "a string"),
        ({"a": True, "b": 2}, "a", "a boolean"),
        ({"a": 1, "b": None}, "b", "null"),
        ({"a": "1"}, "a", "a string"),  # reported at once, without waiting for b
        ({"a": 1, "b": GrowSet([1])}, "b", "a grow-set"),
        ({"a": [1], "b": {"x": 1}}, "a", "a list"),
    ],
)
def test_binary_math_reports_content_that_is_not_a_number_nor_an_interval(
    gadget_id: str, inputs: dict[str, Any], port: str, kind: str
) -> None:
    unusable(gadget_id, port, kind, **inputs)


def test_divide_waits_while_the_divisor_is_zero() -> None:
    assert run("divide", a=1, b=0) is INACTIVE
    assert run("divide", a=1, b=0.0) is INACTIVE
    assert run("divide", a=1, b=-0.0) is INACTIVE


def test_non_finite_results_fail_instead_of_producing_inf() -> None:
    fails("add", "not a finite number", a=1.7e308, b=1.7e308)
    fails("multiply", "not a finite number", a=1e308, b=10)
    fails("subtract", "not a finite number", a=-1.7e308, b=1.7e308)
    fails("divide", "not a finite number", a=1e308, b=1e-308)


def test_integer_results_must_fit_64_bits() -> None:
    fails("multiply", "64 bits", a=2**62, b=2**62)
    fails("power", "64 bits", base=10, exponent=10**12)  # refused without computing it


def test_power() -> None:
    assert run("power", base=2, exponent=10) == {"result": 1024}
    assert run("power", base=2, exponent=-1) == {"result": 0.5}
    assert run("power", base=9, exponent=0.5) == {"result": 3.0}
    assert run("power", base=-8, exponent=2) == {"result": 64}
    assert run("power", base=0, exponent=0) == {"result": 1}
    unusable("power", "base", "a string", base="2", exponent=2)
    assert run("power", base=2) is INACTIVE


def test_power_failures() -> None:
    fails("power", "complex", base=-8, exponent=1 / 3)
    fails("power", "complex", base=-2.0, exponent=0.5)
    fails("power", "division by zero", base=0, exponent=-1)
    fails("power", "division by zero", base=0.0, exponent=-2.5)
    fails("power", "not a finite number", base=10.0, exponent=400)


def test_sqrt() -> None:
    assert run("sqrt", value=16) == {"result": 4.0}
    assert run("sqrt", value=0) == {"result": 0.0}
    assert run("sqrt", value=2.25) == {"result": 1.5}
    assert run("sqrt", value=-1) is INACTIVE
    assert run("sqrt", value=float("nan")) is INACTIVE
    unusable("sqrt", "value", "a string", value="4")
    unusable("sqrt", "value", "a boolean", value=True)


def test_abs() -> None:
    assert run("abs", value=-3) == {"result": 3}
    assert run("abs", value=-2.5) == {"result": 2.5}
    assert run("abs", value=-(2**63)) == {"result": 2**63}
    unusable("abs", "value", "a boolean", value=False)
    unusable("abs", "value", "null", value=None)


def test_negate() -> None:
    assert run("negate", value=3) == {"result": -3}
    assert run("negate", value=-2.5) == {"result": 2.5}
    assert run("negate", value=Interval(1, None)) == {"result": Interval(None, -1)}
    fails("negate", "64 bits", value=2**64 - 1)
    unusable("negate", "value", "a string", value="3")


def test_nan_inputs_cannot_produce_nan() -> None:
    fails("add", "not a finite number", a=float("nan"), b=1)
    fails("abs", "not a finite number", value=float("-inf"))


@given(finite_floats, finite_floats)
def test_add_and_multiply_commute(a: float, b: float) -> None:
    for gadget_id in ("add", "multiply"):
        g = get_gadget(gadget_id)
        outcomes = []
        for ins in ({"a": a, "b": b}, {"a": b, "b": a}):
            try:
                outcomes.append(dict(g.run(ins)))
            except ValueError:
                outcomes.append("failed")
        assert outcomes[0] == outcomes[1]
        if outcomes[0] != "failed":
            assert all(math.isfinite(v) for v in outcomes[0].values())


@given(st.integers(-(2**62), 2**62), st.integers(-(2**62), 2**62))
def test_min_max_agree_with_comparisons(a: int, b: int) -> None:
    low, high = run("min", a=a, b=b)["min"], run("max", a=a, b=b)["max"]
    assert low <= high
    assert {low, high} == {a, b}
    assert run("lessOrEqual", a=low, b=high) == {"result": True}


# --- string ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("foo", "bar", "foobar"),
        (1, 2, "12"),
        (1.0, "x", "1.0x"),
        (True, None, "truenull"),
        ([1, 2], {"a": 1}, '[1,2]{"a":1}'),
        ("", "", ""),
    ],
)
def test_concat_uses_text_of_each_side(a: Any, b: Any, expected: str) -> None:
    assert run("concat", a=a, b=b) == {"result": expected}


def test_concat_needs_both_but_accepts_null() -> None:
    assert run("concat", a="x") is INACTIVE
    assert run("concat", a="x", b=None) == {"result": "xnull"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hello", 5),
        ("", 0),
        ("😀", 1),  # one code point (JS: 2 UTF-16 units)
        ("e\u0301", 2),  # combining accent is its own code point
        ([1, 2, 3], 3),
        ({"a": 1, "b": 2}, 2),
        (123, 3),
        (1.5, 3),
        (True, 4),
        (None, 4),
    ],
)
def test_length(value: Any, expected: int) -> None:
    assert run("length", value=value) == {"length": expected}


def test_length_of_a_lattice_value_is_the_length_of_its_json() -> None:
    s = GrowSet([1])
    assert run("length", value=s) == {"length": len('{"$type":"grow-set","value":[1]}')}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"string": "abcdefg", "start": 2}, "cdefg"),
        ({"string": "abcdefg", "start": 2, "end": 4}, "cd"),
        ({"string": "abcdefg", "start": 5, "end": 2}, ""),  # no swap (JS: "cde")
        ({"string": "abcdefg", "start": -3}, "efg"),  # negative counts from the end
        ({"string": "abcdefg", "start": 0, "end": -1}, "abcdef"),
        ({"string": "abcdefg", "start": 3, "end": 100}, "defg"),  # clamped
        ({"string": "abcdefg", "start": 100}, ""),
        ({"string": "abcdefg", "start": 1.0, "end": 3.0}, "bc"),  # whole floats are fine
        ({"string": "abcdefg", "start": 1, "end": None}, "bcdefg"),  # null end: to the end
        ({"string": 12345, "start": 1, "end": 3}, "23"),
        ({"string": "a😀b", "start": 1, "end": 2}, "😀"),  # code points, not UTF-16 halves
    ],
)
def test_substring(inputs: dict[str, Any], expected: str) -> None:
    assert run("substring", **inputs) == {"result": expected}


def test_substring_activation_and_failures() -> None:
    assert run("substring", string="abc") is INACTIVE
    assert run("substring", start=1) is INACTIVE
    unusable("substring", "start", "a string", string="abc", start="1")
    unusable("substring", "start", "a boolean", string="abc", start=True)
    fails("substring", "start must be a whole number", string="abc", start=1.5)
    fails("substring", "end must be a whole number", string="abc", start=0, end="2")
    fails("substring", "end must be a whole number", string="abc", start=0, end=1.5)


@pytest.mark.parametrize(
    ("gadget_id", "value", "expected"),
    [
        ("toUpper", "straße", "STRASSE"),
        ("toUpper", "héllo", "HÉLLO"),
        ("toUpper", True, "TRUE"),
        ("toUpper", None, "NULL"),
        ("toLower", "ÀB", "àb"),
        ("toLower", "ΟΔΟΣ", "οδος"),  # final sigma
        ("toLower", [True], "[true]"),
        ("trim", "  padded \t\n", "padded"),
        ("trim", "\u00a0nbsp\u2028", "nbsp"),
        ("trim", "inner  space", "inner  space"),
        ("trim", 7, "7"),
    ],
)
def test_case_mapping_and_trim(gadget_id: str, value: Any, expected: str) -> None:
    assert run(gadget_id, value=value) == {"result": expected}


@pytest.mark.parametrize("gadget_id", ["toUpper", "toLower", "trim", "length"])
def test_unary_string_gadgets_need_a_value(gadget_id: str) -> None:
    assert run(gadget_id) is INACTIVE


@pytest.mark.parametrize(
    ("string", "separator", "expected"),
    [
        ("a,b,,c", ",", ["a", "b", "", "c"]),
        ("a--b", "--", ["a", "b"]),
        ("abc", "", ["a", "b", "c"]),
        ("a😀", "", ["a", "😀"]),
        ("", ",", [""]),
        ("no separator", ";", ["no separator"]),
        (1001, 0, ["1", "", "1"]),
        ("anullb", None, ["a", "b"]),
    ],
)
def test_split(string: Any, separator: Any, expected: list[str]) -> None:
    assert run("split", string=string, separator=separator) == {"result": expected}


def test_split_needs_both_ports() -> None:
    assert run("split", string="a,b") is INACTIVE
    assert run("split", separator=",") is INACTIVE


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"array": ["a", "b", "c"]}, "a,b,c"),
        ({"array": ["a", "b"], "separator": None}, "a,b"),
        ({"array": ["a", "b"], "separator": " - "}, "a - b"),
        ({"array": [1, 2.5, True], "separator": ""}, "12.5true"),
        ({"array": [None, "x", None]}, ",x,"),
        ({"array": [1, [2, 3]]}, "1,[2,3]"),
        ({"array": [{"k": "v"}], "separator": 0}, '{"k":"v"}'),
        ({"array": ["a", "b"], "separator": 0}, "a0b"),
        ({"array": []}, ""),
    ],
)
def test_join(inputs: dict[str, Any], expected: str) -> None:
    assert run("join", **inputs) == {"result": expected}


def test_join_needs_a_list() -> None:
    assert run("join", separator=",") is INACTIVE
    unusable("join", "array", "a string", array="abc")
    unusable("join", "array", "an object", array={"a": 1})
    unusable("join", "array", "a grow-set", array=GrowSet(["a"]))


@given(st.text(), st.text(min_size=1))
def test_join_undoes_split(string: str, separator: str) -> None:
    parts = run("split", string=string, separator=separator)["result"]
    assert run("join", array=parts, separator=separator) == {"result": string}


@given(st.text(), st.text())
def test_concat_length_adds_up(a: str, b: str) -> None:
    joined = run("concat", a=a, b=b)["result"]
    assert run("length", value=joined) == {"length": len(a) + len(b)}


# --- logic -------------------------------------------------------------------------------------

FALSY = [False, None, 0, 0.0, -0.0, "", [], {}]
TRUTHY = [True, 1, -1, 0.5, "0", "false", " ", [0], {"a": None}]


@pytest.mark.parametrize("value", FALSY)
def test_falsy_values(value: Any) -> None:
    assert run("not", value=value) == {"result": True}
    assert run("and", a=True, b=value) == {"result": False}
    assert run("or", a=value, b=value) == {"result": False}


@pytest.mark.parametrize("value", TRUTHY)
def test_truthy_values(value: Any) -> None:
    assert run("not", value=value) == {"result": False}
    assert run("and", a=value, b=1) == {"result": True}
    assert run("or", a=None, b=value) == {"result": True}


def test_lattice_values_use_python_truthiness() -> None:
    assert run("not", value=GrowSet()) == {"result": True}
    assert run("not", value=GrowSet([1])) == {"result": False}


@pytest.mark.parametrize(
    ("a", "b", "and_", "or_", "xor"),
    [
        (True, True, True, True, False),
        (True, False, False, True, True),
        (False, True, False, True, True),
        (False, False, False, False, False),
        ("x", [], False, True, True),
    ],
)
def test_truth_tables(a: Any, b: Any, and_: bool, or_: bool, xor: bool) -> None:
    assert run("and", a=a, b=b) == {"result": and_}
    assert run("or", a=a, b=b) == {"result": or_}
    assert run("xor", a=a, b=b) == {"result": xor}


@pytest.mark.parametrize("gadget_id", ["and", "or", "xor", "equals", "notEquals"])
def test_binary_logic_needs_both_ports_but_null_counts(gadget_id: str) -> None:
    assert run(gadget_id, a=True) is INACTIVE
    assert run(gadget_id, b=True) is INACTIVE
    assert run(gadget_id, a=None, b=None) is not INACTIVE


def test_not_needs_its_value() -> None:
    assert run("not") is INACTIVE


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (1, True, False),  # bool is not a number
        (0, False, False),
        (None, None, True),
        ("a", "a", True),
        ("1", 1, False),
        ([1, [2, {"x": 3}]], [1, [2, {"x": 3}]], True),  # structural, not by reference
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1, "b": None}, False),
        (GrowSet([1, 2]), GrowSet([2, 1]), True),
    ],
)
def test_equals_is_structural(a: Any, b: Any, equal: bool) -> None:
    assert run("equals", a=a, b=b) == {"result": equal}
    assert run("notEquals", a=a, b=b) == {"result": not equal}


@given(json_values)
def test_every_value_equals_itself(value: Any) -> None:
    assert run("equals", a=value, b=value) == {"result": True}
    assert run("notEquals", a=value, b=value) == {"result": False}


@pytest.mark.parametrize(
    ("a", "b", "gt", "lt", "ge", "le"),
    [
        (2, 1, True, False, True, False),
        (1, 2, False, True, False, True),
        (1, 1.0, False, False, True, True),
        (-0.5, -1, True, False, True, False),
        (2**53 + 1, 2.0**53, True, False, True, False),  # exact int/float comparison
    ],
)
def test_comparisons(a: Any, b: Any, gt: bool, lt: bool, ge: bool, le: bool) -> None:
    assert run("greaterThan", a=a, b=b) == {"result": gt}
    assert run("lessThan", a=a, b=b) == {"result": lt}
    assert run("greaterOrEqual", a=a, b=b) == {"result": ge}
    assert run("lessOrEqual", a=a, b=b) == {"result": le}


@pytest.mark.parametrize("gadget_id", ["greaterThan", "lessThan", "greaterOrEqual", "lessOrEqual"])
@pytest.mark.parametrize(
    ("inputs", "port", "kind"),
    [
        ({"a": "2", "b": "1"}, "a", "a string"),
        ({"a": True, "b": 0}, "a", "a boolean"),
        ({"a": None, "b": 1}, "a", "null"),
        ({"a": 1, "b": [1]}, "b", "a list"),
    ],
)
def test_comparisons_report_content_that_is_not_a_number_nor_an_interval(
    gadget_id: str, inputs: dict[str, Any], port: str, kind: str
) -> None:
    assert run(gadget_id, a=1) is INACTIVE
    unusable(gadget_id, port, kind, **inputs)


# --- control -----------------------------------------------------------------------------------


def test_gate() -> None:
    assert run("gate", value=5, condition=True) == {"output": 5}
    assert run("gate", value=None, condition="yes") == {"output": None}
    assert run("gate", value=5, condition=False) == {}
    assert run("gate", value=5, condition=[]) == {}  # [] is falsy
    assert run("gate", value=5) is INACTIVE
    assert run("gate", condition=True) is INACTIVE


def test_switch() -> None:
    assert run("switch", condition=1, true="yes", false="no") == {"result": "yes"}
    assert run("switch", condition=0, true="yes", false="no") == {"result": "no"}
    assert run("switch", condition="0", true="yes", false="no") == {"result": "yes"}
    assert run("switch", condition={}, true="yes", false="no") == {"result": "no"}
    # the chosen port is empty: emit nothing rather than clearing the output
    assert run("switch", condition=True, false="no") == {}
    assert run("switch", condition=False, true="yes") == {}
    assert run("switch", condition=False, false=None) == {"result": None}
    assert run("switch", condition=True) is INACTIVE
    assert run("switch", true="yes", false="no") is INACTIVE


def test_demux_writes_only_the_selected_output() -> None:
    assert run("demux", value="v", selector=True) == {"out1": "v"}
    assert run("demux", value="v", selector=None) == {"out0": "v"}
    assert run("demux", value="v", selector="0") == {"out1": "v"}
    assert run("demux", value="v") is INACTIVE
    assert run("demux", selector=True) is INACTIVE


def test_mux() -> None:
    assert run("mux", in0="a", in1="b", selector=True) == {"result": "b"}
    assert run("mux", in0="a", in1="b", selector=0) == {"result": "a"}
    assert run("mux", in0="a", selector=1) == {}
    assert run("mux", in1="b", selector=False) == {}
    assert run("mux", in0=None, selector=False) == {"result": None}
    assert run("mux", selector=True) is INACTIVE
    assert run("mux", in0="a", in1="b") is INACTIVE


def test_latch_is_stateless() -> None:
    assert run("latch", value=3, enable=True) == {"output": 3}
    assert run("latch", value=3, enable=False) == {}
    assert run("latch", enable=True) == {}
    assert run("latch", value=3) is INACTIVE
    # no memory: enabling again just passes the current value
    assert run("latch", value=4, enable=1) == {"output": 4}


def test_delay_passes_the_value_through_immediately() -> None:
    assert run("delay", value="v", delay=1000) == {"output": "v"}
    assert run("delay", value=[1], delay="ignored") == {"output": [1]}
    assert run("delay", value=None) == {"output": None}
    assert run("delay", delay=10) is INACTIVE


# --- array -------------------------------------------------------------------------------------


def test_first_and_last() -> None:
    assert run("first", array=[1, 2, 3]) == {"result": 1}
    assert run("last", array=[1, 2, 3]) == {"result": 3}
    assert run("first", array=[None]) == {"result": None}
    assert run("first", array=[]) == {}
    assert run("last", array=[]) == {}


@pytest.mark.parametrize("gadget_id", ["first", "last", "arraySize", "reverse", "filterEmpty"])
@pytest.mark.parametrize(
    ("array", "kind"),
    [
        ("abc", "a string"),
        ({"a": 1}, "an object"),
        (None, "null"),
        (3, "a number"),
        (GrowSet([1]), "a grow-set"),
        (Interval(1, 2), "an interval"),
    ],
)
def test_array_gadgets_report_content_that_is_not_a_list(
    gadget_id: str, array: Any, kind: str
) -> None:
    unusable(gadget_id, "array", kind, array=array)
    assert run(gadget_id) is INACTIVE


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, {"result": "a"}),
        (2, {"result": "c"}),
        (2.0, {"result": "c"}),
        (-1, {"result": "c"}),  # negative counts from the end
        (-3, {"result": "a"}),
        (3, {}),
        (-4, {}),
        (1.5, {}),  # fractional: nothing
    ],
)
def test_nth(index: Any, expected: dict[str, Any]) -> None:
    assert run("nth", array=["a", "b", "c"], index=index) == expected


def test_nth_activation() -> None:
    unusable("nth", "index", "a string", array=[1], index="0")
    unusable("nth", "index", "a boolean", array=[1], index=True)
    unusable("nth", "array", "a string", array="abc", index=0)
    assert run("nth", array=[1]) is INACTIVE


def test_array_size() -> None:
    assert run("arraySize", array=[]) == {"size": 0}
    assert run("arraySize", array=[None, [1, 2], ""]) == {"size": 3}


def test_append_and_prepend_return_new_lists() -> None:
    original = [1, 2]
    assert run("append", array=original, value=3) == {"result": [1, 2, 3]}
    assert run("prepend", array=original, value=0) == {"result": [0, 1, 2]}
    assert run("append", array=original, value=None) == {"result": [1, 2, None]}
    assert run("append", array=original, value=[3]) == {"result": [1, 2, [3]]}
    assert original == [1, 2]
    for gadget_id in ("append", "prepend"):
        assert run(gadget_id, array=original) is INACTIVE
        unusable(gadget_id, "array", "a string", array="ab", value=1)


def test_reverse() -> None:
    original = [1, "two", None]
    assert run("reverse", array=original) == {"result": [None, "two", 1]}
    assert original == [1, "two", None]
    assert run("reverse", array=[]) == {"result": []}


@given(st.lists(json_values, max_size=8))
def test_reverse_twice_is_identity(items: list[Any]) -> None:
    once = run("reverse", array=items)["result"]
    assert run("reverse", array=once) == {"result": items}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"start": 1}, [1, 2, 3, 4]),
        ({"start": 1, "end": 3}, [1, 2]),
        ({"start": -2}, [3, 4]),
        ({"start": 0, "end": -1}, [0, 1, 2, 3]),
        ({"start": 3, "end": 1}, []),
        ({"start": 10}, []),
        ({"start": 1.0, "end": 2.0}, [1]),
        ({"start": 2, "end": None}, [2, 3, 4]),
    ],
)
def test_slice(inputs: dict[str, Any], expected: list[int]) -> None:
    assert run("slice", array=[0, 1, 2, 3, 4], **inputs) == {"result": expected}


def test_slice_activation_and_failures() -> None:
    assert run("slice", array=[1, 2]) is INACTIVE
    unusable("slice", "start", "a string", array=[1, 2], start="0")
    unusable("slice", "array", "a string", array="ab", start=0)
    fails("slice", "start must be a whole number", array=[1, 2], start=0.5)
    fails("slice", "end must be a whole number", array=[1, 2], start=0, end="1")


@given(
    st.lists(st.integers(), max_size=8),
    st.integers(-10, 10),
    st.none() | st.integers(-10, 10),
)
def test_slice_matches_python_slicing(items: list[int], start: int, end: int | None) -> None:
    assert run("slice", array=items, start=start, end=end) == {"result": items[start:end]}


def test_filter_empty_drops_only_null_and_empty_string() -> None:
    items = [None, "", 0, False, [], {}, "0", " ", "x", 0.0]
    assert run("filterEmpty", array=items) == {"result": [0, False, [], {}, "0", " ", "x", 0.0]}
    assert run("filterEmpty", array=[]) == {"result": []}


def test_ports_given_as_a_string_are_refused_not_split_into_letters() -> None:
    """``outputs="sum"`` once made a gadget with the output ports s, u and m."""
    with pytest.raises(TypeError, match="outputs is a list of port names, not the string 'sum'"):
        gadget(inputs=["a"], outputs="sum", register=False)
    with pytest.raises(TypeError, match="inputs is a list of port names, not the string 'ab'"):
        gadget(inputs="ab", outputs=["sum"], register=False)
    with pytest.raises(TypeError, match="not the string 'ab'"):
        Gadget(id="g", inputs="ab", outputs=("sum",), body=lambda ins: {})
    made = gadget(inputs=("a", "b"), outputs=["sum"], register=False)(lambda ins: {})
    assert (made.inputs, made.outputs) == (("a", "b"), ("sum",))


@pytest.mark.parametrize("name", [None, 5, ["add"]])
def test_a_gadget_looked_up_by_something_other_than_a_name_says_so(name: Any) -> None:
    """``get_gadget(None)`` failed inside the spelling suggestion: "'NoneType' object is
    not iterable". Every registry (gadgets, lattices, storage schemes) says the same."""
    with pytest.raises(TypeError) as refused:
        get_gadget(name)
    assert str(refused.value) == f"a gadget is looked up by its name (a string), not by {name!r}"
    with pytest.raises(TypeError, match=r"^a lattice is looked up by its name \(a string\)"):
        get_lattice(name)


@pytest.mark.parametrize("gadget_id", [None, 5, ""])
def test_a_gadget_must_be_named_by_a_non_empty_string(gadget_id: Any) -> None:
    """A gadget with ``id=None`` was registered, and every later lookup of an unknown
    gadget (a spec naming one) failed sorting the names: ``TypeError``, not SpecError."""
    odd = Gadget(id=gadget_id, inputs=("a",), outputs=("b",), body=lambda inputs: {"b": 1})
    with pytest.raises(TypeError, match="a gadget is registered under a non-empty string"):
        register_gadget(odd)
    with pytest.raises(PluginNotFound, match="unknown gadget 'nope'"):
        get_gadget("nope")


def test_registering_what_is_no_gadget_says_so() -> None:
    with pytest.raises(TypeError, match=r"None is not a bassline\.gadgets\.Gadget"):
        register_gadget(None)  # type: ignore[arg-type]
