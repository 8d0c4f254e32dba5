"""The built-in primitive gadgets: math, constraint, string, logic, control and array, in that order.

Ids, port names and categories of the prototype's 42 are kept; the semantics are Python's
where JavaScript's differ (see ``docs/gadgets.md``). A body returns only the outputs it
emits: a gadget never clears a contact, so "no result" means "emit nothing". Math and
comparison gadgets compute on intervals too (:mod:`bassline.gadgets.numeric`); the
``constraint`` category holds the two-way constraints (:mod:`bassline.gadgets.constraints`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

from bassline.content import values_equal
from bassline.gadgets import numeric as num
from bassline.gadgets.base import Gadget, Inputs, Kind, Outputs
from bassline.gadgets.constraints import CONSTRAINTS
from bassline.gadgets.jsonish import (
    compute_number,
    index,
    is_list,
    is_number,
    is_whole,
    optional_index,
    text,
    whole,
)
from bassline.lattices.values import Interval

__all__ = ["BUILTIN_GADGETS", "CATEGORIES", "LIST", "NUMBER", "PARTIAL_NUMBER"]

CATEGORIES = ("math", "constraint", "string", "logic", "control", "array")
"""The built-in categories, in catalogue order."""

Activation = Callable[[Inputs], bool]
Body = Callable[[Inputs], Outputs]

_NOTHING: Outputs = {}

PARTIAL_NUMBER = Kind("a number or an interval", num.is_partial_number)
"""What math and comparison ports compute with."""
NUMBER = Kind("a number", is_number)
"""What index ports compute with."""
LIST = Kind("a list", is_list)
"""What array ports compute with."""


def _present(*ports: str) -> Activation:
    """Activation: every named port has content (``None`` counts as content)."""
    return lambda ins: all(p in ins for p in ports)


def _make(
    category: str,
    id: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    body: Body,
    activation: Activation | None,
    description: str,
    kinds: dict[str, Kind] | None = None,
) -> Gadget:
    return Gadget(
        id=id,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        body=body,
        activation=activation,
        description=description,
        category=category,
        kinds=kinds or {},
    )


def _emit_if(port: str, ins: Inputs, source: str) -> Outputs:
    """``{port: ins[source]}`` if ``source`` has content, else nothing."""
    return {port: ins[source]} if source in ins else _NOTHING


# --- math ------------------------------------------------------------------------------------


def _plain(*values: Any) -> bool:
    """Whether every value is a plain number (then the exact scalar operation applies)."""
    return all(type(v) is int or type(v) is float for v in values)


def _arith(
    id: str,
    output: str,
    op: Callable[[Any, Any], Any],
    interval_op: Callable[[num.Bounds, num.Bounds], num.Bounds | None],
    description: str,
    activation: Activation | None = None,
) -> Gadget:
    """A math gadget ``a, b -> output``: exact on numbers, outward-rounded on intervals."""

    def body(ins: Inputs) -> Outputs:
        a, b = ins["a"], ins["b"]
        if _plain(a, b):
            return {output: compute_number(id, lambda: op(a, b))}
        result = interval_op(num.bounds(a), num.bounds(b))
        return _NOTHING if result is None else {output: num.interval(result)}

    return _make(
        "math",
        id,
        ("a", "b"),
        (output,),
        body,
        activation or _present("a", "b"),
        description,
        {"a": PARTIAL_NUMBER, "b": PARTIAL_NUMBER},
    )


def _unary_math(
    id: str,
    op: Callable[[Any], Any],
    interval_op: Callable[[num.Bounds], num.Bounds | None],
    description: str,
    activation: Activation | None = None,
) -> Gadget:
    """A math gadget ``value -> result``: exact on numbers, outward-rounded on intervals."""

    def body(ins: Inputs) -> Outputs:
        value = ins["value"]
        if _plain(value):
            return {"result": compute_number(id, lambda: op(value))}
        result = interval_op(num.bounds(value))
        return _NOTHING if result is None else {"result": num.interval(result)}

    return _make(
        "math",
        id,
        ("value",),
        ("result",),
        body,
        activation or _present("value"),
        description,
        {"value": PARTIAL_NUMBER},
    )


_POWER_BIT_LIMIT = 65  # integer results beyond 64 bits cannot be stored; never compute them


def _power(ins: Inputs) -> Outputs:
    base, exponent = ins["base"], ins["exponent"]
    if not _plain(base, exponent):
        result = num.power(num.bounds(base), num.bounds(exponent))
        if result is None:
            raise ValueError(
                f"power: {base!r} ** {exponent!r} has no real result (complex or division by zero)"
            )
        return {"result": num.interval(result)}
    ints = type(base) is int and type(exponent) is int
    if ints and abs(base) > 1 and exponent * math.log2(abs(base)) > _POWER_BIT_LIMIT:
        raise ValueError(f"power: {base} ** {exponent} does not fit in 64 bits")
    return {"result": compute_number("power", lambda: base**exponent)}


def _divisor_can_be_nonzero(ins: Inputs) -> bool:
    """Activation of divide: both present, and the divisor is not exactly zero."""
    if "a" not in ins or "b" not in ins:
        return False
    b = ins["b"]
    if type(b) is Interval:
        return not (b.lo == 0 and b.hi == 0)
    return bool(b != 0)


def _can_be_non_negative(ins: Inputs) -> bool:
    """Activation of sqrt: the value is present and not entirely below 0."""
    if "value" not in ins:
        return False
    value: Any = ins["value"]
    if type(value) is Interval:
        return value.hi is None or value.hi >= 0
    if is_number(value):
        return bool(value >= 0)
    return True  # another kind: run, and be reported as an unusable input


MATH: tuple[Gadget, ...] = (
    _arith("add", "sum", operator.add, num.add, "sum = a + b"),
    _arith("subtract", "difference", operator.sub, num.sub, "difference = a - b"),
    _arith("multiply", "product", operator.mul, num.mul, "product = a * b"),
    _arith(
        "divide",
        "quotient",
        operator.truediv,
        num.div,
        "quotient = a / b (true division, always a float); waits while b is 0",
        _divisor_can_be_nonzero,
    ),
    _make(
        "math",
        "power",
        ("base", "exponent"),
        ("result",),
        _power,
        _present("base", "exponent"),
        "result = base ** exponent; complex or infinite results fail",
        {"base": PARTIAL_NUMBER, "exponent": PARTIAL_NUMBER},
    ),
    _unary_math(
        "sqrt",
        math.sqrt,
        num.sqrt,
        "result = square root of value (a float); waits while value < 0",
        _can_be_non_negative,
    ),
    _unary_math("abs", abs, num.abs_, "result = absolute value of value"),
    _arith("min", "min", min, num.minimum, "min = the smaller of a and b"),
    _arith("max", "max", max, num.maximum, "max = the larger of a and b"),
    _unary_math("negate", operator.neg, num.neg, "result = -value"),
)


# --- string ----------------------------------------------------------------------------------


def _text_op(id: str, op: Callable[[str], Any], description: str, output: str = "result") -> Gadget:
    """A string gadget ``value -> output`` applying ``op`` to the text of ``value``."""

    def body(ins: Inputs) -> Outputs:
        return {output: op(text(ins["value"]))}

    return _make("string", id, ("value",), (output,), body, _present("value"), description)


def _length(ins: Inputs) -> Outputs:
    value = ins["value"]
    if isinstance(value, str | list | dict):
        return {"length": len(value)}
    return {"length": len(text(value))}


def _substring(ins: Inputs) -> Outputs:
    start = index("substring", "start", ins["start"])
    end = optional_index("substring", "end", ins.get("end"))
    return {"result": text(ins["string"])[start:end]}


def _split(ins: Inputs) -> Outputs:
    string, separator = text(ins["string"]), text(ins["separator"])
    return {"result": list(string) if separator == "" else string.split(separator)}


def _join(ins: Inputs) -> Outputs:
    separator = ins.get("separator")
    sep = "," if separator is None else text(separator)
    return {"result": sep.join("" if item is None else text(item) for item in ins["array"])}


STRING: tuple[Gadget, ...] = (
    _make(
        "string",
        "concat",
        ("a", "b"),
        ("result",),
        lambda ins: {"result": text(ins["a"]) + text(ins["b"])},
        _present("a", "b"),
        "result = text of a followed by text of b",
    ),
    _make(
        "string",
        "length",
        ("value",),
        ("length",),
        _length,
        _present("value"),
        "length = code points of a string, items of a list or dict, else length of its JSON text",
    ),
    _make(
        "string",
        "substring",
        ("string", "start", "end"),
        ("result",),
        _substring,
        _present("string", "start"),
        "result = text of string sliced Python-style from start to optional end",
        {"start": NUMBER},
    ),
    _text_op("toUpper", str.upper, "result = text of value in upper case (Unicode full mapping)"),
    _text_op("toLower", str.lower, "result = text of value in lower case (Unicode full mapping)"),
    _text_op("trim", str.strip, "result = text of value without leading and trailing whitespace"),
    _make(
        "string",
        "split",
        ("string", "separator"),
        ("result",),
        _split,
        _present("string", "separator"),
        "result = list of the parts of string between separators ('' splits into characters)",
    ),
    _make(
        "string",
        "join",
        ("array", "separator"),
        ("result",),
        _join,
        _present("array"),
        "result = the array's items as text joined by separator (default ',')",
        {"array": LIST},
    ),
)


# --- logic -----------------------------------------------------------------------------------


Truth = bool | None
"""Truthiness that may not be known: an interval holding 0 and other numbers (None)."""


def _logic(
    id: str, op: Callable[[Any, Any], Truth], description: str, activation: Activation
) -> Gadget:
    """A logic gadget ``a, b -> result`` (a boolean; nothing while the answer is not certain)."""

    def body(ins: Inputs) -> Outputs:
        result = op(ins["a"], ins["b"])
        return _NOTHING if result is None else {"result": bool(result)}

    return _make("logic", id, ("a", "b"), ("result",), body, activation, description)


def _and(a: Truth, b: Truth) -> Truth:
    if a is False or b is False:
        return False
    return True if a and b else None


def _or(a: Truth, b: Truth) -> Truth:
    if a is True or b is True:
        return True
    return False if a is False and b is False else None


def _xor(a: Truth, b: Truth) -> Truth:
    return None if a is None or b is None else a != b


def _truth_logic(id: str, op: Callable[[Truth, Truth], Truth], description: str) -> Gadget:
    return _logic(id, lambda a, b: op(num.truth(a), num.truth(b)), description, _present("a", "b"))


def _not(ins: Inputs) -> Outputs:
    value = num.truth(ins["value"])
    return _NOTHING if value is None else {"result": not value}


def _equal(a: Any, b: Any) -> Truth:
    """Structural equality; for an interval and a number or interval, only when certain."""
    if (type(a) is Interval or type(b) is Interval) and (
        num.is_partial_number(a) and num.is_partial_number(b)
    ):
        return num.equal(num.bounds(a), num.bounds(b))
    return values_equal(a, b)


def _not_equal(a: Any, b: Any) -> Truth:
    same = _equal(a, b)
    return None if same is None else not same


def _compare(id: str, symbol: str, op: Callable[[Any, Any], bool], description: str) -> Gadget:
    def compare(a: Any, b: Any) -> Truth:
        if _plain(a, b):
            return op(a, b)
        return num.compare(symbol, num.bounds(a), num.bounds(b))

    gadget = _logic(id, compare, description, _present("a", "b"))
    return _make(
        "logic",
        id,
        ("a", "b"),
        ("result",),
        gadget.body,
        gadget.activation,
        description,
        {"a": PARTIAL_NUMBER, "b": PARTIAL_NUMBER},
    )


LOGIC: tuple[Gadget, ...] = (
    _truth_logic("and", _and, "result = a and b are both truthy"),
    _truth_logic("or", _or, "result = a or b is truthy"),
    _truth_logic("xor", _xor, "result = exactly one of a and b is truthy"),
    _make(
        "logic",
        "not",
        ("value",),
        ("result",),
        _not,
        _present("value"),
        "result = value is falsy",
    ),
    _logic("equals", _equal, "result = a and b are structurally equal", _present("a", "b")),
    _logic(
        "notEquals",
        _not_equal,
        "result = a and b are not structurally equal",
        _present("a", "b"),
    ),
    _compare("greaterThan", ">", operator.gt, "result = a > b"),
    _compare("lessThan", "<", operator.lt, "result = a < b"),
    _compare("greaterOrEqual", ">=", operator.ge, "result = a >= b"),
    _compare("lessOrEqual", "<=", operator.le, "result = a <= b"),
)


# --- control ---------------------------------------------------------------------------------


# A condition that is an interval holding 0 and other numbers is not known to be true or
# false: the control gadgets then emit nothing, as they do while a port is empty.


def _gate(ins: Inputs) -> Outputs:
    return {"output": ins["value"]} if num.truth(ins["condition"]) else _NOTHING


def _switch(ins: Inputs) -> Outputs:
    condition = num.truth(ins["condition"])
    if condition is None:
        return _NOTHING
    return _emit_if("result", ins, "true" if condition else "false")


def _demux(ins: Inputs) -> Outputs:
    selector = num.truth(ins["selector"])
    if selector is None:
        return _NOTHING
    return {"out1" if selector else "out0": ins["value"]}


def _mux(ins: Inputs) -> Outputs:
    selector = num.truth(ins["selector"])
    if selector is None:
        return _NOTHING
    return _emit_if("result", ins, "in1" if selector else "in0")


def _latch(ins: Inputs) -> Outputs:
    return _emit_if("output", ins, "value") if num.truth(ins["enable"]) else _NOTHING


CONTROL: tuple[Gadget, ...] = (
    _make(
        "control",
        "gate",
        ("value", "condition"),
        ("output",),
        _gate,
        _present("value", "condition"),
        "output = value while condition is truthy; otherwise emits nothing",
    ),
    _make(
        "control",
        "switch",
        ("condition", "true", "false"),
        ("result",),
        _switch,
        lambda ins: "condition" in ins and ("true" in ins or "false" in ins),
        "result = true if condition is truthy else false (nothing if that port is empty)",
    ),
    _make(
        "control",
        "demux",
        ("value", "selector"),
        ("out0", "out1"),
        _demux,
        _present("value", "selector"),
        "out1 = value if selector is truthy, else out0 = value; the other output is untouched",
    ),
    _make(
        "control",
        "mux",
        ("in0", "in1", "selector"),
        ("result",),
        _mux,
        lambda ins: "selector" in ins and ("in0" in ins or "in1" in ins),
        "result = in1 if selector is truthy else in0 (nothing if that port is empty)",
    ),
    _make(
        "control",
        "latch",
        ("value", "enable"),
        ("output",),
        _latch,
        _present("enable"),
        "output = value while enable is truthy (stateless); otherwise emits nothing",
    ),
    _make(
        "control",
        "delay",
        ("value", "delay"),
        ("output",),
        lambda ins: {"output": ins["value"]},
        _present("value"),
        "output = value, immediately (the delay port is ignored inside a propagation wave)",
    ),
)


# --- array -----------------------------------------------------------------------------------


_ARRAY_KINDS = {"array": LIST}


def _array_op(
    id: str, op: Callable[[list[Any]], Any], description: str, output: str = "result"
) -> Gadget:
    """An array gadget ``array -> output`` that always emits ``op(array)``."""

    def body(ins: Inputs) -> Outputs:
        return {output: op(ins["array"])}

    return _make(
        "array", id, ("array",), (output,), body, _present("array"), description, _ARRAY_KINDS
    )


def _at(items: list[Any], position: Any) -> Outputs:
    """``{"result": items[position]}`` for a whole in-range position (negative from the end)."""
    if is_whole(position) and -len(items) <= position < len(items):
        return {"result": items[whole(position)]}
    return _NOTHING


def _slice(ins: Inputs) -> Outputs:
    start = index("slice", "start", ins["start"])
    end = optional_index("slice", "end", ins.get("end"))
    return {"result": ins["array"][start:end]}


def _is_empty(item: Any) -> bool:
    return item is None or (isinstance(item, str) and item == "")


ARRAY: tuple[Gadget, ...] = (
    _make(
        "array",
        "first",
        ("array",),
        ("result",),
        lambda ins: _at(ins["array"], 0),
        _present("array"),
        "result = the first item (nothing if the array is empty)",
        _ARRAY_KINDS,
    ),
    _make(
        "array",
        "last",
        ("array",),
        ("result",),
        lambda ins: _at(ins["array"], -1),
        _present("array"),
        "result = the last item (nothing if the array is empty)",
        _ARRAY_KINDS,
    ),
    _make(
        "array",
        "nth",
        ("array", "index"),
        ("result",),
        lambda ins: _at(ins["array"], ins["index"]),
        _present("array", "index"),
        "result = the item at index, negative from the end (nothing if out of range or fractional)",
        {"array": LIST, "index": NUMBER},
    ),
    _array_op("arraySize", len, "size = number of items in the array", output="size"),
    _make(
        "array",
        "append",
        ("array", "value"),
        ("result",),
        lambda ins: {"result": [*ins["array"], ins["value"]]},
        _present("array", "value"),
        "result = a new list: the array followed by value",
        _ARRAY_KINDS,
    ),
    _make(
        "array",
        "prepend",
        ("array", "value"),
        ("result",),
        lambda ins: {"result": [ins["value"], *ins["array"]]},
        _present("array", "value"),
        "result = a new list: value followed by the array",
        _ARRAY_KINDS,
    ),
    _array_op("reverse", lambda items: items[::-1], "result = a reversed copy of the array"),
    _make(
        "array",
        "slice",
        ("array", "start", "end"),
        ("result",),
        _slice,
        _present("array", "start"),
        "result = array[start:end] with Python slicing (end optional)",
        {"array": LIST, "start": NUMBER},
    ),
    _array_op(
        "filterEmpty",
        lambda items: [item for item in items if not _is_empty(item)],
        "result = the array without its null and '' items",
    ),
)


BUILTIN_GADGETS: tuple[Gadget, ...] = MATH + CONSTRAINTS + STRING + LOGIC + CONTROL + ARRAY
"""Every built-in gadget, in catalogue order (math, constraint, string, logic, control, array)."""
