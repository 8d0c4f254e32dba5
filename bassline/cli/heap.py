"""The garbage collector's settings for a long-running node process (``bassline start``).

A node builds its network once (the spec, the compiled wiring, the recovered contents:
hundreds of thousands of objects for a large spec) and then serves for hours. CPython's
full collections walk every tracked object each time, and ordinary traffic triggers
them: on ten nodes of 10,000 contacts each full collection took ~50 ms of CPU. Once the
node is serving, :func:`settle_heap` moves everything built so far out of the
collector's passes (:func:`gc.freeze`: those objects are never collected, which they
never would be anyway, as the node holds them until it stops) and lets the youngest
generation grow to :data:`YOUNG_THRESHOLD` objects before a pass, so that short-lived
frames and items die before the collector looks at them. Cycles are still collected.

This is for the CLI's own process only: the library never changes the collector's
settings of an application that imports it.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_heap"]

YOUNG_THRESHOLD = 10_000
"""Allocations of tracked objects (net of deallocations) between two collections of the
youngest generation (CPython's default is 700)."""


def settle_heap() -> int:
    """Freeze the objects built so far out of the collector's passes and raise the youngest
    generation's threshold; returns how many objects are frozen now. Older generations
    keep their thresholds."""
    gc.collect()  # what startup left as garbage is freed, not frozen
    gc.freeze()
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), older, oldest)
    return gc.get_freeze_count()
