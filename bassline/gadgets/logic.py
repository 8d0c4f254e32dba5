"""The ``logic`` gadgets: truthiness, structural equality and comparisons (on intervals only
when the answer is certain; nothing is emitted while it is not)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from bassline.content import values_equal
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
from bassline.lattices.values import Interval

__all__ = ["LOGIC", "Truth"]


Truth = bool | None
"""Truthiness that may not be known: an interval holding 0 and other numbers (None)."""


def _logic(
    id: str, op: Callable[[Any, Any], Truth], description: str, activation: Activation
) -> Gadget:
    """A logic gadget ``a, b -> result`` (a boolean; nothing while the answer is not certain)."""

    def body(ins: Inputs) -> Outputs:
        result = op(ins["a"], ins["b"])
        return NOTHING if result is None else {"result": bool(result)}

    return make("logic", id, ("a", "b"), ("result",), body, activation, description)


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
    return _logic(id, lambda a, b: op(num.truth(a), num.truth(b)), description, present("a", "b"))


def _not(ins: Inputs) -> Outputs:
    value = num.truth(ins["value"])
    return NOTHING if value is None else {"result": not value}


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
        if plain(a, b):
            return op(a, b)
        return num.compare(symbol, num.bounds(a), num.bounds(b))

    gadget = _logic(id, compare, description, present("a", "b"))
    return make(
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
    make(
        "logic",
        "not",
        ("value",),
        ("result",),
        _not,
        present("value"),
        "result = value is falsy",
    ),
    _logic("equals", _equal, "result = a and b are structurally equal", present("a", "b")),
    _logic(
        "notEquals",
        _not_equal,
        "result = a and b are not structurally equal",
        present("a", "b"),
    ),
    _compare("greaterThan", ">", operator.gt, "result = a > b"),
    _compare("lessThan", "<", operator.lt, "result = a < b"),
    _compare("greaterOrEqual", ">=", operator.ge, "result = a >= b"),
    _compare("lessOrEqual", "<=", operator.le, "result = a <= b"),
)
"""The logic gadgets, in catalogue order."""
