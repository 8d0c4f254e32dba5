"""Reading an explanation back from its JSON form (``GET /api/contacts/{contact}/explain``).

:func:`read_explanation` rebuilds the :class:`~bassline.engine.Explanation` that
:meth:`~bassline.engine.Explanation.to_json` wrote, so a node's answer reads as the
explanation a local network gives: the same attrs objects, repeats sharing one object,
``premises()``, ``gaps()`` and ``to_json()`` as on the node. Anything of another shape
(including steps that refer to each other in a circle) raises :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bassline.clock import Stamp
from bassline.codec import from_json, to_json
from bassline.content import ABSENT
from bassline.engine.explanation import Cut, Explanation, Input, Justification, Kind, Refusal
from bassline.engine.results import GadgetFailure
from bassline.errors import ContentError

__all__ = ["read_explanation"]


def _field(data: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not a JSON object")
    if key not in data:
        raise ValueError(f"{what} has no {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{what}'s {key!r} is not of the expected type")
    return value


def _optional(data: dict[str, Any], key: str, kind: type, what: str) -> Any:
    return _field(data, key, kind, what) if data.get(key) is not None else None


def _content(data: Any, what: str) -> Any:
    """The ``value`` of ``data``, decoded: content a node could hold (it encodes again)."""
    value = from_json(_field(data, "value", object, what))
    try:
        to_json(value)
    except ContentError as exc:
        raise ValueError(f"{what}'s 'value' is no content: {exc}") from None
    return value


def _stamp(data: Any, what: str) -> Stamp:
    return Stamp.from_json(_field(data, "stamp", list, what))


def _references(j: Any, what: str) -> Iterator[int]:
    """The step indices a justification's inputs (and its contributions') refer to."""
    if not isinstance(j, dict):
        raise ValueError(f"{what} is not a JSON object")
    for n, i in enumerate(_field(j, "inputs", list, what) if "inputs" in j else ()):
        if isinstance(i, dict) and i.get("explained") is not None:
            yield _field(i, "explained", int, f"{what}'s input {n}")
    for n, c in enumerate(_field(j, "contributions", list, what) if "contributions" in j else ()):
        yield from _references(c, f"{what}'s contribution {n}")


def _step_references(step: Any, what: str) -> Iterator[int]:
    j = _field(step, "justification", (dict, type(None)), what)
    if j is not None:
        yield from _references(j, f"{what}'s justification")
    refusal = step.get("contradiction")
    if refusal is not None:
        yield from _references(
            _field(refusal, "justification", dict, f"{what}'s contradiction"),
            f"{what}'s refused justification",
        )


def _justification(j: Any, built: list[Explanation | None], what: str) -> Justification:
    kind_text = _field(j, "kind", str, what)
    try:
        kind = Kind(kind_text)
    except ValueError:
        raise ValueError(f"{what} is of an unknown kind {kind_text!r}") from None
    inputs = []
    for n, i in enumerate(_field(j, "inputs", list, what) if "inputs" in j else ()):
        where = f"{what}'s input {n}"
        contact = _field(i, "contact", str, where)
        cut = _optional(i, "cut", str, where)
        explained = _optional(i, "explained", int, where)
        try:
            inputs.append(
                Input(
                    contact=contact,
                    value=_content(i, where),
                    stamp=_stamp(i, where),
                    holds=_field(i, "holds", bool, where),
                    port=_optional(i, "port", str, where),
                    explanation=None if explained is None else built[explained],
                    cut=None if cut is None else Cut(cut),
                )
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    contributions = [
        _justification(c, built, f"{what}'s contribution {n}")
        for n, c in enumerate(
            _field(j, "contributions", list, what) if "contributions" in j else ()
        )
    ]
    if kind is Kind.WRITE:  # a write is a premise: how it came in is part of it
        _field(j, "via", str, what)
        _field(j, "local", bool, what)
    gaps = _field(j, "gaps", list, what) if "gaps" in j else []
    if not all(isinstance(g, str) for g in gaps):
        raise ValueError(f"{what}'s 'gaps' are not all strings")
    return Justification(
        kind=kind,
        value=_content(j, what),
        stamp=_stamp(j, what),
        via=_optional(j, "via", str, what),
        local=_optional(j, "local", bool, what),
        group=_optional(j, "group", str, what),
        gadget=_optional(j, "gadget", str, what),
        inputs=tuple(inputs),
        contributions=tuple(contributions),
        omitted=_field(j, "omitted", int, what) if "omitted" in j else 0,
        gaps=tuple(gaps),
    )


def _failure(f: Any, what: str) -> GadgetFailure:
    outputs = _field(f, "outputs", list, what)
    # a node of an earlier version leaves the inputs out: read as none
    given = _field(f, "inputs", dict, what) if "inputs" in f else {}
    inputs = {
        port: _content({"value": value}, f"{what}'s input {port!r}")
        for port, value in given.items()
    }
    return GadgetFailure(
        group=_field(f, "group", str, what),
        gadget=_field(f, "gadget", str, what),
        error=_field(f, "error", str, what),
        inputs=inputs,
        outputs=tuple(str(o) for o in outputs),
        port=_optional(f, "port", str, what),
        kind=_optional(f, "kind", str, what),
    )


def _explanation(step: Any, built: list[Explanation | None], what: str) -> Explanation:
    contact = _field(step, "contact", str, what)
    present = _field(step, "present", bool, what)
    j = step["justification"]
    refusal = None
    r = step.get("contradiction")
    if r is not None:
        where = f"{what}'s contradiction"
        refusal = Refusal(
            contact=contact,
            reason=_field(r, "reason", str, where),
            value=_content(r, where),
            stamp=_stamp(r, where),
            source=_field(r, "source", str, where),
            justification=_justification(r["justification"], built, f"{where}'s justification"),
        )
    failure = step.get("failure")
    return Explanation(
        contact=contact,
        value=_content(step, what) if present else ABSENT,
        stamp=_stamp(step, what),
        justification=None if j is None else _justification(j, built, f"{what}'s justification"),
        contradiction=refusal,
        failure=None if failure is None else _failure(failure, f"{what}'s failure"),
    )


def read_explanation(data: Any) -> Explanation:
    """The explanation whose JSON form is ``data``; ValueError if it is not one."""
    steps = _field(data, "steps", list, "the explanation")
    if not steps:
        raise ValueError("the explanation has no steps")
    count = len(steps)
    children: list[list[int]] = []
    for n, step in enumerate(steps):
        refs = list(_step_references(step, f"step {n}"))
        bad = [k for k in refs if not 0 <= k < count]
        if bad:
            raise ValueError(f"step {n} refers to step {bad[0]}, of {count}")
        children.append(refs)
    # build each step after the steps it refers to (iteratively: any depth of tree)
    built: list[Explanation | None] = [None] * count
    state = [0] * count  # 0 not seen, 1 waiting for its children, 2 built
    for root in range(count):
        stack = [root]
        while stack:
            n = stack[-1]
            if state[n] == 2:
                stack.pop()
                continue
            waiting = [k for k in children[n] if state[k] != 2]
            if state[n] == 1 and not waiting:
                built[n] = _explanation(steps[n], built, f"step {n}")
                state[n] = 2
                stack.pop()
                continue
            if any(state[k] == 1 for k in waiting):
                raise ValueError(f"step {n} refers back to a step that refers to it")
            state[n] = 1
            stack.extend(waiting)
    root_explanation = built[0]
    assert root_explanation is not None
    if root_explanation.contact != _field(data, "contact", str, "the explanation"):
        raise ValueError("the explanation's first step is not the contact it explains")
    return root_explanation
