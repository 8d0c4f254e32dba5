"""The JSON items :class:`~bassline.spec.SpecBuilder` and :class:`~bassline.spec.Part` write.

Turning a builder call's arguments into spec data, with the checks that need no handle:
contact fields, a boundary by name, the ports of a gadget or part each given once, the
wire between a port contact and the contact it is bound to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from bassline.codec import to_json
from bassline.content import ABSENT
from bassline.errors import PluginNotFound, SpecError, SpecProblem
from bassline.lattices import get_lattice
from bassline.spec.model import Boundary, WireType

__all__ = [
    "bindings",
    "boundary_of",
    "contact_fields",
    "fail",
    "named",
    "port_lattices",
    "port_wire",
]

Ref = TypeVar("Ref")
"""A handle to a contact (the builder's ``ContactRef``)."""


def fail(path: str, message: str) -> SpecError:
    """A :class:`~bassline.errors.SpecError` with one problem, for a builder call to raise."""
    return SpecError([SpecProblem(path, message)])


def named(
    item: dict[str, Any], name: str | None, attributes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``item`` with its ``name`` and ``attributes`` when they are given."""
    if name is not None:
        item["name"] = name
    if attributes:
        item["attributes"] = dict(attributes)
    return item


def contact_fields(
    *,
    blend: str | None,
    lattice: str | None,
    boundary: str | Boundary | None,
    content: Any,
    path: str,
) -> dict[str, Any]:
    """A contact's (or port's) ``blend``, ``lattice``, ``boundary`` and ``content`` fields,
    as JSON: only those given; content that does not encode is a SpecError at ``path``."""
    item: dict[str, Any] = {}
    if blend is not None:
        item["blend"] = blend
    if lattice is not None:
        item["lattice"] = lattice
    if boundary is not None:
        item["boundary"] = boundary_of(boundary, f"{path}.boundary").value
    if content is not ABSENT:
        try:
            item["content"] = to_json(content)
        except ValueError as exc:
            raise fail(f"{path}.content", str(exc)) from None
    return item


def boundary_of(value: str | Boundary, path: str) -> Boundary:
    """The :class:`Boundary` called ``value``; a SpecError at ``path`` if there is none."""
    try:
        return Boundary(value)
    except ValueError:
        allowed = ", ".join(b.value for b in Boundary)
        raise fail(path, f"unknown boundary {value!r} (expected one of: {allowed})") from None


def bindings(
    ports: Mapping[str, Ref | None] | None,
    more: Mapping[str, Ref | None],
    expected: Mapping[str, Any],
    where: str,
) -> dict[str, Ref | None]:
    """The handle (or None) given for each of the ``expected`` ports, in their order.

    Ports come as a mapping, as keywords, or both; each must be given exactly once.
    """
    given = dict(ports or {})
    twice = sorted(set(given) & set(more))
    if twice:
        raise fail(where, f"port(s) {', '.join(twice)} given both in the mapping and as keywords")
    given |= more
    extra = [p for p in given if p not in expected]
    if extra:
        listed = ", ".join(expected) or "none"
        raise fail(where, f"no port(s) {', '.join(extra)} (ports: {listed})")
    missing = [p for p in expected if p not in given]
    if missing:
        raise fail(
            where,
            f"missing port(s) {', '.join(missing)} (give each a contact, or None to leave it "
            "unconnected)",
        )
    return {p: given[p] for p in expected}


def port_wire(outer: str, port: str, boundary: Boundary) -> dict[str, Any]:
    """The wire between a gadget's port contact and the contact it is bound to."""
    if boundary is Boundary.OUTPUT:
        return {"from": port, "to": outer, "type": WireType.DIRECTED.value}
    if boundary is Boundary.INPUT:
        return {"from": outer, "to": port, "type": WireType.DIRECTED.value}
    return {"from": outer, "to": port}


def port_lattices(
    lattice: str | Mapping[str, str] | None, ports: Mapping[str, Any], where: str
) -> dict[str, str]:
    """The lattice of each port that gets one: every port for a name, the ports named in a
    mapping; a SpecError for an unknown lattice or port."""
    if lattice is None:
        return {}
    if isinstance(lattice, str):
        chosen = dict.fromkeys(ports, lattice)
    elif isinstance(lattice, Mapping):
        chosen = dict(lattice)
        extra = [p for p in chosen if p not in ports]
        if extra:
            listed = ", ".join(ports) or "none"
            raise fail(where, f"no port(s) {', '.join(map(str, extra))} (ports: {listed})")
    else:
        raise TypeError(
            f"{where}: expected a lattice name or a mapping port -> lattice name, "
            f"got {type(lattice).__name__}"
        )
    for port, name in chosen.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: port {port!r}: expected a lattice name, got {name!r}")
        try:
            get_lattice(name)
        except PluginNotFound as exc:
            raise fail(where, str(exc)) from None
    return chosen
