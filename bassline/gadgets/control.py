"""The ``control`` gadgets: route a value by a condition or selector (nothing while it is an
interval that may or may not be 0)."""

from __future__ import annotations

from bassline.gadgets import numeric as num
from bassline.gadgets.base import Gadget, Inputs, Outputs
from bassline.gadgets.builtin import (
    NOTHING,
    emit_if,
    make,
    present,
)

__all__ = ["CONTROL"]


# A condition that is an interval holding 0 and other numbers is not known to be true or
# false: the control gadgets then emit nothing, as they do while a port is empty.


def _gate(ins: Inputs) -> Outputs:
    return {"output": ins["value"]} if num.truth(ins["condition"]) else NOTHING


def _choose(
    id: str, inputs: tuple[str, str, str], key: str, if_false: str, if_true: str, description: str
) -> Gadget:
    """A gadget whose ``result`` is ``if_true``'s content when ``key`` is truthy, else
    ``if_false``'s (nothing while the chosen port is empty or ``key`` is unknown)."""

    def body(ins: Inputs) -> Outputs:
        chosen = num.truth(ins[key])
        if chosen is None:
            return NOTHING
        return emit_if("result", ins, if_true if chosen else if_false)

    def ready(ins: Inputs) -> bool:
        return key in ins and (if_false in ins or if_true in ins)

    return make("control", id, inputs, ("result",), body, ready, description)


def _demux(ins: Inputs) -> Outputs:
    selector = num.truth(ins["selector"])
    if selector is None:
        return NOTHING
    return {"out1" if selector else "out0": ins["value"]}


def _latch(ins: Inputs) -> Outputs:
    return emit_if("output", ins, "value") if num.truth(ins["enable"]) else NOTHING


CONTROL: tuple[Gadget, ...] = (
    make(
        "control",
        "gate",
        ("value", "condition"),
        ("output",),
        _gate,
        present("value", "condition"),
        "output = value while condition is truthy; otherwise emits nothing",
    ),
    _choose(
        "switch",
        ("condition", "true", "false"),
        "condition",
        "false",
        "true",
        "result = true if condition is truthy else false (nothing if that port is empty)",
    ),
    make(
        "control",
        "demux",
        ("value", "selector"),
        ("out0", "out1"),
        _demux,
        present("value", "selector"),
        "out1 = value if selector is truthy, else out0 = value; the other output is untouched",
    ),
    _choose(
        "mux",
        ("in0", "in1", "selector"),
        "selector",
        "in0",
        "in1",
        "result = in1 if selector is truthy else in0 (nothing if that port is empty)",
    ),
    make(
        "control",
        "latch",
        ("value", "enable"),
        ("output",),
        _latch,
        present("enable"),
        "output = value while enable is truthy (stateless); otherwise emits nothing",
    ),
    make(
        "control",
        "delay",
        ("value", "delay"),
        ("output",),
        lambda ins: {"output": ins["value"]},
        present("value"),
        "output = value, immediately (the delay port is ignored inside a propagation wave)",
    ),
)
"""The control gadgets, in catalogue order."""
