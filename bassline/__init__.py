"""Bassline: a distributed propagation network.

Contacts hold partial information and merge what arrives; wires carry it both ways
until the network reaches a fixpoint; gadgets compute. See the ``docs/`` folder of the
source tree (``mkdocs serve``) for the tutorial and concepts.
"""

from importlib import metadata as _metadata

from bassline.clock import INITIAL_STAMP, ZERO_STAMP, HybridLogicalClock, Stamp
from bassline.content import ABSENT, Absent, Content
from bassline.engine import (
    Change,
    ChangeStream,
    ChangeStreamOverflow,
    ContactState,
    ContradictionRecord,
    GadgetFailure,
    Network,
    PropagationResult,
)
from bassline.errors import (
    BasslineError,
    ContentError,
    PeerError,
    PersistenceError,
    PluginNotFound,
    SpecError,
    SpecProblem,
    StorageUnavailable,
    UnknownContact,
)
from bassline.gadgets import Gadget, gadget, get_gadget, register_gadget
from bassline.lattices import (
    GrowMap,
    GrowSet,
    Interval,
    Lattice,
    ShrinkSet,
    get_lattice,
    register_lattice,
)
from bassline.spec import Bassline, load_spec, validate_spec


def _installed_version() -> str:
    """The version of the installed ``bassline`` distribution (pyproject.toml's, once)."""
    try:
        return _metadata.version("bassline")
    except _metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


__version__ = _installed_version()
"""This distribution's version, as installed (``importlib.metadata``), not written twice."""

__all__ = [
    "ABSENT",
    "INITIAL_STAMP",
    "ZERO_STAMP",
    "Absent",
    "Bassline",
    "BasslineError",
    "Change",
    "ChangeStream",
    "ChangeStreamOverflow",
    "ContactState",
    "Content",
    "ContentError",
    "ContradictionRecord",
    "Gadget",
    "GadgetFailure",
    "GrowMap",
    "GrowSet",
    "HybridLogicalClock",
    "Interval",
    "Lattice",
    "Network",
    "PeerError",
    "PersistenceError",
    "PluginNotFound",
    "PropagationResult",
    "ShrinkSet",
    "SpecError",
    "SpecProblem",
    "Stamp",
    "StorageUnavailable",
    "UnknownContact",
    "__version__",
    "gadget",
    "get_gadget",
    "get_lattice",
    "load_spec",
    "register_gadget",
    "register_lattice",
    "validate_spec",
]
