"""What a primitive gadget is: named ports, an activation test and a pure function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["Gadget", "Inputs", "Outputs", "all_present"]

Inputs = Mapping[str, Any]
"""The current content of each input port that has content (absent ports are missing)."""

Outputs = Mapping[str, Any]
"""What a gadget emits: output port name -> value. Ports left out are not written."""


def all_present(gadget: Gadget, inputs: Inputs) -> bool:
    """The default activation: every input port has content."""
    return all(port in inputs for port in gadget.inputs)


def _ports(value: Any) -> tuple[str, ...]:
    ports = tuple(value)
    for p in ports:
        if not isinstance(p, str) or not p:
            raise ValueError(f"port names must be non-empty strings, got {p!r}")
    if len(set(ports)) != len(ports):
        raise ValueError(f"port names must be unique, got {ports}")
    return ports


@attrs.frozen
class Gadget:
    """A primitive gadget: when an input changes and ``activation`` holds, ``body`` computes outputs.

    ``body`` must be a pure function of its inputs; an exception it raises is captured by the
    engine and reported, never propagated. Values it returns are written to the output
    contacts through their blend mode, like any other write.
    """

    id: str
    inputs: tuple[str, ...] = attrs.field(converter=_ports)
    outputs: tuple[str, ...] = attrs.field(converter=_ports)
    body: Callable[[Inputs], Outputs]
    activation: Callable[[Inputs], bool] | None = None
    description: str = ""
    category: str = "custom"

    def __attrs_post_init__(self) -> None:
        overlap = set(self.inputs) & set(self.outputs)
        if overlap:
            raise ValueError(
                f"gadget {self.id!r}: ports {sorted(overlap)} are both input and output"
            )

    @property
    def ports(self) -> tuple[str, ...]:
        """Every port name, inputs first."""
        return self.inputs + self.outputs

    def is_active(self, inputs: Inputs) -> bool:
        """Whether the gadget should run on these inputs."""
        if self.activation is None:
            return all_present(self, inputs)
        return bool(self.activation(inputs))

    def run(self, inputs: Inputs) -> Outputs:
        """Compute the outputs (only the known output ports are kept)."""
        result = self.body(inputs)
        if not isinstance(result, Mapping):
            raise TypeError(
                f"gadget {self.id!r} returned {type(result).__name__}, expected a mapping of outputs"
            )
        unknown = set(result) - set(self.outputs)
        if unknown:
            raise ValueError(f"gadget {self.id!r} emitted unknown outputs {sorted(unknown)}")
        return result
