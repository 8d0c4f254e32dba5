"""The propagation engine."""

from bassline.engine.network import Network
from bassline.engine.results import (
    Change,
    ContactState,
    ContradictionRecord,
    GadgetFailure,
    PropagationResult,
)
from bassline.engine.stream import ChangeStream, ChangeStreamOverflow

__all__ = [
    "Change",
    "ChangeStream",
    "ChangeStreamOverflow",
    "ContactState",
    "ContradictionRecord",
    "GadgetFailure",
    "Network",
    "PropagationResult",
]
