"""Two-way constraints: ``sum``, ``product``, ``square`` and ``linear``.

A constraint is a relation between its ports (``a + b = c``); each port is two-way (read and
written). When one of them changes, the gadget works out what follows for the others:

- **intervals** (any port or parameter holds an :class:`~bassline.lattices.Interval`): every
  port on a ``merge`` contact is *narrowed* to what the relation allows given the others,
  until none narrows further (the constraint's own fixpoint, reached in one run). A port that
  nothing in it can satisfy receives what the others allow, so its contact reports the
  contradiction. Narrowing is sound: a solution of the relation inside the ports is never
  lost (:mod:`bassline.gadgets.numeric` rounds outward).
- **plain numbers**: a missing port is computed from the others (exactly, for integers);
  when every port is known they are checked, and if they disagree by more than float noise
  (:data:`TOLERANCE`, relative) the last port (``c``, ``y``) receives the value the others
  imply (on a ``merge`` contact: a contradiction that says so).
- **accept-last ports** (a write replaces the content) are premises, except the one written
  longest ago, which is recomputed from the others and replaced: after a user writes
  Fahrenheit, Celsius follows, and after they write Celsius, Fahrenheit does. Its old
  content is not used (beyond a root's side of 0): from plain numbers it is a plain number.

``linear``'s ``k`` and ``m`` are read-only parameters (constants of the spec, given as the
content of their port contacts or wired from contacts that hold them).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from bassline.gadgets import numeric as num
from bassline.gadgets.base import Gadget, Inputs, Kind, Outputs, PortInputs
from bassline.gadgets.jsonish import compute_number
from bassline.gadgets.rounding import MAX_FLOAT
from bassline.lattices.values import Interval

__all__ = ["CONSTRAINTS", "LOCAL_PASSES", "TOLERANCE", "Relation"]

TOLERANCE = 2.0**-40
"""Plain numbers agree with a relation when within this much, relative to the magnitude of
its largest term (:attr:`Relation.largest_term`): ``0.1 + 0.2 = 0.3`` holds although the
floats differ in the last bit."""

LOCAL_PASSES = 64
"""At most this many projections per port in one run of a constraint (a safety net: a
single constraint's narrowing settles in two or three)."""

_PARTIAL_NUMBER = Kind("a number or an interval", num.is_partial_number)

Projection = Callable[[Mapping[str, num.Bounds]], list[num.Bounds]]
"""Given the bounds of every other port and parameter: where one port can be (a union)."""
Solver = Callable[[Mapping[str, Any]], Any]
"""Given plain numbers: the value of one port (None when the others do not determine it)."""


class _NoSolution(ValueError):
    pass


@attrs.frozen
class Relation:
    """A constraint's relation: its ports, parameters and how to solve for each port."""

    id: str
    text: str
    ports: tuple[str, ...]
    params: tuple[str, ...]
    project: Mapping[str, Projection]
    solve: Mapping[str, Solver]
    total: bool = True
    """Every port can take any value given suitable others (``square``'s ``y`` cannot be
    negative: not total). Then a port computed from nothing but the others usually tells
    them nothing new, and their projections are skipped (see :attr:`pins`)."""
    pins: Callable[[str, Mapping[str, num.Bounds]], bool] = lambda port, bounds: False
    """Whether the others can still be narrowed while ``port`` knows nothing (given their
    bounds): a factor of exactly 0 pins a product to 0 whatever the other factor is. Then
    every port is projected, as when the relation is not total."""
    largest_term: Callable[[Mapping[str, float]], float] = lambda m: max(m.values(), default=0.0)
    """Given the largest magnitude of each port and parameter (0 when unknown), that of the
    relation's largest term (``a·b`` or ``c`` for a product): float noise is relative to it."""


def _plain(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _show(value: Any) -> str:
    if type(value) is Interval:
        lo = "-inf" if value.lo is None else value.lo
        hi = "+inf" if value.hi is None else value.hi
        return f"[{lo}, {hi}]"
    return repr(value)


def _no_solution(rel: Relation, port: str, values: Mapping[str, Any]) -> _NoSolution:
    given = ", ".join(f"{p} = {_show(v)}" for p, v in values.items() if p != port)
    return _NoSolution(f"{rel.id}: no {port} satisfies {rel.text} when {given}")


def _scale(rel: Relation, values: Mapping[str, Any]) -> float:
    """The largest magnitude of a term of the relation (for the relative tolerance): of
    ``a``, ``b`` or ``c`` for a sum, but of ``a·b`` or ``c`` for a product, so that 5 is
    not float noise beside ``1e300 · 1e-300``."""
    magnitudes: dict[str, float] = dict.fromkeys((*rel.ports, *rel.params), 0.0)
    for p, v in values.items():
        biggest = 0.0
        for b in num.bounds(v):
            if b - b == 0 and abs(b) > biggest:
                biggest = abs(b)
        magnitudes[p] = float(biggest)
    return min(rel.largest_term(magnitudes), MAX_FLOAT)


def _within(x: Any, parts: list[num.Bounds], slack: float) -> bool:
    return any(lo - slack <= x <= hi + slack for lo, hi in parts)


def _same_side(parts: list[num.Bounds], current: num.Bounds) -> list[num.Bounds]:
    """The parts on the same side of 0 as ``current`` (a root keeps its sign), or all."""
    if current[0] >= 0:
        kept = [p for p in parts if p[0] >= 0]
    elif current[1] <= 0:
        kept = [p for p in parts if p[1] <= 0]
    else:
        kept = []
    return kept or parts


def _run(rel: Relation, ins: Inputs) -> Outputs:
    if any(p not in ins for p in rel.params):
        return {}
    values = {p: ins[p] for p in (*rel.params, *rel.ports) if p in ins}
    missing = [p for p in rel.ports if p not in values]
    replaced = ins.replaced if isinstance(ins, PortInputs) else frozenset()
    target = None
    if not missing and any(p in replaced for p in rel.ports):
        order = ins.oldest_first if isinstance(ins, PortInputs) else ()
        target = next((p for p in order if p in replaced and p in rel.ports), None)
        if target is None:  # no order known: the last replaced port
            target = [p for p in rel.ports if p in replaced][-1]
    if all(_plain(v) for p, v in values.items() if p != target):
        if target is not None and not _plain(values[target]):
            return _recompute_plain(rel, values, target)
        return _run_plain(rel, values, missing, target)
    return _run_intervals(rel, values, missing, target, replaced)


def _recompute_plain(rel: Relation, values: dict[str, Any], target: str) -> Outputs:
    """The accept-last port ``target``, which held an interval, recomputed from the others,
    all plain numbers: a plain number, as when every port is one. Its old interval is
    replaced, not used, except that a root keeps its side of 0 (as :func:`_same_side`)."""
    given = {p: v for p, v in values.items() if p != target}
    if rel is SQUARE and target == "x":
        lo, hi = num.bounds(values["x"])
        if lo >= 0 or hi <= 0:
            given["x"] = 1 if lo >= 0 else -1
    value = rel.solve[target](given)
    return {} if value is None else {target: value}


def _holds(rel: Relation, values: Mapping[str, Any]) -> bool:
    """Whether plain numbers satisfy the relation, up to float noise (:data:`TOLERANCE`).

    Checked on the relation's last port (``c``, ``y``), computed forwards from the others:
    forwards, float noise stays small (1e-300 squared is 0.0, and 0.0 agrees with it).
    """
    port = rel.ports[-1]
    parts = rel.project[port]({p: num.bounds(v) for p, v in values.items() if p != port})
    return _within(values[port], parts, TOLERANCE * _scale(rel, values))


def _run_plain(
    rel: Relation,
    values: dict[str, Any],
    missing: list[str],
    target: str | None,
) -> Outputs:
    if len(missing) > 1:
        return {}
    if missing:
        port = missing[0]
        value = rel.solve[port](values)
        return {} if value is None else {port: value}
    if _holds(rel, values):
        return {}
    # they disagree: recompute the accept-last port written longest ago, or else give the
    # last port the value the others imply (a merge contact reports the contradiction)
    port = target if target is not None else rel.ports[-1]
    value = rel.solve[port](values)
    return {} if value is None else {port: value}


def _run_intervals(
    rel: Relation,
    values: dict[str, Any],
    missing: list[str],
    target: str | None,
    replaced: frozenset[str],
) -> Outputs:
    cur: dict[str, num.Bounds] = {p: num.bounds(v) for p, v in values.items()}
    for p in missing:
        cur[p] = num.WHOLE
    if target is not None:
        cur[target] = num.WHOLE
    narrowable = [
        p
        for p in rel.ports
        if p in missing or (p != target and p not in replaced and type(values[p]) is Interval)
    ]
    unknown = [p for p in rel.ports if cur[p] == num.WHOLE]
    if (
        rel.total
        and len(unknown) == 1
        and unknown[0] in narrowable
        and not rel.pins(unknown[0], cur)
    ):
        # one port knows nothing: it follows from the others, and (the relation being
        # total, nothing pinned) what follows cannot narrow them: skip their projections
        port = unknown[0]
        allowed = num.hull(rel.project[port](cur))
        if allowed is None:
            raise _no_solution(rel, port, values)
        if allowed == num.WHOLE:
            return {}
        if port not in missing and allowed == num.bounds(values[port]):
            return {}
        return {port: num.interval(allowed)}
    # missing ports first, then the others from the last (``c``, ``y``): forwards and
    # backwards propagation then settle in one projection per port
    pending = deque(sorted(narrowable, key=lambda p: (p not in missing, -rel.ports.index(p))))
    queued = set(narrowable)
    budget = LOCAL_PASSES * len(rel.ports)
    while pending and budget:
        budget -= 1
        port = pending.popleft()
        queued.discard(port)
        parts = rel.project[port](cur)
        narrowed = num.hull(x for e in parts if (x := num.intersect(cur[port], e)) is not None)
        if narrowed is None:  # nothing in this port agrees with the others
            allowed = num.hull(parts)
            if allowed is None or port in missing:
                raise _no_solution(rel, port, values)
            return {port: num.interval(allowed)}  # its merge reports the contradiction
        if narrowed != cur[port]:
            cur[port] = narrowed
            for other in narrowable:
                if other != port and other not in queued:
                    pending.append(other)
                    queued.add(other)
    out: dict[str, Any] = {}
    for port in narrowable:
        if port in missing:
            if cur[port] != num.WHOLE:
                out[port] = num.interval(cur[port])
        elif cur[port] != num.bounds(values[port]):
            out[port] = num.interval(cur[port])
    slack = -1.0
    for port in reversed(rel.ports):  # numbers on merge contacts: do they still agree?
        if port in narrowable or port in replaced or port == target:
            continue
        if slack < 0:
            slack = TOLERANCE * _scale(rel, values)
        others = {p: b for p, b in cur.items() if p != port}
        parts = rel.project[port](others)
        if not _within(values[port], parts, slack):
            allowed = num.hull(parts)
            if allowed is None:
                raise _no_solution(rel, port, values)
            return {port: num.interval(allowed)}
    if target is not None:
        parts = rel.project[target](cur)
        if not parts:
            raise _no_solution(rel, target, values)
        allowed = num.hull(_same_side(parts, num.bounds(values[target])))
        assert allowed is not None
        recomputed = num.interval(allowed)
        if recomputed != values[target]:
            out[target] = recomputed
    return out


def _constraint(rel: Relation, description: str) -> Gadget:
    def body(ins: Inputs) -> Outputs:
        return _run(rel, ins)

    return Gadget(
        id=rel.id,
        inputs=(*rel.ports, *rel.params),
        outputs=rel.ports,
        body=body,
        activation=lambda ins: any(p in ins for p in rel.ports),
        description=description,
        category="constraint",
        kinds={p: _PARTIAL_NUMBER for p in (*rel.ports, *rel.params)},
    )


# --- the relations -----------------------------------------------------------------------------


def _number(rel: str, op: Callable[[], Any]) -> int | float:
    return compute_number(rel, op)


def _divided(rel: Relation, port: str, dividend: Any, divisor: Any, v: Mapping[str, Any]) -> Any:
    """``dividend / divisor`` for a plain solve; 0 / 0 is undetermined, x / 0 has no solution."""
    if divisor == 0:
        if dividend == 0:
            return None
        raise _no_solution(rel, port, v)
    return _number(rel.id, lambda: dividend / divisor)


SUM: Relation = Relation(
    id="sum",
    text="a + b = c",
    ports=("a", "b", "c"),
    params=(),
    project={
        "a": lambda b: [num.sub(b["c"], b["b"])],
        "b": lambda b: [num.sub(b["c"], b["a"])],
        "c": lambda b: [num.add(b["a"], b["b"])],
    },
    solve={
        "a": lambda v: _number("sum", lambda: v["c"] - v["b"]),
        "b": lambda v: _number("sum", lambda: v["c"] - v["a"]),
        "c": lambda v: _number("sum", lambda: v["a"] + v["b"]),
    },
)


def _solve_product(port: str) -> Solver:
    other = "b" if port == "a" else "a"
    return lambda v: _divided(PRODUCT, port, v["c"], v[other], v)


PRODUCT: Relation = Relation(
    id="product",
    text="a * b = c",
    ports=("a", "b", "c"),
    params=(),
    project={
        "a": lambda b: num.quotient(b["c"], b["b"]),
        "b": lambda b: num.quotient(b["c"], b["a"]),
        "c": lambda b: [num.mul(b["a"], b["b"])],
    },
    solve={
        "a": _solve_product("a"),
        "b": _solve_product("b"),
        "c": lambda v: _number("product", lambda: v["a"] * v["b"]),
    },
    # a factor of exactly 0 makes c = 0 whatever the unknown other factor is
    pins=lambda port, b: port in ("a", "b") and b["b" if port == "a" else "a"] == (0, 0),
    largest_term=lambda m: max(m["a"] * m["b"], m["c"]),
)


def _solve_root(v: Mapping[str, Any]) -> Any:
    y = v["y"]
    if y < 0:
        raise _no_solution(SQUARE, "x", v)
    if y == 0:
        return 0.0
    if "x" not in v:  # both roots are possible: say so with an interval holding both
        root = num.sqrt((y, y))
        assert root is not None
        return num.interval((-root[1], root[1]))
    x = v["x"]
    return math.copysign(math.sqrt(y), x) if x != 0 else math.sqrt(y)


SQUARE: Relation = Relation(
    id="square",
    text="x² = y",
    ports=("x", "y"),
    params=(),
    project={
        "x": lambda b: num.roots(b["y"]),
        "y": lambda b: [num.sqr(b["x"])],
    },
    solve={
        "x": _solve_root,
        "y": lambda v: _number("square", lambda: v["x"] * v["x"]),
    },
    total=False,
    largest_term=lambda m: max(m["x"] * m["x"], m["y"]),
)


LINEAR: Relation = Relation(
    id="linear",
    text="y = k·x + m",
    ports=("x", "y"),
    params=("k", "m"),
    project={
        "x": lambda b: num.quotient(num.sub(b["y"], b["m"]), b["k"]),
        "y": lambda b: [num.add(num.mul(b["k"], b["x"]), b["m"])],
    },
    solve={
        "x": lambda v: _divided(LINEAR, "x", v["y"] - v["m"], v["k"], v),
        "y": lambda v: _number("linear", lambda: v["k"] * v["x"] + v["m"]),
    },
    # k = 0 makes y = m whatever the unknown x is
    pins=lambda port, b: port == "x" and b["k"] == (0, 0),
    largest_term=lambda m: max(m["k"] * m["x"], m["m"], m["y"]),
)


CONSTRAINTS: tuple[Gadget, ...] = (
    _constraint(SUM, "a + b = c, in every direction: any port follows from the other two"),
    _constraint(PRODUCT, "a * b = c, in every direction: any port follows from the other two"),
    _constraint(SQUARE, "x² = y, in both directions (both roots: x's sign picks one)"),
    _constraint(LINEAR, "y = k·x + m for constants k and m, in both directions"),
)
"""The built-in two-way constraints, in catalogue order."""
