"""Drawing an :class:`~bassline.engine.Explanation` as a tree of text lines (``bassline explain``).

One line per contact of the tree, ``CONTACT = VALUE  <- how it came``, with the contacts
it came from below it: a wire's source, a gadget's inputs (with their port, and whether
each still holds the value used), a merge contact's contributions, and a standing
contradiction's refused side. Then the premises (the writes the value rests on) and what
the tree cannot account for. Built without recursion, so a chain of any length draws.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from bassline.cli.render import show
from bassline.clock import INITIAL_STAMP, Stamp
from bassline.engine import Cut, Explanation, Input, Justification, Kind, Premise

__all__ = ["draw", "premise_line", "stamp_text"]

WIDEST_VALUE = 60
"""Values longer than this many characters are cut (``--json`` shows them whole)."""


_Source = tuple[str, Any]
"""Something still to draw below a line: ``("input", (Input, gadget?))``, ``("offer",
Justification)``, ``("refused", Refusal)`` or ``("text", str)``."""


class _Item:
    """One line of the tree, with the lines drawn below it (``sources``: not yet built)."""

    __slots__ = ("children", "sources", "text")

    def __init__(self, text: str, sources: list[_Source]) -> None:
        self.text = text
        self.sources = sources
        self.children: list[_Item] = []


def value_text(value: object) -> str:
    """A value as the tree shows it: compact, cut past :data:`WIDEST_VALUE` characters."""
    text = show(value)
    return text if len(text) <= WIDEST_VALUE else text[: WIDEST_VALUE - 1] + "…"


def stamp_text(stamp: Stamp) -> str:
    """When a stamp was taken, as people read it: UTC wall-clock time to the millisecond."""
    when = dt.datetime.fromtimestamp(stamp.wall_ms / 1000, dt.UTC)
    return f"{when:%Y-%m-%d %H:%M:%S}.{stamp.wall_ms % 1000:03d} UTC"


def _how(j: Justification) -> str:
    """The justification in words, for the end of its contact's line."""
    if j.kind is Kind.WRITE:
        if j.via == "spec" or j.stamp == INITIAL_STAMP:
            return "the spec's content" + ("" if j.local else ", applied here")
        if j.local:
            return f"written ({j.via}) on node {j.stamp.node}"
        return f"written ({j.via}) on node {j.stamp.node}, applied here"
    if j.kind is Kind.WIRE:
        return f"wire from {j.inputs[0].contact}" if j.inputs else "wire"
    if j.kind is Kind.GADGET:
        return f"gadget {j.gadget} (group {j.group})"
    if j.kind is Kind.MERGE:
        n = len(j.contributions)
        dropped = f", {j.omitted} older dropped" if j.omitted else ""
        return f"join of {n} contribution{'' if n == 1 else 's'}{dropped}"
    return "restored from storage, without its justification"


def _below(j: Justification) -> list[_Source]:
    """What a justification rests on, each to be drawn below it."""
    if j.kind is Kind.MERGE:
        return [("offer", c) for c in j.contributions]
    return [("input", (i, j.kind is Kind.GADGET)) for i in j.inputs]


def _input(i: Input, gadget: bool) -> tuple[str, list[_Source]]:
    text = f"{i.port}: " if i.port is not None else ""
    e = i.explanation
    if i.holds:
        text += f"{i.contact} = {value_text(i.value)}" + (" (still holds)" if gadget else "")
    else:  # what is drawn below it explains what it holds now
        now = "no value" if e is None or not e.present else value_text(e.value)
        text += f"{i.contact} used {value_text(i.value)}, now holds {now}"
    if i.cut is Cut.DEPTH:
        return text + "  <- not explained (depth limit)", []
    if i.cut is Cut.CYCLE:
        return text + "  <- explained further up (a cycle)", []
    if e is None:
        return text, []
    if i.cut is Cut.REPEAT:
        how = f"  <- {_how(e.justification)}" if e.justification is not None else ""
        return text + how + " (drawn above)", []
    return _contact(e, text)


def _contact(e: Explanation, text: str) -> tuple[str, list[_Source]]:
    """A contact's line (``text`` names it) and what is drawn below it."""
    below: list[_Source] = []
    if e.justification is not None:
        text += f"  <- {_how(e.justification)}"
        below = _below(e.justification)
    elif not e.present:
        text += "  <- no value"
    if e.contradiction is not None:
        below.append(("refused", e.contradiction))
    if e.failure is not None:
        below.append(("text", f"gadget {e.failure.gadget} failed: {e.failure.error}"))
    return text, below


def _expand(source: _Source) -> tuple[str, list[_Source]]:
    kind, what = source
    if kind == "input":
        return _input(*what)
    if kind == "offer":
        return f"offered {value_text(what.value)}  <- {_how(what)}", _below(what)
    if kind == "refused":
        return (
            f"contradiction: refused {value_text(what.value)} from {what.source} "
            f"({what.reason})  <- {_how(what.justification)}",
            _below(what.justification),
        )
    return str(what), []


def _tree(e: Explanation) -> _Item:
    """The lines for ``e``, built with an explicit stack (a chain of any length)."""
    root = _Item(*_contact(e, f"{e.contact} = {value_text(e.value) if e.present else '—'}"))
    stack = [root]
    while stack:
        item = stack.pop()
        for source in item.sources:
            child = _Item(*_expand(source))
            item.children.append(child)
            stack.append(child)
        item.sources = []
    return root


def _lines(root: _Item) -> Iterator[str]:
    """``root`` and everything below it, with tree guides (no recursion)."""
    yield root.text
    stack: list[tuple[_Item, str, bool]] = [
        (child, "", n == len(root.children) - 1) for n, child in enumerate(root.children)
    ][::-1]
    while stack:
        item, indent, last = stack.pop()
        yield f"{indent}{'└── ' if last else '├── '}{item.text}"
        inner = indent + ("    " if last else "│   ")
        stack.extend(
            (child, inner, n == len(item.children) - 1)
            for n, child in reversed(list(enumerate(item.children)))
        )


def premise_line(p: Premise) -> str:
    """One premise: the contact, the value written, how, where and when it came in."""
    head = f"{p.contact} = {value_text(p.value)}"
    if p.via == "spec" or p.stamp == INITIAL_STAMP:
        return f"{head}  (the spec's content{'' if p.local else '; applied here'})"
    where = f"{p.via} on node {p.stamp.node}, {stamp_text(p.stamp)}"
    return f"{head}  ({where})" if p.local else f"{head}  ({where}; applied here)"


def draw(e: Explanation) -> list[str]:
    """The lines ``bassline explain`` prints for ``e``."""
    lines = list(_lines(_tree(e)))
    premises = e.premises()
    if premises:
        lines.append("premises (the writes it rests on):")
        lines.extend(f"  {premise_line(p)}" for p in premises)
    refused = e.contradiction
    if refused is not None and refused.premises():
        lines.append(f"premises of the refused {value_text(refused.value)}:")
        lines.extend(f"  {premise_line(p)}" for p in refused.premises())
    gaps = e.gaps()
    if gaps:
        lines.append("not fully explained:")
        lines.extend(f"  - {g}" for g in gaps)
    else:
        lines.append("complete: these premises alone reproduce the value")
    return lines
