"""The ``string`` gadgets: text of any content (see ``docs/gadgets.md`` for how content
becomes text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bassline.gadgets.base import Gadget, Inputs, Outputs
from bassline.gadgets.builtin import (
    LIST,
    NUMBER,
    make,
    present,
)
from bassline.gadgets.jsonish import (
    index,
    optional_index,
    text,
)

__all__ = ["STRING"]


def _text_op(id: str, op: Callable[[str], Any], description: str, output: str = "result") -> Gadget:
    """A string gadget ``value -> output`` applying ``op`` to the text of ``value``."""

    def body(ins: Inputs) -> Outputs:
        return {output: op(text(ins["value"]))}

    return make("string", id, ("value",), (output,), body, present("value"), description)


def _length(ins: Inputs) -> Outputs:
    value = ins["value"]
    if isinstance(value, str | list | dict):
        return {"length": len(value)}
    return {"length": len(text(value))}


def _substring(ins: Inputs) -> Outputs:
    start = index("substring", "start", ins["start"])
    end = optional_index("substring", "end", ins.get("end"))
    return {"result": text(ins["string"])[start:end]}


def _split(ins: Inputs) -> Outputs:
    string, separator = text(ins["string"]), text(ins["separator"])
    return {"result": list(string) if separator == "" else string.split(separator)}


def _join(ins: Inputs) -> Outputs:
    separator = ins.get("separator")
    sep = "," if separator is None else text(separator)
    return {"result": sep.join("" if item is None else text(item) for item in ins["array"])}


STRING: tuple[Gadget, ...] = (
    make(
        "string",
        "concat",
        ("a", "b"),
        ("result",),
        lambda ins: {"result": text(ins["a"]) + text(ins["b"])},
        present("a", "b"),
        "result = text of a followed by text of b",
    ),
    make(
        "string",
        "length",
        ("value",),
        ("length",),
        _length,
        present("value"),
        "length = code points of a string, items of a list or dict, else length of its JSON text",
    ),
    make(
        "string",
        "substring",
        ("string", "start", "end"),
        ("result",),
        _substring,
        present("string", "start"),
        "result = text of string sliced Python-style from start to optional end",
        {"start": NUMBER},
    ),
    _text_op("toUpper", str.upper, "result = text of value in upper case (Unicode full mapping)"),
    _text_op("toLower", str.lower, "result = text of value in lower case (Unicode full mapping)"),
    _text_op("trim", str.strip, "result = text of value without leading and trailing whitespace"),
    make(
        "string",
        "split",
        ("string", "separator"),
        ("result",),
        _split,
        present("string", "separator"),
        "result = list of the parts of string between separators ('' splits into characters)",
    ),
    make(
        "string",
        "join",
        ("array", "separator"),
        ("result",),
        _join,
        present("array"),
        "result = the array's items as text joined by separator (default ',')",
        {"array": LIST},
    ),
)
"""The string gadgets, in catalogue order."""
