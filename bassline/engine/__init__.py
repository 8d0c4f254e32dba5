"""The propagation engine."""

from bassline.engine.carried import (
    Carried,
    CarriedGadget,
    CarriedInput,
    CarriedWire,
    CarriedWrite,
)
from bassline.engine.explanation import (
    Cut,
    Explanation,
    Input,
    Justification,
    Kind,
    Premise,
    Refusal,
)
from bassline.engine.justify import CONTRIBUTION_LIMIT
from bassline.engine.network import Network
from bassline.engine.restoring import Restored
from bassline.engine.results import (
    Change,
    ContactState,
    ContradictionRecord,
    GadgetFailure,
    PropagationResult,
)
from bassline.engine.stream import ChangeStream, ChangeStreamOverflow

__all__ = [
    "CONTRIBUTION_LIMIT",
    "Carried",
    "CarriedGadget",
    "CarriedInput",
    "CarriedWire",
    "CarriedWrite",
    "Change",
    "ChangeStream",
    "ChangeStreamOverflow",
    "ContactState",
    "ContradictionRecord",
    "Cut",
    "Explanation",
    "GadgetFailure",
    "Input",
    "Justification",
    "Kind",
    "Network",
    "Premise",
    "PropagationResult",
    "Refusal",
    "Restored",
]
