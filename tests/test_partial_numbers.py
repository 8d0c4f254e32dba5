"""Math, comparison and logic gadgets on intervals: sound bounds, and answers only when certain.

Each property draws intervals (unbounded sides, negatives, intervals across 0, huge and tiny
floats, integers beyond 2**53) or plain numbers mixed with intervals, then points inside
them, and checks the true real-number result of the point (exact, with Fraction or a
60-digit Decimal) against the gadget's interval: for every x in X and y in Y,
op(x, y) is in op(X, Y). These are pure functions: they run no event loop, so they run once
(the network-level properties in tests/core/test_constraints.py run on asyncio and trio).
"""

from __future__ import annotations

import decimal
import math
import sys
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bassline.gadgets import get_gadget, rounding
from bassline.gadgets import numeric as num
from bassline.lattices import Interval

MAXF = sys.float_info.max

# --- strategies --------------------------------------------------------------------------------

bound_values = st.one_of(
    st.integers(-50, 50),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 0.0, -0.0, 1, -1, 0.5, 2**53 + 1, 5e-324, -5e-324, MAXF, -MAXF]),
)


@st.composite
def intervals(draw: st.DrawFn, elements: st.SearchStrategy[Any] = bound_values) -> Interval:
    a, b = draw(elements), draw(elements)
    lo, hi = (a, b) if a <= b else (b, a)
    if draw(st.integers(0, 5)) == 0:
        lo = None
    if draw(st.integers(0, 5)) == 0:
        hi = None
    return Interval(lo, hi)


def partial(elements: st.SearchStrategy[Any] = bound_values) -> st.SearchStrategy[Any]:
    """An interval, or sometimes a plain number (a number is the degenerate interval)."""
    return st.one_of(intervals(elements), intervals(elements), elements)


@st.composite
def points(draw: st.DrawFn, value: Any, n: int = 4) -> list[Fraction]:
    """Exact points of a number or an interval: its bounds, 0 when inside, and random ones."""
    lo, hi = num.bounds(value)
    picks: list[Fraction] = []
    for b in (lo, hi):
        if b - b == 0:
            picks.append(Fraction(b))
    if lo <= 0 <= hi:
        picks.append(Fraction(0))
    low = None if lo == -math.inf else rounding.to_float(lo, 1) if type(lo) is int else lo
    high = None if hi == math.inf else rounding.to_float(hi, -1) if type(hi) is int else hi
    low = None if low is None else low + 0.0  # -0.0 + 0.0 is 0.0: hypothesis wants lo <= hi
    high = None if high is None else high + 0.0
    if low is None or high is None or low <= high:
        for _ in range(n):
            x = draw(st.floats(low, high, allow_nan=False, allow_infinity=False))
            picks.append(Fraction(x))
    if type(lo) is int and type(hi) is int:
        picks.append(Fraction(draw(st.integers(lo, hi))))
    if lo == -math.inf:
        picks.append(Fraction(-MAXF) * 2)  # beyond any float: still a real in X
    if hi == math.inf:
        picks.append(Fraction(MAXF) * 2)
    return [p for p in picks if lo <= p <= hi]


def fixed_points(value: Any) -> list[Fraction]:
    """Deterministic points of a number or an interval: bounds, 0, middle, beyond-float ones."""
    lo, hi = num.bounds(value)
    picks = [Fraction(b) for b in (lo, hi) if b - b == 0]
    if lo <= 0 <= hi:
        picks.append(Fraction(0))
    if lo - lo == 0 and hi - hi == 0:
        picks.append((Fraction(lo) + Fraction(hi)) / 2)
    if lo == -math.inf:
        picks.append(Fraction(-MAXF) * 2)
    if hi == math.inf:
        picks.append(Fraction(MAXF) * 2)
    return picks


def holds(result: Any, true: Fraction) -> bool:
    """Whether the exact value ``true`` lies in the gadget's result."""
    lo, hi = num.bounds(result)
    return lo <= true <= hi


def interval_result(outputs: dict[str, Any], port: str) -> Interval:
    value = outputs[port]
    assert type(value) is Interval, f"{port} = {value!r} should be an interval"
    assert value.lo is None or value.hi is None or value.lo <= value.hi
    return value


def mixed(a: Any, b: Any) -> bool:
    return type(a) is Interval or type(b) is Interval


# --- arithmetic --------------------------------------------------------------------------------

BINARY = {
    "add": ("sum", lambda x, y: x + y),
    "subtract": ("difference", lambda x, y: x - y),
    "multiply": ("product", lambda x, y: x * y),
    "min": ("min", min),
    "max": ("max", max),
}


def check_binary(gadget_id: str, a: Any, b: Any, xs: list[Fraction], ys: list[Fraction]) -> None:
    port, op = BINARY[gadget_id]
    result = interval_result(dict(get_gadget(gadget_id).run({"a": a, "b": b})), port)
    for x in xs:
        for y in ys:
            assert holds(result, op(x, y)), (x, y, result)


@pytest.mark.parametrize("gadget_id", list(BINARY))
@given(data=st.data(), a=partial(), b=partial())
def test_binary_math_bounds_every_true_result(gadget_id: str, data: Any, a: Any, b: Any) -> None:
    assume(mixed(a, b))
    check_binary(gadget_id, a, b, data.draw(points(a)), data.draw(points(b)))


EDGE_PAIRS = [
    (Interval(0, 1), Interval(1, None)),  # 0 * inf is 0, not NaN
    (Interval(MAXF, MAXF), Interval(MAXF, MAXF)),  # overflow
    (Interval(0.1, 0.1), Interval(0.2, 0.2)),  # an inexact float sum
    (Interval(2**63, 2**64 - 1), 0.5),  # integers beyond 2**53 with a float
    (Interval(None, None), Interval(-0.0, 0.0)),
    (Interval(5e-324, 5e-324), Interval(0.5, 0.5)),  # underflow
    (Interval(-3, 2), Interval(-5, 7)),  # both across 0
]


@pytest.mark.parametrize("gadget_id", list(BINARY))
@pytest.mark.parametrize(("a", "b"), EDGE_PAIRS)
def test_binary_math_on_edge_cases(gadget_id: str, a: Any, b: Any) -> None:
    check_binary(gadget_id, a, b, fixed_points(a), fixed_points(b))
    check_binary(gadget_id, b, a, fixed_points(b), fixed_points(a))


def check_divide(a: Any, b: Any, xs: list[Fraction], ys: list[Fraction]) -> None:
    g = get_gadget("divide")
    if num.bounds(b) == (0, 0):  # exactly zero: no quotient, the gadget waits
        assert not g.is_active({"a": a, "b": b})
        return
    result = interval_result(dict(g.run({"a": a, "b": b})), "quotient")
    for x in xs:
        for y in ys:
            if y != 0:
                assert holds(result, x / y), (x, y, result)


@given(data=st.data(), a=partial(), b=partial())
def test_divide_bounds_every_quotient_by_a_nonzero_divisor(data: Any, a: Any, b: Any) -> None:
    assume(mixed(a, b))
    check_divide(a, b, data.draw(points(a)), data.draw(points(b)))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        *EDGE_PAIRS,
        (Interval(1, 2), Interval(-1, 1)),  # a divisor across 0
        (Interval(-1, 1), Interval(0, 1)),  # both hold 0
        (Interval(1, 1), Interval(3, 3)),  # 1/3 is inexact
        (Interval(1e308, 1e308), Interval(1e-308, 1e-308)),  # overflow
        (Interval(None, -1), Interval(0, 0)),
    ],
)
def test_divide_on_edge_cases(a: Any, b: Any) -> None:
    check_divide(a, b, fixed_points(a), fixed_points(b))
    check_divide(b, a, fixed_points(b), fixed_points(a))


def test_division_by_an_interval_holding_zero() -> None:
    def quotient(a: Any, b: Any) -> Any:
        return get_gadget("divide").run({"a": a, "b": b})["quotient"]

    assert quotient(Interval(1, 2), Interval(0, 4)) == Interval(0.25, None)  # touches 0 above
    assert quotient(Interval(1, 2), Interval(-4, 0)) == Interval(None, -0.25)
    assert quotient(Interval(1, 2), Interval(-1, 1)) == Interval(None, None)  # two rays: hull
    assert quotient(Interval(0, 0), Interval(-1, 1)) == Interval(0.0, 0.0)
    assert quotient(Interval(-1, 1), Interval(0, 1)) == Interval(None, None)
    assert not get_gadget("divide").is_active({"a": Interval(1, 2), "b": Interval(0, 0)})
    assert not get_gadget("divide").is_active({"a": Interval(1, 2), "b": 0})


UNARY = {
    "abs": lambda x: abs(x),
    "negate": lambda x: -x,
}


@pytest.mark.parametrize("gadget_id", list(UNARY))
@given(data=st.data(), value=intervals())
def test_abs_and_negate_bound_every_true_result(gadget_id: str, data: Any, value: Any) -> None:
    result = interval_result(dict(get_gadget(gadget_id).run({"value": value})), "result")
    for x in data.draw(points(value)):
        assert holds(result, UNARY[gadget_id](x))


def sqrt_holds(result: Any, x: Fraction) -> bool:
    """Whether sqrt(x) (x >= 0) lies in result, decided exactly: lo <= sqrt(x) <= hi."""
    lo, hi = num.bounds(result)
    above_lo = lo <= 0 or Fraction(lo) ** 2 <= x
    below_hi = hi == math.inf or (hi >= 0 and x <= Fraction(hi) ** 2)
    return above_lo and below_hi


def check_sqrt(value: Any, xs: list[Fraction]) -> None:
    g = get_gadget("sqrt")
    if num.bounds(value)[1] < 0:  # entirely negative: no real root; waits, as for -1
        assert not g.is_active({"value": value})
        return
    result = interval_result(dict(g.run({"value": value})), "result")
    for x in xs:
        if x >= 0:
            assert sqrt_holds(result, x), (x, result)
    assert num.bounds(result)[0] >= 0


@given(data=st.data(), value=intervals())
def test_sqrt_bounds_the_root_of_every_non_negative_value(data: Any, value: Any) -> None:
    check_sqrt(value, data.draw(points(value)))


@pytest.mark.parametrize(
    "value",
    [Interval(2, 2), Interval(-4, 9), Interval(5e-324, 2**64 - 1), Interval(MAXF, None)],
)
def test_sqrt_on_edge_cases(value: Any) -> None:
    check_sqrt(value, fixed_points(value))


def test_sqrt_of_a_partly_negative_interval_is_the_root_of_its_non_negative_part() -> None:
    g = get_gadget("sqrt")
    assert g.run({"value": Interval(-4, 9)}) == {"result": Interval(0.0, 3.0)}
    assert g.run({"value": Interval(None, 4)}) == {"result": Interval(0.0, 2.0)}
    assert not g.is_active({"value": Interval(-9, -4)})


decimal_context = decimal.Context(prec=60, Emax=10**9, Emin=-(10**9))


def true_power(x: Fraction, y: Fraction) -> decimal.Decimal | Fraction | None:
    """The real x ** y exactly (whole y) or to 60 digits; None when not a real number."""
    if y.denominator == 1:
        if x == 0 and y < 0:
            return None
        if abs(y) <= 64:
            return x ** int(y)
    if x < 0:
        return None
    if x == 0:
        return Fraction(0) if y > 0 else Fraction(1) if y == 0 else None
    dx = decimal_context.divide(decimal.Decimal(x.numerator), decimal.Decimal(x.denominator))
    dy = decimal_context.divide(decimal.Decimal(y.numerator), decimal.Decimal(y.denominator))
    return decimal_context.power(dx, dy)


def power_holds(result: Any, true: decimal.Decimal | Fraction) -> bool:
    lo, hi = num.bounds(result)
    if isinstance(true, Fraction):
        return lo <= true <= hi
    low = decimal.Decimal(lo) if lo - lo == 0 else None
    high = decimal.Decimal(hi) if hi - hi == 0 else None
    return (low is None or low <= true) and (high is None or true <= high)


power_bases = st.one_of(
    st.integers(-20, 20), st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([0, 0.0])
)
power_exponents = st.one_of(
    st.integers(-6, 6), st.floats(-8, 8, allow_nan=False), st.sampled_from([0.5, -0.5, 1 / 3])
)


def check_power(base: Any, exponent: Any, xs: list[Fraction], ys: list[Fraction]) -> None:
    g = get_gadget("power")
    try:
        result = interval_result(dict(g.run({"base": base, "exponent": exponent})), "result")
    except ValueError as exc:
        # documented: no real result at all, or a negative base with a range of exponents
        wide = num.bounds(exponent)[0] != num.bounds(exponent)[1]
        if "no real result" in str(exc):
            assert all(true_power(x, y) is None for x in xs for y in ys if x != 0 or y < 0)
        else:
            assert wide and num.bounds(base)[0] < 0, exc
        return
    for x in xs:
        for y in ys:
            if abs(y) > 1000 or abs(x) > 10**6:
                continue  # beyond what the reference computes quickly
            true = true_power(x, y)
            if true is not None:
                assert power_holds(result, true), (x, y, result)


@given(
    data=st.data(),
    base=partial(power_bases),
    exponent=st.one_of(power_exponents, intervals(power_exponents)),
)
def test_power_bounds_every_real_power(data: Any, base: Any, exponent: Any) -> None:
    assume(mixed(base, exponent))
    check_power(base, exponent, data.draw(points(base, 3)), data.draw(points(exponent, 3)))


@pytest.mark.parametrize(
    ("base", "exponent", "expected"),
    [
        (Interval(-8, 8), 1 / 3, None),  # only x >= 0 has a real cube root
        (Interval(-2, 3), -2, Interval(0.1111111111111111, None)),  # base across 0
        (Interval(-2, 3), 3, Interval(-8, 27)),  # integers stay exact
        (Interval(2.0, 3.0), 2, Interval(4.0, 9.0)),  # small whole powers multiply exactly
        (Interval(0, 0), Interval(1, 2), None),
    ],
)
def test_power_on_edge_cases(base: Any, exponent: Any, expected: Any) -> None:
    check_power(base, exponent, fixed_points(base), fixed_points(exponent))
    if expected is not None:
        assert get_gadget("power").run({"base": base, "exponent": exponent}) == {"result": expected}


big_ints = st.integers(2**53 + 1, 2**64 - 1)


@given(
    data=st.data(),
    base=st.one_of(intervals(big_ints), big_ints),
    exponent=st.one_of(st.floats(-18, 18, allow_nan=False), intervals(st.integers(-18, 18))),
)
def test_power_of_an_integer_beyond_2_53_bounds_every_real_power(
    data: Any, base: Any, exponent: Any
) -> None:
    """pow rounds such a base to the nearest float: the bound must round it outward."""
    assume(mixed(base, exponent) and num.bounds(base)[0] > 0)
    result = interval_result(
        dict(get_gadget("power").run({"base": base, "exponent": exponent})), "result"
    )
    for x in data.draw(points(base, 3)):
        for y in data.draw(points(exponent, 3)):
            true = true_power(x, y) if abs(y) <= 18 else None  # the exponents drawn
            if true is not None:
                assert power_holds(result, true), (x, y, result)


@pytest.mark.parametrize(
    ("base", "exponent"),
    [
        (Interval(2**54 + 2, 2**54 + 2), 15.5),  # the base is between floats: pow's is 2**54
        (Interval(2**54 + 2, 2**54 + 2), -15.5),
        (Interval(2**53 + 1, 2**53 + 1), 19),  # a whole power beyond the exact integers
        (Interval(1 + 2**-52, 1 + 2**-52), 2**60 + 127),  # pow rounds the exponent to 2**60
        (Interval(1 - 2**-53, 1 - 2**-53), 2**60 + 127),
    ],
)
def test_power_rounds_an_integer_beyond_2_53_outward(base: Any, exponent: Any) -> None:
    result = get_gadget("power").run({"base": base, "exponent": exponent})["result"]
    true = decimal_context.power(decimal.Decimal(base.lo), decimal.Decimal(exponent))
    assert power_holds(result, true), (result, true)


def test_power_refuses_a_negative_base_with_a_range_of_exponents() -> None:
    with pytest.raises(ValueError, match="no interval of real results"):
        get_gadget("power").run({"base": Interval(-2, 2), "exponent": Interval(1, 2)})
    with pytest.raises(ValueError, match="no real result"):
        get_gadget("power").run({"base": Interval(0, 0), "exponent": -1})


# --- comparisons and logic: an answer only when certain ----------------------------------------

COMPARE = {
    "greaterThan": lambda x, y: x > y,
    "lessThan": lambda x, y: x < y,
    "greaterOrEqual": lambda x, y: x >= y,
    "lessOrEqual": lambda x, y: x <= y,
    "equals": lambda x, y: x == y,
    "notEquals": lambda x, y: x != y,
}


@pytest.mark.parametrize("gadget_id", list(COMPARE))
@given(data=st.data(), a=partial(), b=partial())
def test_comparisons_answer_only_when_true_for_every_pair(
    gadget_id: str, data: Any, a: Any, b: Any
) -> None:
    assume(mixed(a, b))
    out = dict(get_gadget(gadget_id).run({"a": a, "b": b}))
    pairs = [(x, y) for x in data.draw(points(a)) for y in data.draw(points(b))]
    truths = {COMPARE[gadget_id](x, y) for x, y in pairs}
    if out:
        assert truths == {out["result"]}  # never contradicted by any pair
    if num.bounds(a)[0] == num.bounds(a)[1] and num.bounds(b)[0] == num.bounds(b)[1]:
        assert out  # two exact values: the answer is certain, so it is given


def test_comparisons_on_intervals() -> None:
    def answer(gadget_id: str, a: Any, b: Any) -> Any:
        return get_gadget(gadget_id).run({"a": a, "b": b}).get("result")

    assert answer("greaterThan", Interval(3, 4), Interval(1, 2)) is True
    assert answer("greaterThan", Interval(1, 2), Interval(2, 3)) is False
    assert answer("greaterThan", Interval(1, 3), 2) is None  # not certain: nothing
    assert answer("greaterOrEqual", Interval(2, None), Interval(None, 2)) is True
    assert answer("lessThan", 1, Interval(None, None)) is None
    assert answer("equals", Interval(2, 2), 2) is True
    assert answer("equals", Interval(1, 2), Interval(1, 2)) is None  # maybe 1 and 2
    assert answer("notEquals", Interval(1, 2), Interval(3, 4)) is True
    assert answer("equals", Interval(1, 2), "x") is False  # not a number: structural


truths = st.sampled_from([True, False, 0, 1, None, "", "x"]) | intervals()


def truth_points(value: Any, draw: Any) -> set[bool]:
    if type(value) is Interval:
        return {x != 0 for x in draw(points(value))}
    return {bool(value)}


LOGIC = {
    "and": lambda x, y: x and y,
    "or": lambda x, y: x or y,
    "xor": lambda x, y: x != y,
}


@pytest.mark.parametrize("gadget_id", list(LOGIC))
@given(data=st.data(), a=truths, b=truths)
def test_logic_answers_only_when_every_value_agrees(
    gadget_id: str, data: Any, a: Any, b: Any
) -> None:
    out = dict(get_gadget(gadget_id).run({"a": a, "b": b}))
    outcomes = {
        LOGIC[gadget_id](x, y)
        for x in truth_points(a, data.draw)
        for y in truth_points(b, data.draw)
    }
    if out:
        assert outcomes == {out["result"]}
    else:
        assert type(a) is Interval or type(b) is Interval


def test_logic_and_control_on_intervals() -> None:
    def run(gadget_id: str, **ins: Any) -> dict[str, Any]:
        return dict(get_gadget(gadget_id).run(ins))

    maybe = Interval(-1, 1)  # may be 0 (false) or not (true)
    assert run("and", a=maybe, b=0) == {"result": False}  # false whatever maybe is
    assert run("and", a=maybe, b=1) == {}
    assert run("or", a=maybe, b=1) == {"result": True}
    assert run("not", value=Interval(2, 3)) == {"result": False}
    assert run("not", value=Interval(0, 0)) == {"result": True}
    assert run("not", value=maybe) == {}
    assert run("gate", value="v", condition=maybe) == {}
    assert run("gate", value="v", condition=Interval(1, 2)) == {"output": "v"}
    assert run("switch", condition=maybe, true="t", false="f") == {}
    assert run("demux", value="v", selector=maybe) == {}
    assert run("mux", in0="a", in1="b", selector=Interval(0, 0)) == {"result": "a"}
    assert run("latch", value=1, enable=maybe) == {}


# --- exactness where it is possible ------------------------------------------------------------


def test_exact_results_stay_exact_and_inexact_ones_are_rounded_outward() -> None:
    def run(gadget_id: str, **ins: Any) -> Any:
        return next(iter(get_gadget(gadget_id).run(ins).values()))

    assert run("add", a=Interval(1, 2), b=3) == Interval(4, 5)  # integers stay integers
    assert run("multiply", a=Interval(2.5, 2.5), b=2) == Interval(5.0, 5.0)
    sum_ = run("add", a=Interval(0.1, 0.1), b=0.2)
    assert sum_ == Interval(0.3, 0.30000000000000004)  # 0.1 + 0.2 lies strictly between
    third = run("divide", a=1, b=Interval(3, 3))
    assert third.lo < Fraction(1, 3) < third.hi
    assert math.nextafter(third.lo, 1) == third.hi  # one float apart: as tight as it gets
    huge = run("multiply", a=Interval(1e308, 1e308), b=10)
    assert huge == Interval(MAXF, None)  # beyond the floats: bounded below, open above
