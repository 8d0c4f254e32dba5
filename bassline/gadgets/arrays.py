"""The ``array`` gadgets: items of a list, and new lists made from one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bassline.gadgets.base import Gadget, Inputs, Outputs
from bassline.gadgets.builtin import (
    LIST,
    NOTHING,
    NUMBER,
    make,
    present,
)
from bassline.gadgets.jsonish import (
    index,
    is_whole,
    optional_index,
    whole,
)

__all__ = ["ARRAY"]


_ARRAY_KINDS = {"array": LIST}


def _array_op(
    id: str, op: Callable[[list[Any]], Any], description: str, output: str = "result"
) -> Gadget:
    """An array gadget ``array -> output`` that always emits ``op(array)``."""

    def body(ins: Inputs) -> Outputs:
        return {output: op(ins["array"])}

    return make(
        "array", id, ("array",), (output,), body, present("array"), description, _ARRAY_KINDS
    )


def _at(items: list[Any], position: Any) -> Outputs:
    """``{"result": items[position]}`` for a whole in-range position (negative from the end)."""
    if is_whole(position) and -len(items) <= position < len(items):
        return {"result": items[whole(position)]}
    return NOTHING


def _slice(ins: Inputs) -> Outputs:
    start = index("slice", "start", ins["start"])
    end = optional_index("slice", "end", ins.get("end"))
    return {"result": ins["array"][start:end]}


def _is_empty(item: Any) -> bool:
    return item is None or (isinstance(item, str) and item == "")


ARRAY: tuple[Gadget, ...] = (
    make(
        "array",
        "first",
        ("array",),
        ("result",),
        lambda ins: _at(ins["array"], 0),
        present("array"),
        "result = the first item (nothing if the array is empty)",
        _ARRAY_KINDS,
    ),
    make(
        "array",
        "last",
        ("array",),
        ("result",),
        lambda ins: _at(ins["array"], -1),
        present("array"),
        "result = the last item (nothing if the array is empty)",
        _ARRAY_KINDS,
    ),
    make(
        "array",
        "nth",
        ("array", "index"),
        ("result",),
        lambda ins: _at(ins["array"], ins["index"]),
        present("array", "index"),
        "result = the item at index, negative from the end (nothing if out of range or fractional)",
        {"array": LIST, "index": NUMBER},
    ),
    _array_op("arraySize", len, "size = number of items in the array", output="size"),
    make(
        "array",
        "append",
        ("array", "value"),
        ("result",),
        lambda ins: {"result": [*ins["array"], ins["value"]]},
        present("array", "value"),
        "result = a new list: the array followed by value",
        _ARRAY_KINDS,
    ),
    make(
        "array",
        "prepend",
        ("array", "value"),
        ("result",),
        lambda ins: {"result": [ins["value"], *ins["array"]]},
        present("array", "value"),
        "result = a new list: value followed by the array",
        _ARRAY_KINDS,
    ),
    _array_op("reverse", lambda items: items[::-1], "result = a reversed copy of the array"),
    make(
        "array",
        "slice",
        ("array", "start", "end"),
        ("result",),
        _slice,
        present("array", "start"),
        "result = array[start:end] with Python slicing (end optional)",
        {"array": LIST, "start": NUMBER},
    ),
    _array_op(
        "filterEmpty",
        lambda items: [item for item in items if not _is_empty(item)],
        "result = the array without its null and '' items",
    ),
)
"""The array gadgets, in catalogue order."""
