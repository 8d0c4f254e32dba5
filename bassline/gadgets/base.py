"""What a primitive gadget is: named ports, an activation test and a pure function."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import attrs

from bassline.content import Content

__all__ = [
    "Gadget",
    "Inputs",
    "Kind",
    "Outputs",
    "PortInputs",
    "UnusableInput",
    "all_present",
    "kind_of",
]

Inputs = Mapping[str, Any]
"""The current content of each input port that has content (absent ports are missing)."""

Outputs = Mapping[str, Content]
"""What a gadget emits: output port name -> value. Ports left out are not written."""


def kind_of(value: Any) -> str:
    """What kind of content ``value`` is, in words: ``"a string"``, ``"an interval"``, ``"null"``."""
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "a boolean"
    if t is int or t is float:
        return "a number"
    if t is str:
        return "a string"
    if t is list:
        return "a list"
    if t is dict:
        return "an object"
    tag = getattr(value, "tag", None)
    if isinstance(tag, str):
        return f"an {tag}" if tag[:1] in "aeiou" else f"a {tag}"
    return f"a {t.__name__}"


@attrs.frozen
class Kind:
    """What a port can compute with: a test and its description (``"a number or an interval"``)."""

    description: str
    accepts: Callable[[Any], bool]


class UnusableInput(ValueError):
    """A gadget received content it cannot compute with on one of its ports.

    The engine records it as a failure of the gadget that names the port and the kind of
    value (:attr:`~bassline.engine.GadgetFailure.port`, :attr:`~bassline.engine.GadgetFailure.kind`).
    """

    def __init__(self, gadget: str, port: str, value: Any, expected: str) -> None:
        self.gadget = gadget
        self.port = port
        self.kind = kind_of(value)
        self.expected = expected
        text = repr(value)
        if len(text) > 40:
            text = text[:37] + "..."
        super().__init__(
            f"{gadget}: port {port!r} got {self.kind} ({text}); it computes with {expected}"
        )


class PortInputs(Mapping[str, Any]):
    """The inputs of a gadget with two-way ports, and how each port's contact takes writes.

    A plain mapping of port to content, plus:

    - ``oldest_first``: the ports that have content, from the one written longest ago to
      the newest (equal stamps: the later port in the gadget's port order counts as older);
    - ``replaced``: the ports whose contact is ``accept-last`` (a write replaces the content);
      the others are ``merge`` contacts (a write is joined with the content).

    A gadget called with a plain dict (in a test, say) sees every port as ``merge``.
    """

    __slots__ = ("_values", "oldest_first", "replaced")

    def __init__(
        self,
        values: Mapping[str, Any],
        oldest_first: Sequence[str] = (),
        replaced: AbstractSet[str] = frozenset(),
    ) -> None:
        self._values = dict(values)
        self.oldest_first = tuple(oldest_first)
        self.replaced = frozenset(replaced)

    def __getitem__(self, port: str) -> Any:
        return self._values[port]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return (
            f"PortInputs({self._values!r}, oldest_first={self.oldest_first!r}, "
            f"replaced={sorted(self.replaced)!r})"
        )


def all_present(gadget: Gadget, inputs: Inputs) -> bool:
    """The default activation: every input port has content."""
    return all(port in inputs for port in gadget.inputs)


def _ports(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # not its characters
        raise TypeError(f"ports are a list of port names, not the string {value!r}")
    ports = tuple(value)
    for p in ports:
        if not isinstance(p, str) or not p:
            raise ValueError(f"port names must be non-empty strings, got {p!r}")
    if len(set(ports)) != len(ports):
        raise ValueError(f"port names must be unique, got {ports}")
    return ports


def _kinds(value: Any) -> dict[str, Kind]:
    kinds = dict(value or {})
    for port, kind in kinds.items():
        if not isinstance(kind, Kind):
            raise TypeError(f"the kind of port {port!r} must be a bassline.gadgets.Kind")
    return kinds


@attrs.frozen
class Gadget:
    """A primitive gadget: when an input changes and ``activation`` holds, ``body`` computes outputs.

    ``body`` must be a pure function of its inputs; an exception it raises is captured by the
    engine and reported, never propagated. Values it returns are written to the output
    contacts through their blend mode, like any other write.

    ``kinds`` says what an input port can compute with; content of another kind on that port
    is an :class:`UnusableInput` failure (checked before ``activation``), never a silent
    no-fire. A port listed in both ``inputs`` and ``outputs`` is a *two-way* port (boundary
    ``both`` in a spec): the gadget reads and writes it, receives :class:`PortInputs`, and its
    own writes to its ports do not run it again (it must reach its own fixpoint in one run).
    """

    id: str
    inputs: tuple[str, ...] = attrs.field(converter=_ports)
    outputs: tuple[str, ...] = attrs.field(converter=_ports)
    body: Callable[[Inputs], Outputs]
    activation: Callable[[Inputs], bool] | None = None
    description: str = ""
    category: str = "custom"
    kinds: dict[str, Kind] = attrs.field(factory=dict, converter=_kinds)

    def __attrs_post_init__(self) -> None:
        unknown = set(self.kinds) - set(self.inputs)
        if unknown:
            raise ValueError(
                f"gadget {self.id!r}: kinds given for unknown inputs {sorted(unknown)}"
            )

    @property
    def ports(self) -> tuple[str, ...]:
        """Every port name, once each: inputs first, then the outputs that are not inputs."""
        return self.inputs + tuple(p for p in self.outputs if p not in self.inputs)

    @property
    def two_way(self) -> tuple[str, ...]:
        """The ports that are both read and written."""
        return tuple(p for p in self.inputs if p in self.outputs)

    def check(self, inputs: Inputs) -> None:
        """Raise :class:`UnusableInput` for the first input whose content is of the wrong kind."""
        for port, kind in self.kinds.items():
            if port in inputs and not kind.accepts(inputs[port]):
                raise UnusableInput(self.id, port, inputs[port], kind.description)

    def is_active(self, inputs: Inputs) -> bool:
        """Whether the gadget should run on these inputs."""
        if self.activation is None:
            return all_present(self, inputs)
        return bool(self.activation(inputs))

    def run(self, inputs: Inputs, *, checked: bool = False) -> Outputs:
        """Check the kinds of the inputs (unless ``checked``), then compute the outputs.

        Only known output ports may be emitted.
        """
        if self.kinds and not checked:
            self.check(inputs)
        result = self.body(inputs)
        if not isinstance(result, Mapping):
            raise TypeError(
                f"gadget {self.id!r} returned {type(result).__name__}, expected a mapping of outputs"
            )
        unknown = set(result) - set(self.outputs)
        if unknown:
            raise ValueError(f"gadget {self.id!r} emitted unknown outputs {sorted(unknown)}")
        return result
