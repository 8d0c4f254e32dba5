"""Checking the stored form of a justification (:attr:`ContentRecord.justification`).

The text is what :meth:`bassline.engine.Network.stored_justification` gives: one JSON
object whose ``kind`` is ``write``, ``wire``, ``gadget`` or ``merge`` (the shapes are in
docs/provenance.md, "Stored with the content"). Storage keeps it as opaque text; the
base class refuses a record whose justification is not of that shape, so that nothing a
backend stores fails to load.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["MAX_JUSTIFICATION_LENGTH", "justification_problem", "justifications_ok"]

MAX_JUSTIFICATION_LENGTH = 1 << 20
"""The longest justification text storage takes (1 MiB of UTF-8)."""

_REFERENCE_KINDS = frozenset({"write", "wire", "gadget"})


def _stamp_ok(data: Any) -> bool:
    return (
        type(data) is list
        and len(data) == 2
        and type(data[0]) is int
        and 0 <= data[0] < 2**63
        and type(data[1]) is str
    )


def _reference_problem(data: Any, where: str) -> str | None:
    if type(data) is not dict:
        return f"{where} is not a JSON object"
    kind = data.get("kind")
    if kind not in _REFERENCE_KINDS:
        return f"{where} has kind {kind!r} (expected write, wire, gadget or merge)"
    if "stamp" in data and not _stamp_ok(data["stamp"]):
        return f"{where}: stamp must be [hlc, node]"
    if kind == "write":
        if type(data.get("via")) is not str or not data["via"]:
            return f"{where}: a write needs via, a non-empty string"
        if type(data.get("local", True)) is not bool:
            return f"{where}: a write's local must be true or false"
    elif kind == "wire":
        if type(data.get("from")) is not str:
            return f"{where}: a wire needs from, a contact id"
    else:
        if type(data.get("group")) is not str:
            return f"{where}: a gadget needs group, a group id"
        inputs = data.get("inputs")
        if type(inputs) is not list:
            return f"{where}: a gadget needs inputs, a list"
        for n, used in enumerate(inputs):
            if not (
                type(used) is list
                and len(used) == 4
                and type(used[0]) is str
                and type(used[1]) is str
                and _stamp_ok(used[3])
            ):
                return f"{where}: gadget input {n} must be [port, contact, value, [hlc, node]]"
    return None


def justification_problem(text: Any) -> str | None:
    """Why ``text`` is not a stored justification (None if it is one, or is None)."""
    if text is None:
        return None
    if type(text) is not str:
        return f"must be a string (JSON text) or None, not {type(text).__name__}"
    if len(text) > MAX_JUSTIFICATION_LENGTH:
        return f"is {len(text)} characters long (at most {MAX_JUSTIFICATION_LENGTH})"
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return f"is not JSON ({exc})"
    if type(data) is dict and data.get("kind") == "merge":
        items = data.get("contributions")
        if type(items) is not list or not items:
            return "a merge needs contributions, a non-empty list"
        omitted = data.get("omitted", 0)
        if type(omitted) is not int or omitted < 0:
            return "a merge's omitted must be a whole number"
        for n, item in enumerate(items):
            if type(item) is not list or len(item) != 3 or not _stamp_ok(item[2]):
                return f"contribution {n} must be [reference, value, [hlc, node]]"
            if problem := _reference_problem(item[0], f"contribution {n}"):
                return problem
        return None
    return _reference_problem(data, "the justification")


_VALID: dict[str, bool] = {}
"""Justification texts already found valid (most are shared: a write kind, a wire)."""


def justifications_ok(texts: Iterable[Any]) -> bool:
    """Whether every one of ``texts`` is None or a valid stored justification (each
    distinct text checked once; a few thousand valid texts are remembered)."""
    try:
        distinct = set(texts)
    except TypeError:  # an unhashable justification: not a string
        return False
    for text in distinct:
        if text is None or (type(text) is str and text in _VALID):
            continue
        if justification_problem(text) is not None:
            return False
        if len(_VALID) >= 4096:
            _VALID.clear()
        _VALID[text] = True
    return True
