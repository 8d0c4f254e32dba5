"""Turning contents and results into text for people and JSON for scripts."""

from __future__ import annotations

import sys
from typing import Any, Protocol

import orjson
from rich.table import Table
from rich.text import Text

from bassline.codec import dumps, to_json
from bassline.content import ABSENT, Absent, Content
from bassline.engine import ContradictionRecord, GadgetFailure, PropagationResult
from bassline.lattices import GrowMap, GrowSet, Interval, ShrinkSet
from bassline.spec import Bassline

__all__ = [
    "NetworkView",
    "bad_json",
    "plural",
    "print_json",
    "result_json",
    "say",
    "show",
    "values_table",
]


class NetworkView(Protocol):
    """What the tables and JSON read: an engine ``Network`` or a runtime (the engine's
    door, :class:`~bassline.runtime.StorageBackedRuntime`)."""

    @property
    def spec(self) -> Bassline:
        """The Bassline that runs."""
        ...

    @property
    def contradictions(self) -> dict[str, ContradictionRecord]:
        """The standing contradiction of each contact that has one."""
        ...

    @property
    def failures(self) -> dict[str, GadgetFailure]:
        """The standing gadget failure of each output contact that has one."""
        ...

    @property
    def step_budget(self) -> int:
        """The most steps one run may take before it stops unsettled."""
        ...

    def value(self, contact_id: str) -> Content | Absent:
        """A contact's content, or ABSENT when it has none."""
        ...

    def values(self) -> dict[str, Content]:
        """Every contact that has content, by id."""
        ...


def show(value: Any) -> str:
    """A compact, readable rendering of one content value."""
    if value is ABSENT:
        return "—"
    if isinstance(value, GrowSet | ShrinkSet):
        return f"{value.tag}{{{', '.join(show(v) for v in value.values)}}}"
    if isinstance(value, Interval):
        lo = "-inf" if value.lo is None else show(value.lo)
        hi = "+inf" if value.hi is None else show(value.hi)
        # an empty one is no content (D54), but an earlier node or store can hold one
        return f"[{lo}, {hi}] (empty)" if value.empty else f"[{lo}, {hi}]"
    if isinstance(value, GrowMap):
        return "grow-map" + dumps(dict(value))
    return dumps(value)


def values_table(network: NetworkView, result: PropagationResult, *, show_all: bool) -> Table:
    """A table of contacts: value, and any standing contradiction or gadget failure.

    Gadget port contacts are listed with ``show_all``, and always when they hold a problem.
    """
    # ids, versions and values are drawn as written, never as Rich markup ("[/x]")
    from bassline.cli.console import visible

    title = Text(visible(f"{network.spec.id} (v{network.spec.version})"))
    table = Table(title=title, title_justify="left")
    table.add_column("contact", style="bold")
    table.add_column("value")
    table.add_column("problem", style="red")
    user_facing = {c.id for c in network.spec.contacts if not _is_port(network, c.id)}
    contradictions = network.contradictions
    failures = network.failures
    for cid in (c.id for c in network.spec.contacts):
        # a gadget's failure or a contradiction sits on its port contact: show it anyway
        hidden = cid not in user_facing and cid not in contradictions and cid not in failures
        if not show_all and hidden:
            continue
        problem = ""
        if cid in contradictions:
            r = contradictions[cid]
            problem = f"contradiction: {r.reason} (rejected {show(r.incoming)} from {r.source})"
        elif cid in failures:
            f = failures[cid]
            problem = f"gadget {f.gadget} in {f.group} failed: {f.error}"
        table.add_row(Text(cid), Text(show(network.value(cid))), Text(problem))
    if not result.settled:
        table.caption = f"not settled after {result.steps} steps: {', '.join(result.unsettled)}"
    return table


def _is_port(network: NetworkView, contact_id: str) -> bool:
    spec = network.spec
    group = spec.group(spec.contact(contact_id).group)
    return group.gadget is not None


def result_json(network: NetworkView, result: PropagationResult) -> dict[str, Any]:
    """Everything ``bassline run --json`` prints."""
    return {
        "network": network.spec.id,
        "version": network.spec.version,
        "hash": network.spec.hash,
        "settled": result.settled,
        "steps": result.steps,
        "unsettled": list(result.unsettled),
        "contacts": {cid: to_json(v) for cid, v in network.values().items()},
        "contradictions": [
            {
                "contact": r.contact,
                "reason": r.reason,
                "current": to_json(r.current) if r.current is not ABSENT else None,
                "incoming": to_json(r.incoming),
                "source": r.source,
            }
            for r in network.contradictions.values()
        ],
        "failures": [
            {
                "contact": cid,
                "group": f.group,
                "gadget": f.gadget,
                "error": f.error,
                "port": f.port,
                "kind": f.kind,
            }
            for cid, f in network.failures.items()
        ],
    }


def print_json(data: Any, *, compact: bool = False) -> None:
    """Print plain JSON data to stdout for scripts (``--json``), and flush it.

    Every command prints JSON this way: keys sorted (at every depth, as the node's API and
    the export document have them), indented by two spaces, or on one line with
    ``compact`` (a line per event or run, as ``watch --json`` and ``run --watch --json`` print).
    """
    option = orjson.OPT_SORT_KEYS | (0 if compact else orjson.OPT_INDENT_2)
    sys.stdout.write(orjson.dumps(data, option=option).decode() + "\n")
    sys.stdout.flush()


def say(text: str) -> None:
    """Print one plain line to stdout: no markup, no highlighting, never wrapped, and its
    control characters escaped (a file name or URL the user typed, quoted back, cannot
    drive the terminal: see :func:`~bassline.cli.console.visible`)."""
    from bassline.cli.console import out, visible

    out.print(visible(text), markup=False, highlight=False, soft_wrap=True)


def plural(count: int, noun: str) -> str:
    """``"1 batch"``, ``"2 batches"``: a count with its noun."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}es" if noun.endswith(("s", "ch", "sh", "x")) else f"{count} {noun}s"


def bad_json(text: str, exc: orjson.JSONDecodeError, quoted: str) -> str:
    """Why ``text`` from the command line is not a JSON value; a bare word gets ``quoted``.

    The parser's reason is kept: ``1e999`` is refused for being infinite and a value nested
    too deep for its depth, neither of which quoting would fix.
    """
    message = f"{text!r} is not valid JSON ({exc.msg})"
    start = text.lstrip()[:1]
    if not start or start not in '[{"-0123456789':
        message += f"; quote strings, e.g. {quoted}"
    return message
