"""The 42 built-in primitive gadgets: math, string, logic, control and array, in that order.

Ids, port names and categories are those of the prototype; the semantics are Python's where
JavaScript's differ (see ``docs/gadgets.md``). A body returns only the outputs it emits: a
gadget never clears a contact, so "no result" means "emit nothing".
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

from bassline.content import values_equal
from bassline.gadgets.base import Gadget, Inputs, Outputs
from bassline.gadgets.jsonish import (
    compute_number,
    index,
    is_list,
    is_number,
    is_whole,
    optional_index,
    text,
    truthy,
    whole,
)

__all__ = ["BUILTIN_GADGETS", "CATEGORIES"]

CATEGORIES = ("math", "string", "logic", "control", "array")
"""The built-in categories, in catalogue order."""

Activation = Callable[[Inputs], bool]
Body = Callable[[Inputs], Outputs]

_NOTHING: Outputs = {}


def _present(*ports: str) -> Activation:
    """Activation: every named port has content (``None`` counts as content)."""
    return lambda ins: all(p in ins for p in ports)


def _numbers(*ports: str) -> Activation:
    """Activation: every named port holds a number (not a bool)."""
    return lambda ins: all(is_number(ins.get(p)) for p in ports)


def _array(*present: str) -> Activation:
    """Activation: ``array`` is a list and the other named ports have content."""
    return lambda ins: is_list(ins.get("array")) and all(p in ins for p in present)


def _make(
    category: str,
    id: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    body: Body,
    activation: Activation | None,
    description: str,
) -> Gadget:
    return Gadget(
        id=id,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        body=body,
        activation=activation,
        description=description,
        category=category,
    )


def _emit_if(port: str, ins: Inputs, source: str) -> Outputs:
    """``{port: ins[source]}`` if ``source`` has content, else nothing."""
    return {port: ins[source]} if source in ins else _NOTHING


# --- math ------------------------------------------------------------------------------------


def _arith(
    id: str,
    output: str,
    op: Callable[[Any, Any], Any],
    description: str,
    activation: Activation | None = None,
) -> Gadget:
    """A math gadget ``a, b -> output`` whose result must be a finite number."""

    def body(ins: Inputs) -> Outputs:
        a, b = ins["a"], ins["b"]
        return {output: compute_number(id, lambda: op(a, b))}

    return _make(
        "math", id, ("a", "b"), (output,), body, activation or _numbers("a", "b"), description
    )


def _unary_math(
    id: str, op: Callable[[Any], Any], description: str, activation: Activation | None = None
) -> Gadget:
    """A math gadget ``value -> result`` whose result must be a finite number."""

    def body(ins: Inputs) -> Outputs:
        value = ins["value"]
        return {"result": compute_number(id, lambda: op(value))}

    return _make(
        "math", id, ("value",), ("result",), body, activation or _numbers("value"), description
    )


_POWER_BIT_LIMIT = 65  # integer results beyond 64 bits cannot be stored; never compute them


def _power(ins: Inputs) -> Outputs:
    base, exponent = ins["base"], ins["exponent"]
    ints = type(base) is int and type(exponent) is int
    if ints and abs(base) > 1 and exponent * math.log2(abs(base)) > _POWER_BIT_LIMIT:
        raise ValueError(f"power: {base} ** {exponent} does not fit in 64 bits")
    return {"result": compute_number("power", lambda: base**exponent)}


def _divisor_nonzero(ins: Inputs) -> bool:
    return _numbers("a", "b")(ins) and ins["b"] != 0


def _non_negative(ins: Inputs) -> bool:
    value: Any = ins.get("value")
    return is_number(value) and value >= 0


MATH: tuple[Gadget, ...] = (
    _arith("add", "sum", operator.add, "sum = a + b"),
    _arith("subtract", "difference", operator.sub, "difference = a - b"),
    _arith("multiply", "product", operator.mul, "product = a * b"),
    _arith(
        "divide",
        "quotient",
        operator.truediv,
        "quotient = a / b (true division, always a float); waits while b is 0",
        _divisor_nonzero,
    ),
    _make(
        "math",
        "power",
        ("base", "exponent"),
        ("result",),
        _power,
        _numbers("base", "exponent"),
        "result = base ** exponent; complex or infinite results fail",
    ),
    _unary_math(
        "sqrt",
        math.sqrt,
        "result = square root of value (a float); waits while value < 0",
        _non_negative,
    ),
    _unary_math("abs", abs, "result = absolute value of value"),
    _arith("min", "min", min, "min = the smaller of a and b"),
    _arith("max", "max", max, "max = the larger of a and b"),
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
        lambda ins: "string" in ins and is_number(ins.get("start")),
        "result = text of string sliced Python-style from start to optional end",
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
        _array(),
        "result = the array's items as text joined by separator (default ',')",
    ),
)


# --- logic -----------------------------------------------------------------------------------


def _logic(
    id: str, op: Callable[[Any, Any], bool], description: str, activation: Activation
) -> Gadget:
    """A logic gadget ``a, b -> result`` (a boolean)."""

    def body(ins: Inputs) -> Outputs:
        return {"result": bool(op(ins["a"], ins["b"]))}

    return _make("logic", id, ("a", "b"), ("result",), body, activation, description)


def _truthy_logic(id: str, op: Callable[[bool, bool], bool], description: str) -> Gadget:
    return _logic(id, lambda a, b: op(truthy(a), truthy(b)), description, _present("a", "b"))


def _compare(id: str, op: Callable[[Any, Any], bool], description: str) -> Gadget:
    return _logic(id, op, description, _numbers("a", "b"))


LOGIC: tuple[Gadget, ...] = (
    _truthy_logic("and", operator.and_, "result = a and b are both truthy"),
    _truthy_logic("or", operator.or_, "result = a or b is truthy"),
    _truthy_logic("xor", operator.ne, "result = exactly one of a and b is truthy"),
    _make(
        "logic",
        "not",
        ("value",),
        ("result",),
        lambda ins: {"result": not truthy(ins["value"])},
        _present("value"),
        "result = value is falsy",
    ),
    _logic("equals", values_equal, "result = a and b are structurally equal", _present("a", "b")),
    _logic(
        "notEquals",
        lambda a, b: not values_equal(a, b),
        "result = a and b are not structurally equal",
        _present("a", "b"),
    ),
    _compare("greaterThan", operator.gt, "result = a > b"),
    _compare("lessThan", operator.lt, "result = a < b"),
    _compare("greaterOrEqual", operator.ge, "result = a >= b"),
    _compare("lessOrEqual", operator.le, "result = a <= b"),
)


# --- control ---------------------------------------------------------------------------------


def _gate(ins: Inputs) -> Outputs:
    return {"output": ins["value"]} if truthy(ins["condition"]) else _NOTHING


def _switch(ins: Inputs) -> Outputs:
    return _emit_if("result", ins, "true" if truthy(ins["condition"]) else "false")


def _demux(ins: Inputs) -> Outputs:
    return {"out1" if truthy(ins["selector"]) else "out0": ins["value"]}


def _mux(ins: Inputs) -> Outputs:
    return _emit_if("result", ins, "in1" if truthy(ins["selector"]) else "in0")


def _latch(ins: Inputs) -> Outputs:
    return _emit_if("output", ins, "value") if truthy(ins["enable"]) else _NOTHING


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


def _array_op(
    id: str, op: Callable[[list[Any]], Any], description: str, output: str = "result"
) -> Gadget:
    """An array gadget ``array -> output`` that always emits ``op(array)``."""

    def body(ins: Inputs) -> Outputs:
        return {output: op(ins["array"])}

    return _make("array", id, ("array",), (output,), body, _array(), description)


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
        _array(),
        "result = the first item (nothing if the array is empty)",
    ),
    _make(
        "array",
        "last",
        ("array",),
        ("result",),
        lambda ins: _at(ins["array"], -1),
        _array(),
        "result = the last item (nothing if the array is empty)",
    ),
    _make(
        "array",
        "nth",
        ("array", "index"),
        ("result",),
        lambda ins: _at(ins["array"], ins["index"]),
        lambda ins: is_list(ins.get("array")) and is_number(ins.get("index")),
        "result = the item at index, negative from the end (nothing if out of range or fractional)",
    ),
    _array_op("arraySize", len, "size = number of items in the array", output="size"),
    _make(
        "array",
        "append",
        ("array", "value"),
        ("result",),
        lambda ins: {"result": [*ins["array"], ins["value"]]},
        _array("value"),
        "result = a new list: the array followed by value",
    ),
    _make(
        "array",
        "prepend",
        ("array", "value"),
        ("result",),
        lambda ins: {"result": [ins["value"], *ins["array"]]},
        _array("value"),
        "result = a new list: value followed by the array",
    ),
    _array_op("reverse", lambda items: items[::-1], "result = a reversed copy of the array"),
    _make(
        "array",
        "slice",
        ("array", "start", "end"),
        ("result",),
        _slice,
        lambda ins: is_list(ins.get("array")) and is_number(ins.get("start")),
        "result = array[start:end] with Python slicing (end optional)",
    ),
    _array_op(
        "filterEmpty",
        lambda items: [item for item in items if not _is_empty(item)],
        "result = the array without its null and '' items",
    ),
)


BUILTIN_GADGETS: tuple[Gadget, ...] = MATH + STRING + LOGIC + CONTROL + ARRAY
"""Every built-in gadget, in catalogue order (math, string, logic, control, array)."""
