"""Stamps and the hybrid logical clock that orders last-writer-wins values.

A :class:`Stamp` is ``(hlc, node)``: a hybrid logical clock reading packed into one
integer (milliseconds since the epoch shifted left 16 bits, plus a logical counter in
the low bits) and the writing node's id as the tie-break. Stamps compare as tuples, so
``max`` of two stamps is the newer write on every replica alike.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

from bassline.codec import is_text

__all__ = [
    "INITIAL_STAMP",
    "LOGICAL_BITS",
    "MAX_NODE_ID",
    "NODE_ID_RULE",
    "ZERO_STAMP",
    "HybridLogicalClock",
    "Stamp",
    "is_node_id",
    "is_stamp_node",
]

LOGICAL_BITS = 16
_MAX_HLC = 2**63 - 1
MAX_NODE_ID = 200
"""The longest node id: what a gossip hello carries (a peer refuses a longer one)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NODE_ID_RULE = (
    "node_id must be a non-empty string of at most 200 characters without control characters"
    " or lone surrogates"
)
"""What :func:`is_node_id` checks, as the start of an error message."""


def is_node_id(node_id: object) -> bool:
    """Whether ``node_id`` can name a node: a string of 1 to :data:`MAX_NODE_ID` characters
    without control characters (U+0000-U+001F, U+007F) or lone surrogates, as gossip
    carries it in the hello and in the stamps of deltas; a peer refuses any other."""
    return (
        type(node_id) is str
        and 0 < len(node_id) <= MAX_NODE_ID
        and _CONTROL.search(node_id) is None
        and is_text(node_id)
    )


def is_stamp_node(node: object) -> bool:
    """Whether ``node`` can be a stamp's node: a node id, or ``""`` (spec contents are
    stamped ``(1, "")``). A delta carrying any other is refused whole by every peer."""
    return node == "" or is_node_id(node)


class Stamp(NamedTuple):
    """When and where a value was written; the greater stamp is the newer write."""

    hlc: int
    node: str

    @property
    def wall_ms(self) -> int:
        """The physical part of the clock reading, in milliseconds since the epoch."""
        return self.hlc >> LOGICAL_BITS

    def to_json(self) -> list[int | str]:
        """The stamp as a JSON array ``[hlc, node]``."""
        return [self.hlc, self.node]

    @classmethod
    def from_json(cls, data: object) -> Stamp:
        """Parse ``[hlc, node]``; raises :class:`ValueError` on anything else."""
        if (
            isinstance(data, list | tuple)
            and len(data) == 2
            and type(data[0]) is int
            and 0 <= data[0] <= _MAX_HLC
            and isinstance(data[1], str)
        ):
            return cls(data[0], data[1])
        raise ValueError(f"not a stamp (expected [hlc, node]): {data!r}")


ZERO_STAMP = Stamp(0, "")
"""Older than everything: the stamp of a contact that has no content."""

INITIAL_STAMP = Stamp(1, "")
"""The stamp of a spec's initial content: newer than nothing, older than every real write."""


_new_stamp = tuple.__new__


class HybridLogicalClock:
    """A hybrid logical clock for one node: monotonic, close to wall time, causally ordered.

    ``tick()`` returns a stamp greater than every stamp this clock produced or observed.
    ``observe(stamp)`` folds in a stamp received from elsewhere. Remote readings more than
    ``max_drift_ms`` ahead of the local wall clock are refused, so one peer with a broken
    clock cannot drag every node's clock into the future.
    """

    def __init__(self, node: str, *, max_drift_ms: int = 60_000) -> None:
        if not is_node_id(node):  # its stamps name it: "" is the spec's, None no node at all
            raise ValueError(f"{NODE_ID_RULE}, not {node!r:.80}")
        if type(max_drift_ms) is not int or max_drift_ms < 0:
            raise ValueError(f"max_drift_ms must be a whole number >= 0, not {max_drift_ms!r}")
        self.node = node
        self.max_drift_ms = max_drift_ms
        self._last = 0
        self._lock = threading.Lock()

    @staticmethod
    def _physical() -> int:
        return time.time_ns() // 1_000_000 << LOGICAL_BITS

    def tick(self) -> Stamp:
        """A fresh stamp for a local write."""
        physical = time.time_ns() // 1_000_000 << LOGICAL_BITS
        lock = self._lock
        lock.acquire()  # not ``with``: this runs on every update, and the try is cheaper
        try:
            last = self._last + 1
            if physical > last:
                last = physical
            self._last = last
        finally:
            lock.release()
        return _new_stamp(Stamp, (last, self.node))  # Stamp(last, node), minus a Python call

    def ticks(self, n: int) -> list[Stamp]:
        """``n`` fresh stamps for local writes made together, oldest first: what ``n``
        calls of :meth:`tick` give when the wall clock does not move in between (one
        reading, consecutive logical counts), for one lock and one reading in all. A
        subclass that overrides :meth:`tick` gets it called ``n`` times instead.
        :class:`ValueError` unless ``n`` is a whole number >= 0."""
        if type(n) is not int or n < 0:
            raise ValueError(f"ticks takes a whole number >= 0, not {n!r}")
        if not n:
            return []
        if type(self).tick is not HybridLogicalClock.tick:
            return [self.tick() for _ in range(n)]
        physical = time.time_ns() // 1_000_000 << LOGICAL_BITS
        with self._lock:
            first = self._last + 1
            if physical > first:
                first = physical
            self._last = first + n - 1
        node = self.node
        return [_new_stamp(Stamp, (hlc, node)) for hlc in range(first, first + n)]

    def observe(self, stamp: Stamp) -> None:
        """Advance past a stamp seen from another node; ValueError if it is implausibly far
        ahead, or not a stamp (a float reading would make every later tick a float, which
        storage and peers refuse)."""
        try:
            hlc = stamp.hlc
        except AttributeError:
            hlc = None
        if type(hlc) is not int or hlc < 0:
            raise ValueError(
                f"not a stamp to observe (a Stamp with a clock reading in [0, 2**63)): "
                f"{stamp!r:.120}"
            )
        limit = self._physical() + (self.max_drift_ms << LOGICAL_BITS)
        if hlc > limit:
            raise ValueError(
                f"stamp from node {stamp.node!r} is {(stamp.hlc - limit) >> LOGICAL_BITS} ms "
                f"beyond the allowed clock drift of {self.max_drift_ms} ms"
            )
        with self._lock:
            self._last = max(self._last, hlc)

    def observe_all(self, stamps: Sequence[Stamp]) -> None:
        """:meth:`observe` the newest of ``stamps``; when it is too far ahead, observe them
        in order, so the ValueError names the first one that is."""
        try:
            self.observe(max(stamps))
        except ValueError:
            for stamp in stamps:
                self.observe(stamp)
            raise

    @property
    def last(self) -> int:
        """The greatest clock reading produced or observed so far."""
        return self._last
