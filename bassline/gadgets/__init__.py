"""Primitive gadgets: the built-in catalogue plus plug-ins from the ``bassline.gadgets`` entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from bassline.gadgets.base import (
    Gadget,
    Inputs,
    Kind,
    Outputs,
    PortInputs,
    UnusableInput,
    all_present,
    kind_of,
)
from bassline.plugins import Registry

__all__ = [
    "Gadget",
    "Inputs",
    "Kind",
    "Outputs",
    "PortInputs",
    "UnusableInput",
    "all_present",
    "gadget",
    "gadgets",
    "get_gadget",
    "kind_of",
    "register_gadget",
]


def _check(obj: object) -> Gadget:
    if not isinstance(obj, Gadget):
        raise TypeError(f"{obj!r} is not a bassline.gadgets.Gadget")
    return obj


gadgets: Registry[Gadget] = Registry("gadget", "bassline.gadgets", _check)
"""Every gadget by id: the built-in catalogue, :func:`register_gadget` and entry points."""


def register_gadget(g: Gadget, *, replace: bool = False) -> Gadget:
    """Make ``g`` available to specs under ``g.id`` in this process."""
    checked = _check(g)  # before its id is read: None has none
    gadgets.register(checked.id, checked, replace=replace)
    return g


def get_gadget(gadget_id: str) -> Gadget:
    """The gadget called ``gadget_id``; :class:`~bassline.errors.PluginNotFound` lists the others."""
    return gadgets.get(gadget_id)


def gadget(
    *,
    inputs: Iterable[str],
    outputs: Iterable[str],
    id: str | None = None,
    activation: Callable[[Inputs], bool] | None = None,
    description: str = "",
    category: str = "custom",
    kinds: Mapping[str, Kind] | None = None,
    register: bool = True,
) -> Callable[[Callable[[Inputs], Outputs]], Gadget]:
    """Decorator turning a function ``inputs -> outputs`` into a (registered) :class:`Gadget`.

    >>> @gadget(inputs=["a", "b"], outputs=["mean"])
    ... def average(ins):
    ...     return {"mean": (ins["a"] + ins["b"]) / 2}
    """

    for name, ports in (("inputs", inputs), ("outputs", outputs)):
        if isinstance(ports, str):  # not its characters
            raise TypeError(f"{name} is a list of port names, not the string {ports!r}")

    def wrap(fn: Callable[[Inputs], Outputs]) -> Gadget:
        g = Gadget(
            id=id or fn.__name__,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            body=fn,
            activation=activation,
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            category=category,
            kinds=dict(kinds or {}),
        )
        if register:
            register_gadget(g)
        return g

    return wrap


from bassline.gadgets import catalogue as _catalogue  # noqa: E402  (registers the built-ins)

for _g in _catalogue.BUILTIN_GADGETS:
    gadgets.register(_g.id, _g)
