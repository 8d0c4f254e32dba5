"""The run of a batch that nothing can propagate from: the engine's fast path for flat writes.

A batch whose every contact is accept-last, has no wire out and feeds no gadget this node
runs (a *lone* contact) ends after its offers are taken: no step can follow one. That is
most of what a node of a flat network does (``Network.apply`` of a peer's delta, a local
``update_many``), and :func:`run_lone` runs it with the checks made a column at a time
(C loops) and without the general run's queue, change map and per-step loop. It takes
only batches whose outcome it gives exactly as :meth:`Propagator._run_from` would (the
same contents, stamps and justifications, the same result, the same listeners called):
every other batch (a contact twice, a remote stamp equal to the one held, more offers
than the step budget) is left to the general run (it returns None).
"""

from __future__ import annotations

from itertools import compress
from operator import eq, gt
from typing import Any

from bassline.clock import Stamp
from bassline.engine.results import PropagationResult
from bassline.engine.wiring import ACCEPT_LAST

__all__ = ["lone_contacts", "run_lone"]


def lone_contacts(net: Any) -> list[bool]:
    """Per contact of the :class:`~bassline.engine.propagation.Propagator` ``net``,
    whether it is lone: accept-last, no wire out, no gadget of this node reading it.
    Worked out again when the gadgets run here change (``set_run_groups`` gives the
    network new feeds)."""
    cached: tuple[list[tuple[int, ...]], list[bool]] | None = net._lone
    if cached is not None and cached[0] is net._feeds:
        return cached[1]
    flags = [
        not out and not feeds and kind == ACCEPT_LAST
        for out, feeds, kind in zip(net._out, net._feeds, net._kind, strict=True)
    ]
    net._lone = (net._feeds, flags)
    return flags


def run_lone(
    net: Any,
    at: list[int],
    values: Any,
    stamps: Any,
    whys: list[Any],
    *,
    remote: bool,
) -> PropagationResult | None:
    """Offer ``values`` (stamped ``stamps``, justified by ``whys``: columns of the
    contacts ``at``, checked already) and finish the run, when every contact is lone and
    named once; None (nothing changed) for a batch the general run must take.

    As there: a strictly newer stamp replaces the content (and its justification), an
    older one is refused; a remote stamp equal to the one held goes to the tie rules of
    the general run. Each content taken is one step."""
    count = len(at)
    if count > net.step_budget:  # the budget would stop the general run part-way
        return None
    lone = lone_contacts(net)
    if not all(map(lone.__getitem__, at)) or len(set(at)) != count:
        return None
    own_values, own_stamps, own_whys = net._values, net._stamps, net._why
    held: list[Stamp] = list(map(own_stamps.__getitem__, at))
    newer = list(map(gt, stamps, held))
    if not all(newer):
        if remote and any(map(eq, stamps, held)):
            return None  # a tie with a replica's content: the general run orders them
        at = list(compress(at, newer))
        values = list(compress(values, newer))
        stamps = list(compress(stamps, newer))
        whys = list(compress(whys, newer))
    olds = list(map(own_values.__getitem__, at))
    for i, value, stamp, why in zip(at, values, stamps, whys, strict=True):
        own_values[i] = value
        own_stamps[i] = stamp
        own_whys[i] = why
    result = PropagationResult._from_run(
        (list(map(net._ids.__getitem__, at)), olds, list(values), list(stamps)),
        (),
        (),
        len(at),
        True,
        (),
    )
    if net._listeners or net._streams:
        net._notify(result)
    return result
