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

from collections.abc import Sequence
from itertools import compress, repeat
from operator import eq, gt, is_
from typing import Any

from bassline.clock import Stamp
from bassline.engine.carried import CarriedWrite
from bassline.engine.checks import all_plainly_encodable
from bassline.engine.justify import write_ref
from bassline.engine.results import PropagationResult
from bassline.engine.wiring import ACCEPT_LAST

__all__ = ["apply_columns", "lone_contacts", "run_lone"]

_REMOTE = write_ref("remote", local=False)  # Network.apply's fallback for source="remote"


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


def apply_columns(
    net: Any,
    cids: Sequence[str],
    values: Sequence[Any],
    stamps: Sequence[Stamp],
    carried: Any,
    newest: Stamp,
) -> PropagationResult:
    """``net.apply(list(zip(cids, values, stamps, repeat(carried))))`` for a peer's delta
    given as columns whose stamps the protocol made (every one a
    :class:`~bassline.clock.Stamp` with a clock reading in range and a good node id),
    ``carried`` the one justification all its items share (or None), ``newest`` the stamp
    with the newest clock reading: the same result, listeners, contents and errors,
    without checking each stamp again or zipping the items into tuples and back. The
    ids, values and justification are checked as there; any batch not plainly good goes
    to :meth:`~bassline.engine.Network.apply` itself (which names what is wrong)."""
    if not len(cids) == len(values) == len(stamps):  # never zipped short: named here
        raise ValueError(
            f"columns of unequal length: {len(cids)} contacts, {len(values)} values, "
            f"{len(stamps)} stamps"
        )
    index = net._index
    try:
        at = list(map(index.__getitem__, cids))
    except (KeyError, TypeError):
        at = None
    # plain_applied's checks that do not depend on how the stamps were made
    plain = (
        at  # (an empty batch too: apply's general run)
        and all_plainly_encodable(values)  # type: ignore[arg-type]
        and (carried is None or (type(carried) is CarriedWrite and carried.stamp is None))
    )
    if not plain or not all(map(is_, map(net._lattice.__getitem__, at), repeat(None))):  # type: ignore[arg-type]
        return net.apply(list(zip(cids, values, stamps, repeat(carried))))  # type: ignore[no-any-return]
    assert at is not None
    why = _REMOTE
    if carried is not None:  # Carrier.shared_writes: the shared write resolved once
        why = net._carrier.resolve(at[0], stamps[0], carried, "remote", _REMOTE, {})
    whys = [why] * len(at)
    try:  # the newest first: when the clock takes it, it takes every one
        net.clock.observe(newest)
    except ValueError:
        net.clock.observe_all(stamps)  # in order: raises for the first too new
    lone = run_lone(net, at, values, stamps, whys, remote=True)
    if lone is not None:
        return lone
    return net._run_from(list(zip(at, values, stamps, whys, strict=True)), remote=True)  # type: ignore[no-any-return]
