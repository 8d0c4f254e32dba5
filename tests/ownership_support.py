"""The spec the ownership tests share: two independent adders, ``left`` and ``right``."""

from __future__ import annotations

from typing import Any

from bassline.spec import Bassline, parse_spec


def two_adders(endpoints: dict[str, Any] | None = None) -> Bassline:
    """``l-a + l-b -> l-sum`` through gadget group ``left``; the same with ``r-`` and
    ``right``."""
    groups: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    wires: list[dict[str, Any]] = []
    for side, p in (("left", "l"), ("right", "r")):
        groups.append({"id": side, "gadget": "add"})
        for port, direction in (("a", "input"), ("b", "input"), ("sum", "output")):
            contacts.append({"id": f"{p}-{port}"})
            contacts.append(
                {"id": f"{side}.{port}", "group": side, "name": port, "boundary": direction}
            )
        wires += [
            {"from": f"{p}-a", "to": f"{side}.a", "type": "directed"},
            {"from": f"{p}-b", "to": f"{side}.b", "type": "directed"},
            {"from": f"{side}.sum", "to": f"{p}-sum", "type": "directed"},
        ]
    spec: dict[str, Any] = {"id": "adders", "groups": groups, "contacts": contacts, "wires": wires}
    if endpoints:
        spec["endpoints"] = endpoints
    return parse_spec(spec)


def output_first_adder() -> Bassline:
    """``x + y -> total`` through gadget group ``g``, whose output port ``g.out`` comes
    first both in the spec's order and in id order (before ``g.x`` and ``g.y``)."""
    return parse_spec(
        {
            "id": "output-first",
            "groups": [{"id": "g", "gadget": "add"}],
            "contacts": [
                {"id": "g.out", "group": "g", "name": "sum", "boundary": "output"},
                {"id": "g.x", "group": "g", "name": "a", "boundary": "input"},
                {"id": "g.y", "group": "g", "name": "b", "boundary": "input"},
                {"id": "x"},
                {"id": "y"},
                {"id": "total"},
            ],
            "wires": [
                {"from": "x", "to": "g.x", "type": "directed"},
                {"from": "y", "to": "g.y", "type": "directed"},
                {"from": "g.out", "to": "total", "type": "directed"},
            ],
        }
    )
