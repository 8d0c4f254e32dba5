"""A node's listeners: what one raises on a run the node's own verbs did not start (a
peer's contents) is logged, and the link that brought them goes on (concepts.md, "Content
is copied; every listener hears every run"). A run a verb started (``update_contact``,
``update_many``, ``apply``) still raises it to the verb's caller."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bassline.engine.results import PropagationResult

__all__ = ["guarded", "made_here"]

log = logging.getLogger("bassline.net")

_HERE: ContextVar[bool] = ContextVar("bassline_node_verb", default=False)


@contextmanager
def made_here() -> Iterator[None]:
    """While a node's verb runs: its listeners' exceptions reach the verb's caller."""
    token = _HERE.set(True)
    try:
        yield
    finally:
        _HERE.reset(token)


def guarded(
    listener: Callable[[PropagationResult], None],
) -> Callable[[PropagationResult], None]:
    """``listener``, except that what it raises on a run no verb of the node started (a
    peer's contents) is logged on ``bassline.net`` instead of ending the link and the node."""

    def hear(result: PropagationResult) -> None:
        if _HERE.get():  # a write made on this node: its caller hears it
            listener(result)
            return
        try:
            listener(result)
        except Exception:
            log.exception("listener %r raised on a run no verb of this node started", listener)

    return hear
