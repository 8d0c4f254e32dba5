"""The ``math`` gadgets: exact on plain numbers, outward-rounded on intervals
(:mod:`bassline.gadgets.numeric`)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from bassline.gadgets import numeric as num
from bassline.gadgets.base import Gadget, Inputs, Outputs
from bassline.gadgets.builtin import (
    NOTHING,
    PARTIAL_NUMBER,
    Activation,
    make,
    plain,
    present,
)
from bassline.gadgets.jsonish import (
    compute_number,
    is_number,
)
from bassline.lattices.values import Interval

__all__ = ["MATH"]


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
        if plain(a, b):
            return {output: compute_number(id, lambda: op(a, b))}
        result = interval_op(num.bounds(a), num.bounds(b))
        return NOTHING if result is None else {output: num.interval(result)}

    return make(
        "math",
        id,
        ("a", "b"),
        (output,),
        body,
        activation or present("a", "b"),
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
        if plain(value):
            return {"result": compute_number(id, lambda: op(value))}
        result = interval_op(num.bounds(value))
        return NOTHING if result is None else {"result": num.interval(result)}

    return make(
        "math",
        id,
        ("value",),
        ("result",),
        body,
        activation or present("value"),
        description,
        {"value": PARTIAL_NUMBER},
    )


_POWER_BIT_LIMIT = 65  # integer results beyond 64 bits cannot be stored; never compute them


def _power(ins: Inputs) -> Outputs:
    base, exponent = ins["base"], ins["exponent"]
    if not plain(base, exponent):
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
    make(
        "math",
        "power",
        ("base", "exponent"),
        ("result",),
        _power,
        present("base", "exponent"),
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
"""The math gadgets, in catalogue order."""
