"""Two-way constraints (sum, product, square, linear): every direction, narrowing, blend modes.

The gadget-level properties draw a real solution of the relation (exact, as Fractions) and
boxes around it, and check that the constraint never loses the solution and reaches its own
fixpoint in one run. The network-level properties (same fixpoint under the immediate and
batch schedulers, solutions kept) run through the durable runtime on asyncio and trio.
"""

from __future__ import annotations

import math
import uuid
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bassline import Network, SpecError, Stamp, load_spec
from bassline.gadgets import PortInputs, get_gadget, rounding
from bassline.gadgets import numeric as num
from bassline.lattices import Interval
from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage
from tests.constraint_support import constraint_networks, constraint_spec
from tests.constraint_support import holds as holds_point

# --- solutions and boxes -----------------------------------------------------------------------

coordinates = st.one_of(
    st.integers(-30, 30),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.floats(-1e12, 1e12, allow_nan=False),
    st.sampled_from([0, 0.0, 0.1, -2.5, 1e-300]),
)
widths = st.one_of(
    st.just(Fraction(0)),
    st.integers(0, 10).map(Fraction),
    st.floats(0, 1e3, allow_nan=False).map(Fraction),
    st.just(None),  # unbounded on that side
)


@st.composite
def box(draw: st.DrawFn, point: Fraction) -> Any:
    """A port's content holding the exact ``point``: an interval around it, or absent (None)."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return None  # the port has no content yet
    if choice == 1 and point == rounding.round_fraction(point, 1):
        return float(point)  # a plain number: the degenerate interval
    below, above = draw(widths), draw(widths)
    lo = None if below is None else rounding.round_fraction(point - below, -1)
    hi = None if above is None else rounding.round_fraction(point + above, 1)
    if lo is not None and lo - lo != 0:
        lo = None
    if hi is not None and hi - hi != 0:
        hi = None
    return Interval(lo, hi)


def solution(gadget_id: str, draw: st.DrawFn) -> dict[str, Fraction]:
    """Exact values of every port and parameter that satisfy the constraint's relation."""
    if gadget_id == "sum":
        a, b = Fraction(draw(coordinates)), Fraction(draw(coordinates))
        return {"a": a, "b": b, "c": a + b}
    if gadget_id == "product":
        a, b = Fraction(draw(coordinates)), Fraction(draw(coordinates))
        return {"a": a, "b": b, "c": a * b}
    if gadget_id == "square":
        x = Fraction(draw(coordinates))
        return {"x": x, "y": x * x}
    x, k, m = (Fraction(draw(coordinates)) for _ in range(3))
    return {"x": x, "y": k * x + m, "k": k, "m": m}


@st.composite
def cases(draw: st.DrawFn, gadget_id: str) -> tuple[dict[str, Fraction], dict[str, Any]]:
    sol = solution(gadget_id, draw)
    params = {"k", "m"}
    inputs: dict[str, Any] = {}
    for port, point in sol.items():
        content = draw(box(point))
        if port in params and content is None:
            content = Interval(
                rounding.round_fraction(point, -1), rounding.round_fraction(point, 1)
            )
        if content is not None:
            inputs[port] = content
    return sol, inputs


def contains(value: Any, point: Fraction) -> bool:
    lo, hi = num.bounds(value)
    return lo <= point <= hi


def within(inner: Any, outer: Any) -> bool:
    (a, b), (c, d) = num.bounds(inner), num.bounds(outer)
    return c <= a and b <= d


CONSTRAINTS = ["sum", "product", "square", "linear"]


def check_keeps_the_solution(gadget_id: str, sol: dict[str, Fraction], ins: dict[str, Any]) -> None:
    g = get_gadget(gadget_id)
    if not g.is_active(ins):
        return
    out = dict(g.run(ins))  # never "no solution": there is one
    plain = all(type(v) is not Interval for v in ins.values())
    for port, value in out.items():
        if plain and type(value) is not Interval:  # plain numbers compute like plain math
            assert math.isclose(value, sol[port], rel_tol=1e-9, abs_tol=1e-300)
            continue
        assert type(value) is Interval
        assert contains(value, sol[port]), (port, value, sol[port])
        if port in ins:
            assert within(value, ins[port]), (port, value, ins[port])  # only narrows
    again = {**ins, **out}
    assert dict(g.run(again)) == {}, "a second run narrows further: not the constraint's fixpoint"


@pytest.mark.parametrize("gadget_id", CONSTRAINTS)
@settings(max_examples=300)
@given(data=st.data())
def test_narrowing_keeps_every_solution_and_is_the_constraints_fixpoint(
    gadget_id: str, data: Any
) -> None:
    sol, ins = data.draw(cases(gadget_id))
    check_keeps_the_solution(gadget_id, sol, ins)


# --- each constraint, plain numbers ------------------------------------------------------------


def run(gadget_id: str, **ins: Any) -> dict[str, Any]:
    return dict(get_gadget(gadget_id).run(ins))


def test_sum_computes_whichever_port_is_missing_exactly() -> None:
    assert run("sum", a=2, b=3) == {"c": 5}
    assert run("sum", a=2, c=10) == {"b": 8}
    assert run("sum", b=2.5, c=10) == {"a": 7.5}
    assert run("sum", a=2) == {}  # two unknowns: nothing follows
    assert run("sum", a=2, b=3, c=5) == {}  # consistent: nothing to say
    assert run("sum", a=0.1, b=0.2, c=0.3) == {}  # float noise is not a disagreement
    assert run("sum", a=1, b=2, c=5) == {"c": 3}  # a disagreement: c gets what a + b imply


def test_product_divides_and_says_when_there_is_no_answer() -> None:
    assert run("product", a=4, b=2.5) == {"c": 10.0}
    assert run("product", b=3, c=6) == {"a": 2.0}
    assert run("product", a=0, c=0) == {}  # 0 * b = 0 for every b: b is not determined
    with pytest.raises(ValueError, match=r"product: no b satisfies a \* b = c when a = 0, c = 5"):
        run("product", a=0, c=5)


def test_square_knows_both_roots_and_keeps_the_sign_it_has() -> None:
    assert run("square", x=-3) == {"y": 9}
    assert run("square", y=9) == {"x": Interval(-3.0, 3.0)}  # both roots: a range holding them
    assert run("square", y=0) == {"x": 0.0}
    with pytest.raises(ValueError, match="no x satisfies"):
        run("square", y=-1)
    old_first = PortInputs({"x": -2, "y": 9}, oldest_first=["x", "y"], replaced={"x", "y"})
    assert dict(get_gadget("square").run(old_first)) == {"x": -3.0}  # recomputed, sign kept


def test_linear_converts_both_ways_with_constant_k_and_m() -> None:
    assert run("linear", x=100, k=1.8, m=32) == {"y": 212.0}
    assert run("linear", y=50, k=1.8, m=32) == {"x": 10.0}
    assert run("linear", x=1, k=2) == {}  # a parameter missing: waits
    assert run("linear", y=3, k=0, m=3) == {}  # every x works
    with pytest.raises(ValueError, match="no x satisfies"):
        run("linear", y=4, k=0, m=3)


# --- each constraint, intervals ----------------------------------------------------------------


def test_intervals_narrow_every_port() -> None:
    out = run("product", a=Interval(1, 2), b=Interval(3, 4), c=Interval(0, 5))
    assert out["c"] == Interval(3, 5)
    assert out["a"].lo == 1 and 1.66 < out["a"].hi < 1.67
    assert "b" not in out  # [3, 4] is already as narrow as the others allow
    assert run("sum", a=Interval(1, 2), c=10) == {"b": Interval(8, 9)}  # numbers mix in
    # both roots: x on the positive side keeps only the positive one
    assert run("square", x=Interval(0, 10), y=Interval(4, 9)) == {"x": Interval(2.0, 3.0)}
    assert run("square", x=Interval(-10, 10), y=Interval(4, 9)) == {"x": Interval(-3.0, 3.0)}
    assert run("square", x=Interval(None, None), y=Interval(-5, 4)) == {
        "x": Interval(-2.0, 2.0),
        "y": Interval(0, 4),  # a square is never negative
    }


def test_a_port_that_knows_nothing_can_still_narrow_the_others() -> None:
    # b missing, a = 0: c = a * b is exactly 0 whatever b is (found as an order-dependent
    # fixpoint: the other order of writes ran the constraint with c unknown and gave 0)
    assert run("product", a=Interval(0, 0), c=Interval(0, 0.25)) == {"c": Interval(0, 0)}
    # x missing, k = 0: y = k * x + m is exactly m whatever x is
    assert run("linear", y=Interval(-1, 5), k=0, m=3) == {"y": Interval(3, 3)}


def test_an_impossible_port_receives_what_the_others_allow() -> None:
    out = run("sum", a=Interval(1, 2), b=Interval(1, 2), c=Interval(10, 11))
    assert len(out) == 1  # one port says so; its merge contact reports the contradiction
    ((port, value),) = out.items()
    assert port == "c" and value == Interval(2, 4)  # the last port first, as a result


def test_a_number_on_a_merge_port_is_checked_not_narrowed() -> None:
    assert run("sum", a=Interval(0, 10), b=3, c=Interval(4, 5)) == {"a": Interval(1, 2)}
    out = run("sum", a=Interval(1, 2), b=30, c=Interval(4, 5))
    assert list(out) in (["a"], ["c"], ["b"])  # one port reports that b = 30 cannot hold


# --- in a network: accept-last, defined and interval contacts ----------------------------------


def converter(blend: dict[str, Any]) -> dict[str, Any]:
    """celsius <-> fahrenheit through one ``linear`` constraint; ``blend`` for all four."""
    return {
        "groups": [{"id": "conv", "gadget": "linear"}],
        "contacts": [
            {"id": "celsius", **blend},
            {"id": "fahrenheit", **blend},
            {"id": "conv.x", "group": "conv", "name": "x", "boundary": "both", **blend},
            {"id": "conv.y", "group": "conv", "name": "y", "boundary": "both", **blend},
            {"id": "conv.k", "group": "conv", "name": "k", "boundary": "input", "content": 1.8},
            {"id": "conv.m", "group": "conv", "name": "m", "boundary": "input", "content": 32},
        ],
        "wires": [{"from": "celsius", "to": "conv.x"}, {"from": "fahrenheit", "to": "conv.y"}],
    }


def test_accept_last_contacts_recompute_the_side_written_longest_ago() -> None:
    net = Network(converter({}))
    net.update_contact("celsius", 100)
    assert net.value("fahrenheit") == 212.0
    net.update_contact("fahrenheit", 50)
    assert net.value("celsius") == 10.0
    net.update_contact("celsius", 0)
    assert net.value("fahrenheit") == 32.0
    net.update_contact("celsius", Interval(20, 21))  # intervals replace too, both ways
    assert net.value("fahrenheit") == Interval(68.0, 69.80000000000001)
    net.update_contact("fahrenheit", Interval(50, 59))
    assert net.value("celsius") == Interval(9.999999999999998, 15.0)
    assert not net.contradictions and not net.failures


def test_a_port_recomputed_from_plain_numbers_is_a_plain_number_again() -> None:
    """The interval the recomputed port held is replaced, not used: it made the result an
    interval (Interval(212.0, 212.00000000000003) for 100 degrees Celsius)."""
    net = Network(converter({}))
    net.update_contact("celsius", Interval(20, 21))
    net.update_contact("celsius", 100)
    assert net.value("fahrenheit") == 212.0 and type(net.value("fahrenheit")) is float
    square = {
        "groups": [{"id": "s", "gadget": "square"}],
        "contacts": [
            {"id": "s.x", "group": "s", "name": "x", "boundary": "both"},
            {"id": "s.y", "group": "s", "name": "y", "boundary": "both"},
        ],
    }
    for x, root in [(Interval(1, 2), 3.0), (Interval(-2, -1), -3.0), (Interval(-1, 2), None)]:
        net = Network(square)
        net.update_contact("s.x", x)
        net.update_contact("s.y", 9)  # the root keeps the side of 0 the interval was on
        assert net.value("s.x") == (Interval(-3.0, 3.0) if root is None else root)
    net.update_contact("s.x", 5)
    assert net.value("s.y") == 25 and type(net.value("s.y")) is int
    assert not net.contradictions and not net.failures


def test_at_equal_stamps_the_later_port_is_the_one_recomputed() -> None:
    # a replica's write of both sides at one stamp: y (fahrenheit) comes after x in the
    # linear constraint's ports, so it counts as older and follows celsius, in either order
    stamp = Stamp(1000, "p")
    writes = [("celsius", 100, stamp), ("fahrenheit", 50, stamp)]
    for order in (writes, writes[::-1]):
        net = Network(converter({}))
        net.apply(order)
        assert (net.value("celsius"), net.value("fahrenheit")) == (100, 212.0)
        assert net.stamp("celsius") == stamp and net.stamp("fahrenheit") == Stamp(1001, "p")


def test_defined_contacts_compute_once_and_contradict_a_disagreement() -> None:
    net = Network(converter({"blend": "merge"}))  # plain numbers, Scheme-Propagators style
    net.update_contact("celsius", 100)
    assert net.value("fahrenheit") == 212.0
    r = net.update_contact("fahrenheit", 100)
    assert [c.contact for c in r.contradictions] == ["fahrenheit"]
    assert net.value("fahrenheit") == 212.0  # the contact kept its value


@pytest.mark.parametrize(
    ("gadget_id", "ports", "port", "implied"),
    [
        ("product", {"a": 1e300, "b": 1e-300, "c": 5.0}, "c", 1.0),
        ("product", {"a": 1e6, "b": 1e-6, "c": 1.0000005}, "c", 1.0),
        ("square", {"x": 1e-150, "y": 3e-300}, "y", 1e-300),
        ("linear", {"x": 1e-300, "k": 1e300, "m": 0, "y": 2.0}, "y", 1.0),
    ],
)
def test_float_noise_is_relative_to_the_largest_term_not_the_largest_number(
    gadget_id: str, ports: dict[str, Any], port: str, implied: float
) -> None:
    """5 is not float noise beside 1e300 * 1e-300 = 1: the check was relative to 1e300."""
    out = run(gadget_id, **ports)
    assert out.keys() == {port} and math.isclose(out[port], implied, rel_tol=1e-12)


def test_float_noise_still_holds() -> None:
    assert run("sum", a=0.1, b=0.2, c=0.3) == {}
    assert run("sum", a=1e16 + 2, b=-1e16, c=0) == {}  # cancellation: relative to 1e16
    assert run("product", a=0.1, b=3, c=0.3) == {}
    assert run("square", x=0.1, y=0.01) == {}
    assert run("linear", x=0.1, k=3, m=0.8, y=1.1) == {}


def test_interval_contacts_narrow_each_other() -> None:
    net = Network(converter({"lattice": "interval"}))
    net.update_contact("celsius", Interval(20, 30))
    assert net.value("fahrenheit") == Interval(68.0, 86.00000000000001)  # 1.8 is inexact
    net.update_contact("fahrenheit", Interval(None, 70))  # only an upper bound: narrows celsius too
    assert net.value("fahrenheit") == Interval(68.0, 70)
    assert net.value("celsius") == Interval(20, 21.11111111111111)
    r = net.update_contact("fahrenheit", Interval(100, 120))
    assert r.contradictions and net.value("fahrenheit") == Interval(68.0, 70)


def test_a_constraint_port_must_be_declared_both_ways() -> None:
    spec = converter({})
    spec["contacts"][2]["boundary"] = "input"
    with pytest.raises(SpecError, match="port 'x' of gadget 'linear' must have boundary 'both'"):
        load_spec(spec)


def test_content_a_constraint_cannot_use_is_a_failure_naming_port_and_kind() -> None:
    net = Network(converter({}))
    r = net.update_contact("celsius", "warm")
    (failure,) = r.failures
    assert (failure.gadget, failure.group, failure.port, failure.kind) == (
        "linear",
        "conv",
        "x",
        "a string",
    )
    assert "port 'x' got a string" in failure.error
    assert net.failures["conv.y"] == failure
    assert net.failure_counts["linear"] == 1


# --- cycles: narrowing that settles, and narrowing that creeps ---------------------------------


def two_lines(k: float, m: float) -> dict[str, Any]:
    """x = k*y + m and y = k*x + m on interval contacts: a cycle whose fixpoint is m/(1-k)."""
    contacts: list[dict[str, Any]] = [
        {"id": "x", "lattice": "interval"},
        {"id": "y", "lattice": "interval"},
    ]
    groups, wires = [], []
    for gid, src, dst in (("xy", "x", "y"), ("yx", "y", "x")):
        groups.append({"id": gid, "gadget": "linear"})
        contacts += [
            {
                "id": f"{gid}.x",
                "group": gid,
                "name": "x",
                "boundary": "both",
                "lattice": "interval",
            },
            {
                "id": f"{gid}.y",
                "group": gid,
                "name": "y",
                "boundary": "both",
                "lattice": "interval",
            },
            {"id": f"{gid}.k", "group": gid, "name": "k", "boundary": "input", "content": k},
            {"id": f"{gid}.m", "group": gid, "name": "m", "boundary": "input", "content": m},
        ]
        wires += [{"from": src, "to": f"{gid}.x"}, {"from": dst, "to": f"{gid}.y"}]
    return {"groups": groups, "contacts": contacts, "wires": wires}


def test_a_contracting_cycle_narrows_to_its_fixpoint_and_settles() -> None:
    net = Network(two_lines(0.5, 1))  # x = y/2 + 1, y = x/2 + 1: both are 2
    r = net.update_contact("x", Interval(0, 100))
    assert r.settled and not r.contradictions
    x, y = net.value("x"), net.value("y")
    assert x.lo <= 2 <= x.hi and y.lo <= 2 <= y.hi
    assert x.hi - x.lo < 1e-12  # as narrow as outward rounding allows


def test_a_creeping_cycle_stops_at_the_step_budget_with_sound_values() -> None:
    # each round trip narrows by only 0.2%: the run stops at the budget, says which
    # contacts were still narrowing, and every value still holds the solution (1000)
    net = Network(two_lines(0.999, 1), step_budget=2000)
    r = net.update_contact("x", Interval(0, 5000))
    assert not r.settled and r.unsettled  # the contacts still narrowing when it stopped
    assert set(r.unsettled) <= set(net.contact_ids)
    x = net.value("x")
    assert x.lo <= 1000 <= x.hi and x.hi - x.lo < 5000
    again = net.settle()  # a later run carries on from there
    assert net.value("x").hi - net.value("x").lo < x.hi - x.lo
    assert not again.contradictions


# --- generated networks, through the durable runtime on asyncio and trio ----------------------


async def final_state(
    spec: Any, writes: list[tuple[str, Interval]], scheduler: str
) -> tuple[dict[str, Any], bool, int]:
    """Values, whether every run settled, and contradictions, after the writes."""
    async with open_storage(f"memory://constraints-{uuid.uuid4().hex}") as storage:
        async with StorageBackedRuntime(spec, storage) as runtime:
            settled, contradictions = True, 0
            if scheduler == "immediate":
                for contact, value in writes:
                    r = await runtime.update_contact(contact, value)
                    settled &= r.settled
                    contradictions += len(r.contradictions)
            else:  # batch: coalesced (joined) per contact, then one run
                net = runtime.network
                for contact, value in writes:
                    net.submit(contact, value)
                r = net.flush()
                settled, contradictions = r.settled, len(r.contradictions)
            assert not runtime.network.failures
            return runtime.network.values(), settled, contradictions


PRODUCT_BY_ZERO = (
    constraint_spec([("product", [0, 1], 2, {})], 3),
    {"v0": Fraction(0), "v1": Fraction(1), "v2": Fraction(0)},
    [("v2", Interval(0, 0.25)), ("v0", Interval(0, 0))],
)
"""v0 = 0 makes v2 = v0 * v1 exactly 0: written after v2, it once left v2 at [0, 0.25]."""


@pytest.mark.anyio
async def test_the_fixpoint_does_not_depend_on_the_order_of_writes() -> None:
    spec, _, writes = PRODUCT_BY_ZERO
    forwards, _, _ = await final_state(spec, writes, "immediate")
    backwards, _, _ = await final_state(spec, list(reversed(writes)), "immediate")
    assert forwards["v2"] == backwards["v2"] == Interval(0, 0)


@pytest.mark.anyio
@settings(max_examples=60)
@given(case=constraint_networks())
@example(case=PRODUCT_BY_ZERO)
async def test_immediate_and_batch_reach_the_same_fixpoint_that_keeps_the_solution(
    case: tuple[Any, dict[str, Fraction], list[tuple[str, Interval]]],
) -> None:
    spec, solution, writes = case
    immediate, settled_i, contradicted_i = await final_state(spec, writes, "immediate")
    batch, settled_b, contradicted_b = await final_state(spec, writes, "batch")
    reverse, settled_r, _ = await final_state(spec, list(reversed(writes)), "immediate")
    assert contradicted_i == contradicted_b == 0  # every write holds the solution
    for values in (immediate, batch, reverse):
        for contact, point in solution.items():
            if contact in values:
                assert holds_point(values[contact], point), (contact, values[contact], point)
    if settled_i and settled_b and settled_r:
        assert immediate == batch == reverse
