"""Arithmetic on partial numbers: plain numbers and :class:`~bassline.lattices.Interval` values.

A plain number is the degenerate interval ``[x, x]``. Every operation here works on *bounds*,
pairs ``(lo, hi)`` where ``-inf``/``inf`` stand for an unbounded side, and is **sound**: for
every ``x`` in ``X`` and ``y`` in ``Y`` the true (real-number) result of ``op(x, y)`` lies in
``op(X, Y)``. Bounds are rounded outward so that float rounding never excludes a true result:

- integer bounds stay exact integers wherever Python's integer arithmetic is exact;
- a float bound is the correctly rounded result, stepped out by one ``math.nextafter`` only
  when the rounding went inwards (the exact error is computed with error-free transformations,
  or with :class:`fractions.Fraction` outside their range), so exact results stay exact
  (:mod:`bassline.gadgets.rounding` rounds one bound at a time);
- ``power`` with a non-integer exponent (or a whole one above 64, or a large integer power)
  relies on the platform's ``pow``, which is not correctly rounded: its bounds are stepped
  out by :data:`POW_ULPS` units in the last place, after an integer beyond ``2**53`` is
  rounded to the float on the outward side (``pow`` would round it to the nearest).

A result beyond the largest float keeps a finite bound on its near side (``lo`` is the
largest float) and is unbounded on its far side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from bassline.gadgets.rounding import (
    INF,
    MAX_FLOAT,
    Bound,
    Bounds,
    add_rounded,
    div_rounded,
    exact_float,
    mul_rounded,
    outward,
    overflow,
    product_error,
    quotient_error,
    raw_quotient,
    sqrt_rounded,
    to_float,
    widen,
)
from bassline.lattices.values import Interval

__all__ = [
    "POW_ULPS",
    "WHOLE",
    "Bounds",
    "abs_",
    "add",
    "bounds",
    "compare",
    "div",
    "div_parts",
    "equal",
    "hull",
    "intersect",
    "interval",
    "is_partial_number",
    "maximum",
    "minimum",
    "mul",
    "neg",
    "power",
    "quotient",
    "roots",
    "sqr",
    "sqrt",
    "sub",
    "truth",
]


_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
POW_ULPS = 2
"""How many units in the last place ``power`` widens each float bound by (``pow`` is faithful,
not correctly rounded, on the platforms Python supports)."""

WHOLE: Bounds = (-INF, INF)
"""The whole number line: no information."""


# ---------------------------------------------------------------------- conversions


def is_partial_number(value: Any) -> bool:
    """A number (``int`` or ``float``, never ``bool``) or an :class:`Interval`."""
    t = type(value)
    return t is int or t is float or t is Interval


def bounds(value: Any) -> Bounds:
    """``(lo, hi)`` of a number or an interval (callers check :func:`is_partial_number`)."""
    t = type(value)
    if t is int or t is float:
        return (value, value)
    lo, hi = value.lo, value.hi
    return (-INF if lo is None else lo, INF if hi is None else hi)


def _content_bound(x: Bound, direction: int) -> Bound | None:
    if x == -INF:
        return None if direction < 0 else -MAX_FLOAT
    if x == INF:
        return None if direction > 0 else MAX_FLOAT
    if type(x) is int and not _INT_MIN <= x <= _INT_MAX:
        return to_float(x, direction)
    return x


def interval(b: Bounds) -> Interval:
    """The :class:`Interval` holding bounds ``b`` (unbounded sides become ``None``).

    A lower bound of ``+inf`` (an overflow) becomes the largest float, and an upper bound of
    ``-inf`` the smallest: still true bounds, and finite as content must be. Integers beyond
    the 64-bit range content allows become floats, rounded outward.
    """
    return Interval(_content_bound(b[0], -1), _content_bound(b[1], 1))


def intersect(a: Bounds, b: Bounds) -> Bounds | None:
    """The bounds of the numbers in both ``a`` and ``b``; None when they do not overlap."""
    lo = a[0] if a[0] >= b[0] else b[0]
    hi = a[1] if a[1] <= b[1] else b[1]
    return (lo, hi) if lo <= hi else None


def hull(parts: Iterable[Bounds]) -> Bounds | None:
    """The smallest bounds holding every part; None when there are no parts."""
    lo: Bound | None = None
    hi: Bound | None = None
    for p in parts:
        lo = p[0] if lo is None or p[0] < lo else lo
        hi = p[1] if hi is None or p[1] > hi else hi
    if lo is None or hi is None:
        return None
    return (lo, hi)


def _neg(a: Bound) -> Bound:
    return -a


# ---------------------------------------------------------------------- operations on bounds


def add(x: Bounds, y: Bounds) -> Bounds:
    """``X + Y``."""
    return (add_rounded(x[0], y[0], -1), add_rounded(x[1], y[1], 1))


def sub(x: Bounds, y: Bounds) -> Bounds:
    """``X - Y``."""
    return (add_rounded(x[0], _neg(y[1]), -1), add_rounded(x[1], _neg(y[0]), 1))


def neg(x: Bounds) -> Bounds:
    """``-X``."""
    return (_neg(x[1]), _neg(x[0]))


def mul(x: Bounds, y: Bounds) -> Bounds:
    """``X * Y``: the extreme corner products, each rounded outward."""
    x0, x1 = x
    y0, y1 = y
    if type(x0) is int and type(x1) is int and type(y0) is int and type(y1) is int:
        ps = (x0 * y0, x0 * y1, x1 * y0, x1 * y1)
        return (min(ps), max(ps))
    corners = ((x0, y0), (x0, y1), (x1, y0), (x1, y1))
    f = [exact_float(b) for b in (x0, x1, y0, y1)]
    if None in f:  # an integer beyond 2**53: round every corner both ways
        return (
            min(mul_rounded(a, b, -1) for a, b in corners),
            max(mul_rounded(a, b, 1) for a, b in corners),
        )
    # each float product is correctly rounded, and rounding is monotone: the true extreme
    # is among the corners whose rounded product is the extreme one
    fx0, fx1, fy0, fy1 = f
    fcorners = dict.fromkeys(((fx0, fy0), (fx0, fy1), (fx1, fy0), (fx1, fy1)))
    raw = [(a, b, 0.0 if a == 0 or b == 0 else a * b) for a, b in fcorners]  # type: ignore[operator]
    return outward(raw, product_error)


def _div_nonzero(x: Bounds, y: Bounds) -> Bounds:
    """``X / Y`` for ``Y`` not holding 0: the extreme corner quotients, rounded outward."""
    corners = ((x[0], y[0]), (x[0], y[1]), (x[1], y[0]), (x[1], y[1]))
    f = [exact_float(b) for b in (*x, *y)]
    if None in f:  # an integer beyond 2**53: round every corner both ways
        los = [q for a, b in corners if (q := div_rounded(a, b, -1)) is not None]
        his = [q for a, b in corners if (q := div_rounded(a, b, 1)) is not None]
        return (min(los), max(his))
    fx0, fx1, fy0, fy1 = f
    fcorners = dict.fromkeys(((fx0, fy0), (fx0, fy1), (fx1, fy0), (fx1, fy1)))
    raw = [(a, b, raw_quotient(a, b)) for a, b in fcorners]  # type: ignore[arg-type]
    return outward(raw, quotient_error)  # inf / inf (NaN) is no corner value


def _div_by_positive_touching_zero(x: Bounds, d: Bound) -> Bounds:
    """``X / (0, d]``: every quotient of a numerator in X by a divisor in (0, d]."""
    lo = div_rounded(x[0], d, -1) if x[0] >= 0 else -INF
    hi = div_rounded(x[1], d, 1) if x[1] <= 0 else INF
    return (-INF if lo is None else lo, INF if hi is None else hi)


def div_parts(x: Bounds, y: Bounds) -> list[Bounds]:
    """``x / y`` for every ``x`` in X and non-zero ``y`` in Y, as at most two intervals.

    A divisor interval with 0 strictly inside gives two parts (its negative and its positive
    divisors); one that only touches 0 gives quotients unbounded on that side; ``[0, 0]``
    gives none.
    """
    y0, y1 = y
    if y0 > 0 or y1 < 0:
        return [_div_nonzero(x, y)]
    parts = []
    if y0 < 0:  # the divisors in [y0, 0): X / [y0, 0) = -X / (0, -y0]
        parts.append(_div_by_positive_touching_zero(neg(x), _neg(y0)))
    if y1 > 0:  # the divisors in (0, y1]
        parts.append(_div_by_positive_touching_zero(x, y1))
    return parts


def div(x: Bounds, y: Bounds) -> Bounds | None:
    """``X / Y``: the hull of :func:`div_parts`; None when Y is exactly ``[0, 0]``."""
    return hull(div_parts(x, y))


def quotient(c: Bounds, b: Bounds) -> list[Bounds]:
    """Every ``a`` with ``a * b = c`` for some ``b`` in B and ``c`` in C, as intervals.

    What a product constraint knows about one factor. Unlike :func:`div_parts` it includes
    ``b = 0``: when 0 is in both B and C any ``a`` works (the whole line); when B is
    ``[0, 0]`` and C does not hold 0 no ``a`` works (no parts).
    """
    if b[0] <= 0 <= b[1] and c[0] <= 0 <= c[1]:
        return [WHOLE]
    return div_parts(c, b)


def sqr(x: Bounds) -> Bounds:
    """``{x * x : x in X}`` (not ``X * X``, which forgets both factors are the same x)."""
    x0, x1 = x
    if x0 >= 0:
        return (mul_rounded(x0, x0, -1), mul_rounded(x1, x1, 1))
    if x1 <= 0:
        return (mul_rounded(x1, x1, -1), mul_rounded(x0, x0, 1))
    high = max(mul_rounded(x0, x0, 1), mul_rounded(x1, x1, 1))
    return (0, high)


def sqrt(x: Bounds) -> Bounds | None:
    """Square roots of the non-negative part of X; None when X is entirely negative."""
    if x[1] < 0:
        return None
    return (sqrt_rounded(max(x[0], 0), -1), sqrt_rounded(x[1], 1))


def roots(y: Bounds) -> list[Bounds]:
    """Every ``x`` with ``x * x`` in Y, as the negative and the positive branch (may be [])."""
    r = sqrt(y)
    if r is None:
        return []
    return [neg(r), r]


def abs_(x: Bounds) -> Bounds:
    """``|X|``."""
    x0, x1 = x
    if x0 >= 0:
        return x
    if x1 <= 0:
        return neg(x)
    return (0, max(_neg(x0), x1))


def minimum(x: Bounds, y: Bounds) -> Bounds:
    """``min(x, y)`` over X and Y."""
    return (min(x[0], y[0]), min(x[1], y[1]))


def maximum(x: Bounds, y: Bounds) -> Bounds:
    """``max(x, y)`` over X and Y."""
    return (max(x[0], y[0]), max(x[1], y[1]))


def _pow_bound(base: Bound, exponent: Bound, direction: int) -> Bound:
    """``base ** exponent`` for ``base >= 0`` (limits at 0 and inf), rounded in ``direction``."""
    if exponent == 0:
        return 1
    if base == 0:
        return 0 if exponent > 0 else INF
    if base == INF:
        return INF if exponent > 0 else 0.0
    if exponent == INF:
        return INF if base > 1 else 1 if base == 1 else 0.0
    if exponent == -INF:
        return 0.0 if base > 1 else 1 if base == 1 else INF
    small = type(base) is int and type(exponent) is int and exponent > 0
    if small and exponent * math.log2(base) <= 1000:
        return int(base**exponent)
    # math.pow rounds an integer beyond 2**53 to the nearest float: round it the way that
    # moves the power outward instead (a lower bound's base down when the power grows with
    # the base, up when it shrinks), or the bound could miss the true power by many units
    if type(base) is int and exact_float(base) is None:
        base = to_float(base, direction if exponent > 0 else -direction)
    if type(exponent) is int and exact_float(exponent) is None:
        exponent = to_float(exponent, direction if base > 1 else -direction)
    try:
        f = math.pow(base, exponent)
    except OverflowError:
        return overflow(1.0, direction)
    if f == 0:  # underflow: the true result is positive
        return 0.0 if direction < 0 else widen(0.0, 1, POW_ULPS)
    return widen(f, direction, POW_ULPS)


def _whole(y: Bounds) -> int | None:
    """The exponent as an ``int`` when Y is one whole number."""
    y0, y1 = y
    if y0 != y1 or y0 - y0 != 0:
        return None
    if type(y0) is int:
        return y0
    return int(y0) if float(y0).is_integer() else None


def power(x: Bounds, y: Bounds) -> Bounds | None:
    """``X ** Y`` over the real results; None when there are none.

    With one whole exponent ``n`` every base counts (``n < 0`` divides 1 by ``X ** -n``, so
    a base interval holding 0 gives unbounded results). Otherwise only bases ``>= 0`` have
    real powers: the negative part of X is left out, as :func:`sqrt` does. An exponent
    interval wider than one number with a base that can be negative raises ValueError:
    real powers of negative bases exist only at whole exponents, which is no interval.
    """
    n = _whole(y)
    if n is not None:
        if n == 0:
            return (1, 1)
        if n < 0:
            return div((1, 1), _int_power(x, -n))
        return _int_power(x, n)
    if y[0] != y[1] and x[0] < 0:
        raise ValueError(
            "power: a base that can be negative with an exponent interval wider than one "
            "number has no interval of real results"
        )
    if x[1] < 0:
        return None
    base = (max(x[0], 0), x[1])
    corners = [(a, b) for a in base for b in y]
    lo = min(_pow_bound(a, b, -1) for a, b in corners)
    hi = max(_pow_bound(a, b, 1) for a, b in corners)
    return (lo, hi)


def _int_power(x: Bounds, n: int) -> Bounds:
    """``{x ** n : x in X}`` for a whole ``n > 0``."""
    x0, x1 = x
    if n % 2 == 1 or x0 >= 0:  # monotone increasing (odd n, or a non-negative base)
        return (_signed_power(x0, n, -1), _signed_power(x1, n, 1))
    if x1 <= 0:  # even n, base <= 0: decreasing
        return (_signed_power(x1, n, -1), _signed_power(x0, n, 1))
    return (0, max(_signed_power(x0, n, 1), _signed_power(x1, n, 1)))


def _signed_power(a: Bound, n: int, direction: int) -> Bound:
    """``a ** n`` for a whole ``n > 0`` and any sign of ``a``, rounded in ``direction``."""
    if a >= 0:
        return _natural_power(a, n, direction)
    magnitude_direction = direction if n % 2 == 0 else -direction
    magnitude = _natural_power(_neg(a), n, magnitude_direction)
    return magnitude if n % 2 == 0 else _neg(magnitude)


def _natural_power(a: Bound, n: int, direction: int) -> Bound:
    """``a ** n`` for ``a >= 0`` and a whole ``n > 0``: by directed squaring when n is small."""
    if type(a) is int or n > 64 or a == INF:
        return _pow_bound(a, n, direction)
    result: Bound = 1
    square = a
    while True:  # every factor is >= 0, so rounding each product the same way is sound
        if n & 1:
            result = mul_rounded(result, square, direction)
        n >>= 1
        if not n:
            return result
        square = mul_rounded(square, square, direction)


# ---------------------------------------------------------------------- answers that must be certain


def truth(value: Any) -> bool | None:
    """Truthiness of content; for an interval only when certain (None when it may be 0)."""
    if type(value) is Interval:
        lo, hi = bounds(value)
        if lo > 0 or hi < 0:
            return True
        if lo == 0 and hi == 0:
            return False
        return None
    return bool(value)


def compare(op: str, x: Bounds, y: Bounds) -> bool | None:
    """``x op y`` for every x in X and y in Y (True), for none (False), or not certain (None).

    ``op`` is one of ``>``, ``<``, ``>=``, ``<=``.
    """
    if op == "<":
        op, x, y = ">", y, x
    elif op == "<=":
        op, x, y = ">=", y, x
    if op == ">":
        if x[0] > y[1]:
            return True
        if x[1] <= y[0]:
            return False
        return None
    if x[0] >= y[1]:
        return True
    if x[1] < y[0]:
        return False
    return None


def equal(x: Bounds, y: Bounds) -> bool | None:
    """Whether x == y for every x in X and y in Y (True), for none (False), or not certain."""
    if x[0] == x[1] == y[0] == y[1]:
        return True
    if x[1] < y[0] or y[1] < x[0]:
        return False
    return None
