"""Directed rounding: one bound of an interval computed so float rounding never excludes a
true result (the helpers :mod:`bassline.gadgets.numeric` builds interval arithmetic on).

Each ``*_rounded`` function takes a ``direction``: -1 for a lower bound (the result is at or
below the exact value), +1 for an upper bound (at or above it). Integer arithmetic stays
exact; a float result is the correctly rounded one, stepped out by one ``math.nextafter``
only when the rounding went inwards, which the exact error (from error-free transformations,
or :class:`fractions.Fraction` outside their range) tells.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from typing import Any

__all__ = [
    "EXACT_INT",
    "HUGE",
    "INF",
    "MAX_FLOAT",
    "TINY",
    "Bound",
    "Bounds",
    "add_rounded",
    "div_rounded",
    "exact_float",
    "mul_rounded",
    "outward",
    "overflow",
    "product_error",
    "quotient_error",
    "raw_quotient",
    "round_fraction",
    "sqrt_rounded",
    "step",
    "to_float",
    "widen",
]

INF = math.inf
"""An unbounded upper side (``-INF`` a lower one)."""
MAX_FLOAT = sys.float_info.max
"""The largest finite float."""
EXACT_INT = 2**53
"""Every integer up to this size (either sign) is exactly a float."""

Bound = int | float
"""One side of an interval: ``-inf`` and ``inf`` stand for an unbounded side."""
Bounds = tuple[Bound, Bound]
"""``(lo, hi)``: ``-inf`` and ``inf`` are unbounded sides. ``lo <= hi`` unless empty."""


def overflow(value: float, direction: int) -> float:
    """A bound for a finite result whose float rounded to ``value`` = +-inf."""
    if value > 0:
        return MAX_FLOAT if direction < 0 else INF
    return -INF if direction < 0 else -MAX_FLOAT


def to_float(x: int, direction: int) -> float:
    """A float at or beyond the integer ``x`` in ``direction`` (-1 down, +1 up)."""
    try:
        f = float(x)
    except OverflowError:
        return overflow(float(x > 0) * 2 - 1, direction)
    if direction < 0 and f > x:
        return math.nextafter(f, -INF)
    if direction > 0 and f < x:
        return math.nextafter(f, INF)
    return f


def round_fraction(q: Fraction, direction: int) -> float:
    """A float at or beyond the exact value ``q`` in ``direction``."""
    try:
        f = float(q)  # numerator / denominator: correctly rounded
    except OverflowError:
        return overflow(1.0 if q > 0 else -1.0, direction)
    if direction < 0 and f > q:
        return math.nextafter(f, -INF)
    if direction > 0 and f < q:
        return math.nextafter(f, INF)
    return f


def step(f: float, error: float | Fraction, direction: int) -> float:
    """``f`` is a rounded result; the true one is ``f + error``. The bound in ``direction``."""
    if direction < 0:
        return f if error >= 0 else math.nextafter(f, -INF)
    return f if error <= 0 else math.nextafter(f, INF)


_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two halves
TINY = 2.0**-960
"""Below this magnitude a product's error may underflow: exact fractions are used instead."""
HUGE = 2.0**995
"""Above this magnitude a product's error may overflow: exact fractions are used instead."""


def product_error(a: float, b: float, p: float) -> float | Fraction:
    """The exact ``a * b - p`` for ``p = fl(a * b)`` (Dekker's two-product, or Fractions)."""
    if TINY < abs(p) < HUGE and abs(a) < HUGE and abs(b) < HUGE:
        t = _SPLITTER * a
        ah = t - (t - a)
        al = a - ah
        t = _SPLITTER * b
        bh = t - (t - b)
        bl = b - bh
        return ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return Fraction(a) * Fraction(b) - Fraction(p)


def exact_float(x: Bound) -> float | None:
    """``x`` as a float if that is exact (None for an integer beyond 2**53)."""
    if type(x) is float:
        return x
    if -EXACT_INT <= x <= EXACT_INT:
        return float(x)
    return None


def add_rounded(a: Bound, b: Bound, direction: int) -> Bound:
    """``a + b`` rounded in ``direction`` (never NaN: only same-side infinities meet)."""
    if type(a) is int and type(b) is int:
        return a + b
    fa, fb = exact_float(a), exact_float(b)
    if fa is None or fb is None:  # an integer beyond 2**53
        if a - a != 0 or b - b != 0:
            return a + b  # an infinity plus a finite number
        return round_fraction(Fraction(a) + Fraction(b), direction)
    s = fa + fb
    if s - s != 0:  # an infinity
        if fa - fa != 0 or fb - fb != 0:
            return s
        return overflow(s, direction)
    bb = s - fa
    error = (fa - (s - bb)) + (fb - bb)  # Knuth's two-sum: fa + fb == s + error exactly
    return step(s, error, direction)


def mul_rounded(a: Bound, b: Bound, direction: int) -> Bound:
    """``a * b`` rounded in ``direction``; ``0 * inf`` is 0 (an interval holds only reals)."""
    if type(a) is int and type(b) is int:
        return a * b
    if a == 0 or b == 0:
        return 0.0
    fa, fb = exact_float(a), exact_float(b)
    if fa is None or fb is None:  # an integer beyond 2**53
        if a - a != 0 or b - b != 0:
            return float(a) * float(b)  # an infinity times a non-zero number
        return round_fraction(Fraction(a) * Fraction(b), direction)
    p = fa * fb
    if p - p != 0:
        if fa - fa != 0 or fb - fb != 0:
            return p
        return overflow(p, direction)
    return step(p, product_error(fa, fb, p), direction)


def div_rounded(a: Bound, b: Bound, direction: int) -> Bound | None:
    """``a / b`` (``b != 0``) rounded in ``direction``; None for ``inf / inf``."""
    if a == 0:
        return 0.0
    fa, fb = exact_float(a), exact_float(b)
    if fa is None or fb is None:  # an integer beyond 2**53
        if b - b != 0:
            return 0.0  # a finite number over an infinity
        if a - a != 0:
            return float(a) / float(b)
        return round_fraction(Fraction(a) / Fraction(b), direction)
    if fb - fb != 0:  # x / inf
        return None if fa - fa != 0 else 0.0
    if fa - fa != 0:
        return fa / fb
    q = fa / fb
    if q - q != 0:
        return overflow(q, direction)
    if q == 0 or abs(q) >= HUGE or abs(fb) >= HUGE or abs(fa) <= TINY:
        return round_fraction(Fraction(fa) / Fraction(fb), direction)
    p = q * fb
    if p - p != 0:  # q * fb overflows (q was rounded up to near the largest float)
        return round_fraction(Fraction(fa) / Fraction(fb), direction)
    residual = (fa - p) - product_error(q, fb, p)  # fa - q*fb, sign exact
    return step(q, residual if fb > 0 else -residual, direction)


def sqrt_rounded(a: Bound, direction: int) -> float:
    """The square root of ``a >= 0`` rounded in ``direction``."""
    if a == 0:
        return 0.0
    if a == INF:
        return INF
    fa = exact_float(a)
    if fa is None:  # a huge integer: bound it by floats first
        fa = to_float(int(a), direction)
    s = math.sqrt(fa)
    residual: float | Fraction
    if TINY < fa < HUGE:
        p = s * s
        residual = (fa - p) - product_error(s, s, p)
    else:
        residual = Fraction(fa) - Fraction(s) ** 2
    return step(s, residual, direction)


def outward(raw: list[tuple[Any, Any, float]], error: Any) -> Bounds:
    """The extreme rounded corner values, each stepped outward if its rounding went inward.

    ``raw`` holds float corners ``(a, b, fl(a op b))`` (NaN for a corner with no value);
    ``error(a, b, r)`` has the sign of the exact ``(a op b) - r``. A corner with a zero or an
    infinite operand is exact (by the interval conventions); an infinite result of finite
    operands is an overflow.
    """
    lo_raw = hi_raw = math.nan
    for _, _, r in raw:
        if r == r:
            if not lo_raw <= r:
                lo_raw = r
            if not hi_raw >= r:
                hi_raw = r
    lo = hi = math.nan
    for a, b, r in raw:
        if r != lo_raw and r != hi_raw:
            continue
        exact = a == 0 or b == 0 or a - a != 0 or b - b != 0
        overflowed = not exact and r - r != 0
        if r == lo_raw:
            v = r if exact else overflow(r, -1) if overflowed else step(r, error(a, b, r), -1)
            if not lo <= v:
                lo = v
        if r == hi_raw:
            v = r if exact else overflow(r, 1) if overflowed else step(r, error(a, b, r), 1)
            if not hi >= v:
                hi = v
    return (lo, hi)


def quotient_error(a: float, b: float, q: float) -> float | Fraction:
    """The sign-exact ``a / b - q`` (scaled by ``b``'s sign: only its sign matters)."""
    if abs(q) >= HUGE or abs(b) >= HUGE or abs(a) <= TINY:
        return Fraction(a) / Fraction(b) - Fraction(q)
    p = q * b
    if p - p != 0:
        return Fraction(a) / Fraction(b) - Fraction(q)
    residual = (a - p) - product_error(q, b, p)  # a - q*b, sign exact
    return residual if b > 0 else -residual


def raw_quotient(a: float, b: float) -> float:
    """``a / b`` rounded to nearest, with the interval conventions: ``x / inf`` is 0 for a
    finite x, ``0 / b`` is 0, and ``inf / inf`` is NaN (no corner value)."""
    if a == 0:
        return 0.0
    if b - b != 0:
        return math.nan if a - a != 0 else 0.0
    return a / b  # b is not 0; an overflow is +-inf


def widen(f: float, direction: int, ulps: int) -> float:
    for _ in range(ulps):
        f = math.nextafter(f, direction * INF)
    return f
