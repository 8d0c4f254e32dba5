"""What the built-in gadget modules share: the kinds their ports compute with, activations,
and making a :class:`~bassline.gadgets.Gadget` of a category."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bassline.gadgets import numeric as num
from bassline.gadgets.base import Gadget, Inputs, Kind, Outputs
from bassline.gadgets.jsonish import is_list, is_number

__all__ = [
    "LIST",
    "NOTHING",
    "NUMBER",
    "PARTIAL_NUMBER",
    "Activation",
    "Body",
    "emit_if",
    "make",
    "plain",
    "present",
]

Activation = Callable[[Inputs], bool]
"""Whether a gadget runs, given the contents of its inputs."""
Body = Callable[[Inputs], Outputs]
"""A gadget's computation: inputs to the outputs it emits."""

NOTHING: Outputs = {}
"""What a body returns when it emits nothing."""

PARTIAL_NUMBER = Kind("a number or an interval", num.is_partial_number)
"""What math and comparison ports compute with."""
NUMBER = Kind("a number", is_number)
"""What index ports compute with."""
LIST = Kind("a list", is_list)
"""What array ports compute with."""


def present(*ports: str) -> Activation:
    """Activation: every named port has content (``None`` counts as content)."""
    return lambda ins: all(p in ins for p in ports)


def make(
    category: str,
    id: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    body: Body,
    activation: Activation | None,
    description: str,
    kinds: dict[str, Kind] | None = None,
) -> Gadget:
    """A built-in :class:`Gadget` of ``category``, its ports in the order given."""
    return Gadget(
        id=id,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        body=body,
        activation=activation,
        description=description,
        category=category,
        kinds=kinds or {},
    )


def emit_if(port: str, ins: Inputs, source: str) -> Outputs:
    """``{port: ins[source]}`` if ``source`` has content, else nothing."""
    return {port: ins[source]} if source in ins else NOTHING


def plain(*values: Any) -> bool:
    """Whether every value is a plain number (then the exact scalar operation applies)."""
    return all(type(v) is int or type(v) is float for v in values)
