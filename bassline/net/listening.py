"""A node's listeners: one that raises on contents a peer sent is logged, and the link
that brought them goes on (concepts.md, "Content is copied; every listener hears every
run"). A run made here still raises a listener's exception to the caller of its verb."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bassline.engine.results import PropagationResult
from bassline.net.replicator import _SOURCE

__all__ = ["guarded"]

log = logging.getLogger("bassline.net")


def guarded(
    listener: Callable[[PropagationResult], None],
) -> Callable[[PropagationResult], None]:
    """``listener``, except that what it raises on a peer's contents (while the replicator
    applies them) is logged on ``bassline.net`` instead of ending the link and the node."""

    def hear(result: PropagationResult) -> None:
        if _SOURCE.get() is None:  # a write made on this node: its caller hears it
            listener(result)
            return
        try:
            listener(result)
        except Exception:
            log.exception("listener %r raised on contents from a peer", listener)

    return hear
