"""Generated constraint networks with a known real solution, for the network-level properties.

A network has interval contacts ``v0..`` and constraint groups ``k0..`` whose two-way ports are
wired to them. Each constraint's last port (``c``, ``y``) is a variable whose solution value
the constraint defines from variables made before it, so the whole network has an exact
solution (kept as Fractions). Constraints share their inputs, so networks have cycles.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from bassline.gadgets import numeric as num
from bassline.gadgets import rounding
from bassline.lattices import Interval
from bassline.spec import Bassline, parse_spec

PORTS = {
    "sum": (("a", "b"), "c"),
    "product": (("a", "b"), "c"),
    "square": (("x",), "y"),
    "linear": (("x",), "y"),
}
points = st.one_of(
    st.integers(-9, 9),
    st.sampled_from([0.5, -1.5, 0.1, 2.25, 100.0]),
)
widths = st.sampled_from([Fraction(0), Fraction(1, 4), Fraction(1), Fraction(10), None])


def constraint_spec(
    constraints: list[tuple[str, list[int], int, dict[str, Any]]], n_vars: int, name: str = "cn"
) -> Bassline:
    """The spec: ``(gadget, input variables, output variable, constant ports)`` per constraint."""
    groups: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = [{"id": f"v{i}", "lattice": "interval"} for i in range(n_vars)]
    wires: list[dict[str, Any]] = []
    for k, (gadget, inputs, output, constants) in enumerate(constraints):
        gid = f"k{k}"
        groups.append({"id": gid, "gadget": gadget})
        ins, out = PORTS[gadget]
        for port, var in [*zip(ins, inputs, strict=True), (out, output)]:
            contacts.append(
                {
                    "id": f"{gid}.{port}",
                    "group": gid,
                    "name": port,
                    "boundary": "both",
                    "lattice": "interval",
                }
            )
            wires.append({"from": f"v{var}", "to": f"{gid}.{port}"})
        for port, value in constants.items():
            contacts.append(
                {
                    "id": f"{gid}.{port}",
                    "group": gid,
                    "name": port,
                    "boundary": "input",
                    "content": value,
                }
            )
    return parse_spec({"id": name, "groups": groups, "contacts": contacts, "wires": wires})


def around(point: Fraction, below: Fraction | None, above: Fraction | None) -> Interval:
    """An interval holding ``point``, ``below`` under it and ``above`` over it (None: open)."""
    lo = None if below is None else rounding.round_fraction(point - below, -1)
    hi = None if above is None else rounding.round_fraction(point + above, 1)
    return Interval(lo, hi)


@st.composite
def constraint_networks(
    draw: st.DrawFn, max_constraints: int = 5
) -> tuple[Bassline, dict[str, Fraction], list[tuple[str, Interval]]]:
    """A spec, the exact solution of every variable, and writes of intervals that hold it."""
    solution: list[Fraction] = [Fraction(draw(points)) for _ in range(draw(st.integers(1, 3)))]
    constraints: list[tuple[str, list[int], int, dict[str, Any]]] = []
    for _ in range(draw(st.integers(1, max_constraints))):
        gadget = draw(st.sampled_from(sorted(PORTS)))
        n_in = len(PORTS[gadget][0])
        inputs = [draw(st.integers(0, len(solution) - 1)) for _ in range(n_in)]
        xs = [solution[i] for i in inputs]
        constants: dict[str, Any] = {}
        if gadget == "sum":
            value = xs[0] + xs[1]
        elif gadget == "product":
            value = xs[0] * xs[1]
        elif gadget == "square":
            value = xs[0] * xs[0]
        else:
            k, m = draw(st.sampled_from([2, -1, 0.5])), draw(st.sampled_from([0, 3, -0.25]))
            constants = {"k": k, "m": m}
            value = Fraction(k) * xs[0] + Fraction(m)
        solution.append(value)
        constraints.append((gadget, inputs, len(solution) - 1, constants))
    spec = constraint_spec(constraints, len(solution))
    writes: list[tuple[str, Interval]] = []
    for _ in range(draw(st.integers(1, 6))):
        var = draw(st.integers(0, len(solution) - 1))
        box = around(solution[var], draw(widths), draw(widths))
        writes.append((f"v{var}", box))
    return spec, {f"v{i}": p for i, p in enumerate(solution)}, writes


def holds(value: Any, point: Fraction) -> bool:
    """Whether ``point`` lies in an interval (or equals a number)."""
    lo, hi = num.bounds(value)
    return lo <= point <= hi


def building_spec() -> Bassline:
    """The worked example of docs/partial-information.md: a height measured two ways.

    Groups ``squaring`` and ``falling`` (the stone's fall time) and ``pole`` and ``shadows``
    (the shadows) all narrow one ``height`` contact, so the network has a cycle.
    """
    names = ["fall-time", "fall-time-squared", "height", "shadow", "pole-shadow", "ratio"]
    contacts: list[dict[str, Any]] = [{"id": n, "lattice": "interval"} for n in names]
    groups: list[dict[str, Any]] = []
    wires: list[dict[str, Any]] = []

    def constraint(group: str, gadget: str, constants: Any = (), **ports: str) -> None:
        groups.append({"id": group, "gadget": gadget})
        for port, contact in ports.items():
            contacts.append(
                {
                    "id": f"{group}.{port}",
                    "group": group,
                    "name": port,
                    "boundary": "both",
                    "lattice": "interval",
                }
            )
            wires.append({"from": contact, "to": f"{group}.{port}"})
        for port, value, boundary in constants:
            lattice = {"lattice": "interval"} if boundary == "both" else {}
            contacts.append(
                {
                    "id": f"{group}.{port}",
                    "group": group,
                    "name": port,
                    "boundary": boundary,
                    "content": value,
                    **lattice,
                }
            )

    constraint("squaring", "square", x="fall-time", y="fall-time-squared")
    constraint(
        "falling",
        "linear",
        [("k", 4.905, "input"), ("m", 0, "input")],
        x="fall-time-squared",
        y="height",
    )
    constraint("pole", "product", [("c", 2, "both")], a="ratio", b="pole-shadow")
    constraint("shadows", "product", a="shadow", b="ratio", c="height")
    return parse_spec({"id": "building", "groups": groups, "contacts": contacts, "wires": wires})
